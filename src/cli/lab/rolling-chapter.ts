// The workshop's rolling updates chapter, as its page reads: hasher scaled to 7, its image
// updated and the rolling update watched, the update policy changed (a no-op for the tasks),
// then `docker service rollback` of webui. Measured: each one's duration by the manager's
// clock, whether the web UI answered throughout, and whether the counter ever went down.
import { isRunning, serviceTasks, waitForClimbing, waitForTasks } from '../swarm.js';
import { Failure } from '../../lib/wait.js';
import { runningApp } from './app.js';
import { describeWatch, updateStatus, waitForUpdateState, webuiWatch } from './app-watch.js';
import type { LabOptions } from './options.js';
import { departs, detached, docker, run, type Action, type ChapterScript, type Step } from './script.js';
import { service, waitOptions, webuiUrl, type Probe } from './stack.js';

const hasher = service('hasher');
const webui = service('webui');
const runningIds = async (p: Probe, name: string) => new Set((await serviceTasks(p.docker, name, p.signal)).filter(isRunning).map((t) => t.id));

/** A service's update status and running tasks, read before the command that changes them. */
interface Snapshot {
  status: Awaited<ReturnType<typeof updateStatus>>;
  tasks: Set<string>;
}
/** The snapshot a step took before its command, for its checks after it: one per run of the chapter. */
interface Memory {
  before?: Snapshot;
}

const remember = (m: Memory, name: string): Action => ({
  do: 'measure',
  what: `${name}'s update status and running tasks before the command`,
  async measure(p) {
    m.before = { status: await updateStatus(p, name), tasks: await runningIds(p, name) };
    return {};
  },
});

const scaleHasherStep: Step = {
  title: 'Scale hasher to 7',
  actions: [run(departs(docker('service', 'scale', '--detach', `${hasher}=7`), detached)), { do: 'wait', for: '7 hasher tasks running', until: (p) => waitForTasks(p.docker, hasher, 7, waitOptions(p)).then(() => ({ figure: '7/7 hasher tasks running' })) }],
};

function rollHasherStep(o: LabOptions, m: Memory): Step {
  const v01 = `${o.registry}/hasher:v0.1`;
  const rollout = webuiWatch();
  return {
    title: 'Roll hasher to another image',
    actions: [
      run(
        departs(
          { args: ['build', '--target', 'hasher', ...(o.nodeImage ? ['--build-arg', `NODE_IMAGE=${o.nodeImage}`] : []), '--build-arg', 'VERSION=v0.1', '-t', v01, '.'], build: true },
          "not on the page: the workshop's v0.1 comes from an earlier build; here the same hasher labelled v0.1, an image other than the running one",
        ),
      ),
      run({ args: ['push', v01], build: true }),
      remember(m, hasher),
      rollout.start,
      run(departs(docker('service', 'update', '--detach', '--image', v01, hasher), detached)),
      rollout.stop(
        "every hasher task replaced one at a time (the manager's clock); the web UI answers throughout and the counter never goes down",
        async (p) => {
          const update = await waitForUpdateState(p, hasher, m.before!.status, ['completed']);
          const now = await waitForTasks(p.docker, hasher, 7, waitOptions(p));
          return { update, kept: now.filter((t) => m.before!.tasks.has(t.id)).length };
        },
        (seen, { update, kept }) => {
          const figure = `7 tasks replaced in ${update.seconds.toFixed(1)} s; ${describeWatch(seen)}`;
          if (kept) throw new Failure(`${figure}; ${kept} task(s) not replaced`);
          if (seen.failures || seen.decreases.length) throw new Failure(figure);
          return { figure, values: { seconds: update.seconds, answers: seen.answers, failures: seen.failures, hashesBefore: seen.first!.hashes, hashesAfter: seen.last!.hashes } };
        },
      ),
    ],
  };
}

const updatePolicyStep = (m: Memory): Step => ({
  title: 'Change the update policy',
  actions: [
    remember(m, hasher),
    run(departs(docker('service', 'update', '--detach', '--update-parallelism', '2', '--update-max-failure-ratio', '.25', hasher), detached)),
    {
      do: 'expect',
      that: 'parallelism 2, max failure ratio 0.25; no task replaced (a metadata-only change)',
      async check(p) {
        const policy = (await p.docker(['service', 'inspect', hasher, '--format', '{{.Spec.UpdateConfig.Parallelism}} {{.Spec.UpdateConfig.MaxFailureRatio}}'], { signal: p.signal })).trim();
        const after = await runningIds(p, hasher);
        const replaced = [...m.before!.tasks].filter((id) => !after.has(id)).length;
        const figure = `policy now parallelism ${policy.replace(' ', ', max failure ratio ')}; ${replaced} task(s) replaced`;
        if (policy !== '2 0.25' || replaced) throw new Failure(figure);
        return { figure };
      },
    },
  ],
});

function rollBackWebuiStep(o: LabOptions, m: Memory): Step {
  const rollback = webuiWatch();
  // One replica published in host mode: its port goes with its task, so a restart leaves a gap that no update policy closes.
  const oneHostPort = o.endpointMode === 'dnsrr';
  return {
    title: 'Roll back the web UI',
    actions: [
      remember(m, webui),
      run(departs(docker('service', 'update', '--detach', '--env-add', 'LAB=rollingupdates', webui), 'not on the page: webui has no previous definition to go back to (the update chapter did not run here)'), {
        when: { says: 'webui has no previous definition', holds: async (p) => !(await p.docker(['service', 'inspect', webui, '--format', '{{if .PreviousSpec}}yes{{end}}'], { signal: p.signal })).trim() && Boolean((p.figures.madePrevious = 'yes')) },
      }),
      {
        do: 'wait',
        for: 'that update, where there was one',
        async until(p) {
          if (p.figures.madePrevious !== 'yes') return;
          await waitForUpdateState(p, webui, m.before!.status, ['completed']);
          await waitForTasks(p.docker, webui, 1, waitOptions(p));
          m.before = { status: await updateStatus(p, webui), tasks: await runningIds(p, webui) };
        },
      },
      rollback.start,
      run(departs(docker('service', 'rollback', '--detach', webui), detached)),
      rollback.stop(
        "webui back to its previous definition (the workshop's is the v0.2 of its updatingservices chapter); the counter keeps climbing, the chart shows the gap while webui restarts",
        async (p) => {
          const done = await waitForUpdateState(p, webui, m.before!.status, ['rollback_completed']);
          await waitForTasks(p.docker, webui, 1, waitOptions(p));
          await waitForClimbing(await webuiUrl(p), waitOptions(p)); // an answer after the rollback, in the watch too
          return done;
        },
        (seen, done) => {
          const why = seen.failures && oneHostPort ? ' (expected: one webui replica on a host-mode port, --endpoint-mode dnsrr, is down while its task restarts; no update policy avoids that gap)' : '';
          const figure = `rolled back in ${done.seconds.toFixed(1)} s; ${describeWatch(seen)}${why}`;
          if (seen.decreases.length || !seen.last || seen.last.hashes <= seen.first!.hashes) throw new Failure(`${figure}; expected the counter to keep climbing`);
          return { figure, values: { seconds: done.seconds, answers: seen.answers, failures: seen.failures, longestGap: seen.longestGap } };
        },
      ),
    ],
  };
}

export function rollingScript(o: LabOptions): ChapterScript {
  const m: Memory = {};
  return {
    name: 'The rolling updates chapter',
    header: `The rolling updates chapter (stack dockercoins, endpoint mode ${o.endpointMode})`,
    keyStep: 'Roll hasher to another image',
    steps: [runningApp(o), scaleHasherStep, rollHasherStep(o, m), updatePolicyStep(m), rollBackWebuiStep(o, m)],
  };
}

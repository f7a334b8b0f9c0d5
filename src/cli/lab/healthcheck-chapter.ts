// The workshop's health-checks chapter, as its page reads: the stack deployed with hasher's
// `curl -f http://localhost/` check and an update policy that rolls back by itself
// (stacks/healthcheck.yml), then a broken hasher shipped as v0.3 (it listens on 81, not 80) and
// Swarm rolling it back. Measured: the time from the update to the end of the rollback, the
// speed before, during and after, and whether the counter ever went down.
import { measureRate, rateBetween, serviceTasks, waitForTasks } from '../swarm.js';
import { Failure } from '../../lib/wait.js';
import { runningApp } from './app.js';
import { describeWatch, updateStatus, waitForUpdateState, webuiWatch } from './app-watch.js';
import type { LabOptions } from './options.js';
import { departs, detached, docker, run, type Action, type ChapterScript, type Step } from './script.js';
import { deployStack, deployedTag, service, waitForStack, waitOptions, webuiUrl } from './stack.js';

const hasher = service('hasher');
const perSecond = (rate: number) => rate.toFixed(1);

/**
 * Measured right away: Swarm reports an update or a rollback completed only after its monitor
 * period with no task replaced, longer than the workers' back-off after a fault (1 s).
 */
const speed = (key: string, what: string): Action => ({
  do: 'measure',
  what: `hashes/s over --window ${what}`,
  async measure(p) {
    const rate = (await measureRate(await webuiUrl(p), p.options.windowSeconds, p)).rate;
    return { values: { [key]: rate } };
  },
});

const brokenImage = (o: LabOptions) => `${o.registry}/hasher:v0.3`;

/** hasher as it was before the last command that changes it: what the waits after it compare with. */
interface Before {
  hasher?: { status: Awaited<ReturnType<typeof updateStatus>>; template: string };
}

const template = (p: Parameters<typeof updateStatus>[0]) => p.docker(['service', 'inspect', hasher, '--format', '{{json .Spec.TaskTemplate}}'], { signal: p.signal });

const rememberAction = (before: Before): Action => ({
  do: 'measure',
  what: "hasher's update status and task template before the command; TAG: the one the stack runs",
  async measure(p) {
    before.hasher = { status: await updateStatus(p, hasher), template: await template(p) };
    p.vars.TAG = await deployedTag(p);
    return {};
  },
});

const deployStep = (o: LabOptions, remember: Action, before: Before): Step => ({
  title: 'Deploy the stack with health checks',
  actions: [
    remember,
    run(departs(deployStack(o, { flag: '-c', tag: '$TAG', extra: ['healthcheck.yml'] }), "healthcheck.yml: the workshop's dockercoins+healthcheck.yml as an override of our stack file; TAG: the one the stack runs")),
    {
      do: 'wait',
      for: "hasher's 7 tasks rolled to the new template; every service converged",
      async until(p) {
        // A new task template rolls through the 7 tasks; a change of replicas only does not.
        if ((await template(p)) !== before.hasher!.template) await waitForUpdateState(p, hasher, before.hasher!.status, ['completed']);
        await waitForTasks(p.docker, hasher, 7, waitOptions(p));
        await waitForStack(p);
      },
    },
    {
      do: 'expect',
      that: 'hasher checked with curl -f http://localhost/, update failure action rollback',
      async check(p) {
        const check = await p.docker(['service', 'inspect', hasher, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck.Test}} {{.Spec.UpdateConfig.FailureAction}}'], { signal: p.signal });
        if (!check.includes('curl -f http://localhost/') || !check.trim().endsWith('rollback')) throw new Failure(`hasher's check and failure action: ${check.trim()}`);
      },
    },
    speed('rateBefore', 'before the broken update'),
    { do: 'expect', that: '7/7 hasher tasks healthy', check: (p) => ({ figure: `7/7 hasher tasks healthy; ${perSecond(Number(p.figures.rateBefore))} hashes/s` }) },
  ],
});

function shipBrokenStep(o: LabOptions, remember: Action, before: Before): Step {
  const broken = brokenImage(o);
  const watch = webuiWatch();
  return {
    title: 'Ship a broken hasher (v0.3: listens on 81)',
    actions: [
      run(
        departs(
          { args: ['build', '--target', 'hasher', ...(o.nodeImage ? ['--build-arg', `NODE_IMAGE=${o.nodeImage}`] : []), '--build-arg', 'PORT=81', '--build-arg', 'VERSION=v0.3', '-t', broken, '.'], build: true },
          'the workshop edits hasher\'s source (sed -i "s/80/81/" hasher.rb) and builds with docker-compose, TAG=v0.3: our Dockerfile takes the port as a build argument',
        ),
      ),
      run({ args: ['push', broken], build: true }),
      remember,
      watch.start,
      run(departs(docker('service', 'update', '--detach', `--image=${broken}`, hasher), detached)),
      watch.stop(
        'the new tasks run but never answer on 80: their checks fail, the update fails and Swarm rolls hasher back to its previous image by itself; the counter never goes down',
        async (p) => {
          const rollback = await waitForUpdateState(p, hasher, before.hasher!.status, ['rollback_completed']);
          return { rollback, image: await p.docker(['service', 'inspect', hasher, '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'], { signal: p.signal }) };
        },
        (seen, { rollback, image }) => {
          const during = seen.first && seen.last ? rateBetween(seen.first, seen.last) : 0;
          const figure = `rolled back in ${rollback.seconds.toFixed(1)} s (${rollback.message}); ${perSecond(during)} hashes/s meanwhile; ${describeWatch(seen)}`;
          if (image.includes(':v0.3')) throw new Failure(`${figure}; hasher still runs ${image.trim()}`);
          if (seen.decreases.length || !seen.first) throw new Failure(figure);
          return { figure, values: { rollbackSeconds: rollback.seconds, rateDuring: during, answers: seen.answers, failures: seen.failures } };
        },
      ),
    ],
  };
}

const afterRollbackStep = (o: LabOptions): Step => ({
  title: 'After the rollback',
  actions: [
    { do: 'wait', for: '7 hasher tasks running', until: (p) => waitForTasks(p.docker, hasher, 7, waitOptions(p)).then(() => {}) },
    run({ args: ['service', 'ps', hasher], show: true }),
    speed('rateAfter', 'after the rollback'),
    {
      do: 'expect',
      that: 'hasher: 7 healthy tasks on the previous image, the v0.3 tasks Failed with "unhealthy container" in the ERROR column; the speed back to at least 70 % of before',
      async check(p) {
        const tasks = (await serviceTasks(p.docker, hasher, p.signal)).filter((t) => t.image.startsWith(brokenImage(o)));
        // Those that ended on their own: not Shutdown (stopped by Swarm when the rollback began),
        // nor still starting or running (a restart Swarm is stopping as the rollback ends).
        const ended = tasks.filter((t) => /^(Failed|Complete|Rejected|Orphaned)/.test(t.current));
        const unhealthy = ended.filter((t) => t.current.startsWith('Failed') && t.error.includes('unhealthy container'));
        const [rate, rateBefore, during] = [p.figures.rateAfter, p.figures.rateBefore, p.figures.rateDuring].map(Number) as [number, number, number];
        const figure = `${perSecond(rate)} hashes/s (before ${perSecond(rateBefore)}, during ${perSecond(during)}); ${unhealthy.length} of ${tasks.length} v0.3 tasks Failed as unhealthy`;
        if (!unhealthy.length || unhealthy.length < ended.length) throw new Failure(`${figure}: ${ended.map((t) => `${t.current} ${t.error}`.trim()).join('; ')}`);
        if (rate < 0.7 * rateBefore) throw new Failure(`${figure}; expected at least 70 % of before`);
        return { figure, values: { brokenTasks: tasks.length, unhealthyTasks: unhealthy.length } };
      },
    },
  ],
});

export function healthcheckScript(o: LabOptions): ChapterScript {
  const before: Before = {};
  const remember = rememberAction(before);
  return {
    name: 'The health checks chapter',
    header: `The health checks chapter (stack dockercoins, endpoint mode ${o.endpointMode})`,
    keyStep: 'Ship a broken hasher (v0.3: listens on 81)',
    steps: [runningApp(o), deployStep(o, remember, before), shipBrokenStep(o, remember, before), afterRollbackStep(o)],
  };
}

// The workshop's stateful services chapter, applied to the app's own Redis (the workshop makes
// a separate `stateful` Redis with a key `foo`; ours holds the coin and hash counts): pinned to
// its node, its data on a named volume with Redis's append-only file, then the counts survive
// `docker service update --force` and a `docker kill` of its container. Measured: the counts
// before and after each, and what was lost, in units and in seconds of work.
import { isRunning, measureRate, readCounters, serviceTasks, waitForTasks } from '../swarm.js';
import { sleep } from '../../lib/sleep.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import { runningApp } from './app.js';
import { describeWatch, hashesLost, webuiWatch, type WebuiWatch } from './app-watch.js';
import type { LabOptions } from './options.js';
import { departs, detached, docker, run, type Action, type ChapterScript, type Command, type Play, type Reading, type Step } from './script.js';
import { service, stack, waitOptions, webuiUrl } from './stack.js';

const redis = service('redis');
const volume = 'dockercoins-redis';
const pause = (what: string, ms: number): Action => ({ do: 'wait', for: `${ms / 1000} s: ${what}`, until: (p) => sleep(ms, p.signal) });

/** The figures of a watch, as describeWatch prints them: the fall where the counter went down, else first and last. */
function counts(w: WebuiWatch): Record<string, number> {
  const fall = w.decreases[0];
  return fall ? { hashesFellFrom: fall.from.hashes, hashesFellTo: fall.to.hashes } : { hashesBefore: w.first?.hashes ?? -1, hashesAfter: w.last?.hashes ?? -1 };
}

/**
 * `change` run while the web UI is watched every `everyMs`: readings before it, then until a new
 * redis task runs and the web UI reads it, and readings after it.
 */
function across(change: Command, everyMs: number, read: (seen: WebuiWatch, found: { lost: number; seconds: number }) => Reading, stays?: (p: Play) => boolean): Action[] {
  const watch = webuiWatch(everyMs);
  let before = new Set<string>();
  let started = 0;
  return [
    {
      do: 'measure',
      what: "redis's running task before the change",
      async measure(p) {
        before = new Set((await serviceTasks(p.docker, redis, p.signal)).filter(isRunning).map((t) => t.id));
        return {};
      },
    },
    watch.start,
    pause('readings before the change', 1500),
    { do: 'measure', what: 'the time of the change', measure: async () => ((started = Date.now()), {}) },
    run(change),
    watch.stop(
      `until a new redis task runs and the web UI reads it, then 1.5 s more${stays ? " (where Docker keeps redis's task: 5 s, time for a redeploy if there were one)" : ''}`,
      async (p) => {
        if (stays?.(p)) return sleep(5000, p.signal).then(() => 0);
        await waitUntil('a new redis task', async () => ((await serviceTasks(p.docker, redis, p.signal)).some((t) => isRunning(t) && !before.has(t.id)) ? true : undefined), waitOptions(p));
        const url = await webuiUrl(p);
        await waitUntil(`${url}/json to answer again`, () => readCounters(url, p.signal), waitOptions(p));
        const took = (Date.now() - started) / 1000;
        await sleep(1500, p.signal);
        return took;
      },
      (seen, seconds) => read(seen, { lost: hashesLost(seen), seconds }),
    ),
  ];
}

function pinRedisStep(o: LabOptions): Step {
  const pin = departs(docker('service', 'update', '--detach', redis, '--constraint-add', 'node.hostname==$HOSTNAME'), "the app's own Redis (dockercoins_redis), not a separate `stateful` one with a key foo", detached);
  return {
    title: 'Pin redis to its node',
    actions: [
      {
        do: 'measure',
        what: 'HOSTNAME: the node the docker CLI talks to; where redis runs now; hashes/s over --window',
        async measure(p) {
          const hostname = (p.vars.HOSTNAME = (await p.docker(['info', '--format', '{{.Name}}'], { signal: p.signal })).trim());
          const placement = await p.docker(['service', 'inspect', redis, '--format', '{{json .Spec.TaskTemplate.Placement}}'], { signal: p.signal });
          if (placement.includes(`node.hostname==${hostname}`))
            throw new Failure(`${redis} is already pinned to ${hostname} (an earlier run of this chapter); deploy the stack again to start over: docker stack deploy -c stacks/dockercoins.yml ${stack}`);
          const { rate } = await measureRate(await webuiUrl(p), o.windowSeconds, p);
          const [was] = await waitForTasks(p.docker, redis, 1, waitOptions(p));
          return { values: { rate, redisWasOn: was!.node } };
        },
      },
      ...across(pin, 500, (seen) => ({ figure: describeWatch(seen), values: counts(seen) }), (p) => p.figures.redisWasOn === p.vars.HOSTNAME),
      run({ args: ['service', 'ps', redis], show: true }),
      {
        do: 'expect',
        that:
          "redis on this node ($HOSTNAME). Where it ran there already, Docker keeps the task (the page's redeploy and \"it's gone!\" are older engines'): the counts carry on; where it ran elsewhere, a new container here and the counts start over",
        async check(p) {
          const [task] = await waitForTasks(p.docker, redis, 1, waitOptions(p));
          if (task!.node !== p.vars.HOSTNAME) throw new Failure(`redis runs on ${task!.node}; expected ${p.vars.HOSTNAME}`);
          const moved = p.figures.redisWasOn !== task!.node;
          return { figure: moved ? `redis moved from ${p.figures.redisWasOn} to ${task!.node} (a new container: the counts start over, as on the page)` : `redis stays on ${task!.node}` };
        },
      },
    ],
  };
}

function dataOnVolumeStep(): Step {
  const startsOver = "expected: the new container's Redis starts empty, the counts were in the old container";
  return {
    title: 'Its data on a volume, append-only',
    actions: [
      {
        do: 'measure',
        what: `whether a ${volume} volume is left by an earlier run (its counts would carry on)`,
        async measure(p) {
          const earlier = (await p.docker(['volume', 'ls', '-q'], { signal: p.signal })).split('\n').includes(volume);
          return { values: { earlierVolume: earlier ? 'yes' : 'no' } };
        },
      },
      ...across(
        departs(docker('service', 'update', '--detach', redis, '--mount-add', `type=volume,source=${volume},target=/data`, '--args', 'redis-server --appendonly yes'), "--args: Redis's append-only file, not in the workshop, whose Redis writes its data only when stopped", detached),
        500,
        (seen) => ({ figure: `${describeWatch(seen)}${seen.decreases.length ? ` (${startsOver})` : ''}`, values: { ...counts(seen), startedOver: seen.decreases.length ? 'yes' : 'no' } }),
      ),
      run({ args: ['volume', 'ls'], show: true }, { keep: 'volumes' }),
      {
        do: 'expect',
        that: `a ${volume} volume on this node, mounted on /data; Redis writes every change to its append-only file and fsyncs it every second. This update replaces the container: the counts start over, once more (the page's "the key is blank again")`,
        async check(p) {
          if (p.figures.earlierVolume === 'no' && p.figures.startedOver !== 'yes') throw new Failure(`expected the counts to start over (they were in the old container)`);
          if (!p.out.volumes!.split('\n').some((l) => l.trim().endsWith(volume))) throw new Failure(`docker volume ls has no ${volume}`);
          const args = await p.docker(['service', 'inspect', redis, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Args}}'], { signal: p.signal });
          return { figure: `${volume} on ${p.vars.HOSTNAME}${p.figures.earlierVolume === 'yes' ? ` (left by an earlier run: its counts; dockercoins lab clean removes it)` : ''}; redis runs ${args.trim()}` };
        },
      },
    ],
  };
}

// Functions, not constants: across() keeps the state of one run of the chapter.
const surviveUpdateStep = (): Step => ({
  title: 'The counts survive an update',
  actions: across(departs(docker('service', 'update', '--detach', '--force', redis), '--force where the workshop changes --limit-memory: any update replaces the task', detached), 250, (seen, { lost }) => {
    const figure = `${describeWatch(seen)}; ${lost} hashes lost`;
    if (lost) throw new Failure(figure);
    return { figure, values: { lost, ...counts(seen) } };
  }),
});

const surviveKillStep = (): Step => ({
  title: 'The counts survive a kill',
  actions: [
    run({ args: ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${redis}`], assign: 'CID' }),
    ...across(departs(docker('kill', '$CID'), 'not in the workshop: a crash, where an update stops Redis cleanly'), 200, (seen, { lost, seconds }) => ({ figure: describeWatch(seen), values: { lost, seconds, ...counts(seen) } })),
    {
      do: 'expect',
      that: 'Swarm starts a new redis task on the same node and volume; at most the last second of work is lost (appendfsync everysec)',
      check(p) {
        const [lost, rate, seconds] = [p.figures.lost, p.figures.rate, p.figures.seconds].map(Number) as [number, number, number];
        const figure = `redis back within ${seconds.toFixed(1)} s; ${lost} hashes lost (${(lost / rate).toFixed(2)} s of work at ${rate.toFixed(1)} hashes/s)`;
        if (lost > rate) throw new Failure(`${figure}; expected at most 1 s of work`);
        return { figure, values: { lostSeconds: lost / rate } };
      },
    },
  ],
});

export function statefulScript(o: LabOptions): ChapterScript {
  return {
    name: 'The stateful services chapter',
    header: `The stateful services chapter, on the app's Redis (stack ${stack}, endpoint mode ${o.endpointMode})`,
    keyStep: 'The counts survive a kill',
    steps: [runningApp(o), pinRedisStep(o), dataOnVolumeStep(), surviveUpdateStep(), surviveKillStep()],
  };
}

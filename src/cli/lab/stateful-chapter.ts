// The workshop's stateful services chapter, applied to the app's own Redis (the workshop makes
// a separate `stateful` Redis with a key `foo`; ours holds the coin and hash counts): pinned to
// its node (a redeploy: the counts start over, the page's "it's gone!"), its data on a named
// volume with Redis's append-only file, then the counts survive `docker service update --force`
// and a `docker kill` of its container. Measured: the counts before and after each, and what was
// lost, in units and in seconds of work.
import { isRunning, measureRate, readCounters, serviceTasks, waitForTasks } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { Chapter } from './old-runner.js';
import { appChapter, departs, detached, docker, withVars, runningAppStep, service, stack, waitOptions, webuiUrl, type AppLabOptions, type AppLabStep, type AppStepContext } from './app-state.js';
import { describeWatch, hashesLost, watching, type WebuiWatch } from './app-watch.js';
import { sleep } from '../../lib/sleep.js';

const redis = service('redis');
const volume = 'dockercoins-redis';

/** Watches the counts across `change`, until a new redis task runs and the web UI reads it. */
async function across(ctx: AppStepContext, change: () => Promise<unknown>, everyMs: number): Promise<{ seen: WebuiWatch; lost: number; seconds: number }> {
  const before = new Set((await serviceTasks(ctx.docker, redis, ctx.signal)).filter(isRunning).map((t) => t.id));
  const { result: seconds, seen } = await watching(
    ctx,
    async () => {
      await sleep(1500, ctx.signal); // readings before the change
      const started = Date.now();
      await change();
      await waitUntil('a new redis task', async () => ((await serviceTasks(ctx.docker, redis, ctx.signal)).some((t) => isRunning(t) && !before.has(t.id)) ? true : undefined), waitOptions(ctx));
      const url = await webuiUrl(ctx);
      await waitUntil(`${url}/json to answer again`, () => readCounters(url, ctx.signal), waitOptions(ctx));
      const took = (Date.now() - started) / 1000;
      await sleep(1500, ctx.signal); // and readings after it
      return took;
    },
    everyMs,
  );
  return { seen, lost: hashesLost(seen), seconds };
}

export function statefulSteps(o: AppLabOptions): AppLabStep[] {
  let hostname = '';
  return [
    runningAppStep(o),
    {
      title: 'Pin redis to its node',
      commands: [
        departs(docker('service', 'update', '--detach', redis, '--constraint-add', 'node.hostname==$HOSTNAME'), "the app's own Redis (dockercoins_redis), not a separate `stateful` one with a key foo", detached),
        { args: ['service', 'ps', redis], show: true },
      ],
      expect:
        "redis on this node ($HOSTNAME, the one the docker CLI talks to). Where it ran there already, Docker keeps the task (the page's redeploy and \"it's gone!\" are older engines'): the counts carry on; where it ran elsewhere, a new container here and the counts start over",
      async run(ctx) {
        hostname = (await ctx.docker(['info', '--format', '{{.Name}}'], { signal: ctx.signal })).trim();
        const constraints = await ctx.docker(['service', 'inspect', redis, '--format', '{{json .Spec.TaskTemplate.Placement}}'], { signal: ctx.signal });
        if (constraints.includes(`node.hostname==${hostname}`))
          throw new Failure(`${redis} is already pinned to ${hostname} (an earlier run of this chapter); deploy the stack again to start over: docker stack deploy -c stacks/dockercoins.yml ${stack}`);
        const { rate } = await measureRate(await webuiUrl(ctx), o.windowSeconds, ctx);
        ctx.state.figures.rate = rate;
        const [was] = await waitForTasks(ctx.docker, redis, 1, waitOptions(ctx));
        const pin = () => ctx.run(withVars(this.commands[0]!, { HOSTNAME: hostname }));
        let figure: string;
        if (was!.node === hostname) {
          const { seen } = await watching(ctx, async () => {
            await pin();
            await sleep(5000, ctx.signal); // time for a redeploy, if there were one
          });
          const [now] = await waitForTasks(ctx.docker, redis, 1, waitOptions(ctx));
          figure = `redis stays on ${hostname}, ${now!.id === was!.id ? 'same task: no redeploy' : 'redeployed'}; ${describeWatch(seen)}`;
        } else {
          const { seen } = await across(ctx, pin, 500);
          figure = `redis moved from ${was!.node} to ${hostname}; ${describeWatch(seen)}`;
        }
        await ctx.run(this.commands[1]!);
        const [task] = await waitForTasks(ctx.docker, redis, 1, waitOptions(ctx));
        if (task!.node !== hostname) throw new Failure(`${figure}; expected ${hostname}`);
        return { figure, values: { rate } };
      },
    },
    {
      title: 'Its data on a volume, append-only',
      commands: [
        departs(
          docker('service', 'update', '--detach', redis, '--mount-add', `type=volume,source=${volume},target=/data`, '--args', 'redis-server --appendonly yes'),
          "--args: Redis's append-only file, not in the workshop, whose Redis writes its data only when stopped",
          detached,
        ),
        { args: ['volume', 'ls'], show: true },
      ],
      expect: `a ${volume} volume on this node, mounted on /data; Redis writes every change to its append-only file and fsyncs it every second. This update replaces the container: the counts start over, once more (the page's "the key is blank again")`,
      async run(ctx) {
        // A volume left by an earlier run (on this node) holds that run's counts: nothing starts over then.
        const earlier = (await ctx.docker(['volume', 'ls', '-q'], { signal: ctx.signal })).split('\n').includes(volume);
        const { seen } = await across(ctx, () => ctx.run(this.commands[0]!), 500);
        if (!earlier && !seen.decreases.length) throw new Failure(`${describeWatch(seen)}; expected the counts to start over (they were in the old container)`);
        const volumes = await ctx.run(this.commands[1]!);
        if (!volumes.split('\n').some((l) => l.trim().endsWith(volume))) throw new Failure(`docker volume ls has no ${volume}`);
        const args = await ctx.docker(['service', 'inspect', redis, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Args}}'], { signal: ctx.signal });
        const left = earlier ? ` (${volume} was left by an earlier run: its counts)` : '';
        return { figure: `${volume} on ${hostname}${left}; redis runs ${args.trim()}; ${describeWatch(seen)}`, values: counts(seen) };
      },
    },
    {
      title: 'The counts survive an update',
      commands: [departs(docker('service', 'update', '--detach', '--force', redis), '--force where the workshop changes --limit-memory: any update replaces the task', detached)],
      expect: 'a new redis task, same volume: the counts carry on from where they were (Redis writes its file when stopped)',
      async run(ctx) {
        const { seen, lost } = await across(ctx, () => ctx.run(this.commands[0]!), 250);
        const figure = `${describeWatch(seen)}; ${lost} hashes lost`;
        if (lost) throw new Failure(figure);
        return { figure, values: { lost, ...counts(seen) } };
      },
    },
    {
      title: 'The counts survive a kill',
      commands: [
        { args: ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${redis}`], assign: 'CID' },
        departs(docker('kill', '$CID'), 'not in the workshop: a crash, where an update stops Redis cleanly'),
      ],
      expect: 'Swarm starts a new redis task on the same node and volume; at most the last second of work is lost (appendfsync everysec)',
      async run(ctx) {
        const cid = (await ctx.run(this.commands[0]!)).trim();
        if (!/^[0-9a-f]{12}$/.test(cid)) throw new Failure(`docker ps found no single redis container: "${cid}"`);
        const { seen, lost, seconds } = await across(ctx, () => ctx.run(withVars(this.commands[1]!, { CID: cid })), 200);
        const rate = ctx.state.figures.rate!;
        const figure = `redis back within ${seconds.toFixed(1)} s; ${describeWatch(seen)}; ${lost} hashes lost (${(lost / rate).toFixed(2)} s of work at ${rate.toFixed(1)} hashes/s)`;
        if (lost > rate) throw new Failure(`${figure}; expected at most 1 s of work`);
        return { figure, values: { lost, lostSeconds: lost / rate, ...counts(seen) } };
      },
    },
  ];
}

const counts = (w: WebuiWatch) => ({ hashesBefore: w.first?.hashes ?? -1, hashesAfter: w.last?.hashes ?? -1, coinsBefore: w.first?.coins ?? -1, coinsAfter: w.last?.coins ?? -1 });

export const statefulChapter = (o: AppLabOptions): Chapter => appChapter('The stateful services chapter', statefulSteps(o), o, ", on the app's Redis");

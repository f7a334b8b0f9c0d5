// The workshop's health-checks chapter, as its page reads: the stack deployed with hasher's
// `curl -f http://localhost/` check and an update policy that rolls back by itself
// (stacks/healthcheck.yml), then a broken hasher shipped as v0.3 (it listens on 81, not 80) and
// Swarm rolling it back. Measured: the time from the update to the end of the rollback, the
// speed before, during and after, and whether the counter ever went down.
import { measureRate, readCounters, rateBetween, serviceTasks, waitForTasks } from '../swarm.js';
import { Failure } from '../../lib/wait.js';
import type { Chapter } from './old-runner.js';
import {
  appChapter,
  deployStack,
  deployedTag,
  departs,
  detached,
  docker,
  runningAppStep,
  service,
  stack,
  waitForStack,
  waitOptions,
  webuiUrl,
  type AppLabOptions,
  type AppLabStep,
  type AppStepContext,
} from './app-state.js';
import { describeWatch, updateStatus, waitForUpdateState, watching } from './app-watch.js';

const hasher = service('hasher');
const perSecond = (rate: number) => rate.toFixed(1);

/**
 * Measured right away: Swarm reports an update or a rollback completed only after its monitor
 * period (5 s) with no task replaced, longer than the workers' back-off after a fault (1 s).
 */
async function speed(ctx: AppStepContext): Promise<number> {
  return (await measureRate(await webuiUrl(ctx), ctx.options.windowSeconds, ctx)).rate;
}

export function healthcheckSteps(o: AppLabOptions): AppLabStep[] {
  const broken = `${o.registry}/hasher:v0.3`;
  return [
    runningAppStep(o),
    {
      title: 'Deploy the stack with health checks',
      commands: [departs(deployStack(o, 'stacks/healthcheck.yml'), "stacks/healthcheck.yml: the workshop's dockercoins+healthcheck.yml as an override of our stack file, with a check every 1 s and a start period of 1 s; TAG: the one the stack runs")],
      expect: 'hasher: 7 tasks, each checked with curl -f http://localhost/, update failure action rollback; every service converged',
      async run(ctx) {
        const template = () => ctx.docker(['service', 'inspect', hasher, '--format', '{{json .Spec.TaskTemplate}}'], { signal: ctx.signal });
        const [before, was] = [await updateStatus(ctx, hasher), await template()];
        const deploy = this.commands[0]!;
        await ctx.run({ ...deploy, env: { ...deploy.env, TAG: await deployedTag(ctx) } });
        // A new task template rolls through the 7 tasks; a change of replicas only does not.
        if ((await template()) !== was) await waitForUpdateState(ctx, hasher, before, ['completed']);
        await waitForTasks(ctx.docker, hasher, 7, waitOptions(ctx));
        await waitForStack(ctx);
        const check = await ctx.docker(['service', 'inspect', hasher, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck.Test}} {{.Spec.UpdateConfig.FailureAction}}'], { signal: ctx.signal });
        if (!check.includes('curl -f http://localhost/') || !check.trim().endsWith('rollback')) throw new Failure(`hasher's check and failure action: ${check.trim()}`);
        const rate = await speed(ctx);
        ctx.state.figures.before = rate;
        return { figure: `7/7 hasher tasks healthy; ${perSecond(rate)} hashes/s`, values: { rateBefore: rate } };
      },
    },
    {
      title: 'Ship a broken hasher (v0.3: listens on 81)',
      commands: [
        departs(
          { args: ['build', '--target', 'hasher', ...(o.nodeImage ? ['--build-arg', `NODE_IMAGE=${o.nodeImage}`] : []), '--build-arg', 'PORT=81', '--build-arg', 'VERSION=v0.3', '-t', broken, '.'], build: true },
          'the workshop edits hasher\'s source (sed -i "s/80/81/" hasher.rb) and builds with docker-compose, TAG=v0.3: our Dockerfile takes the port as a build argument',
        ),
        { args: ['push', broken], build: true },
        departs(docker('service', 'update', '--detach', `--image=${broken}`, hasher), detached),
      ],
      expect: 'the new tasks run but never answer on 80: their checks fail, the update fails and Swarm rolls hasher back to its previous image by itself; the counter never goes down',
      async run(ctx) {
        for (const c of this.commands.slice(0, 2)) await ctx.run(c);
        const before = await updateStatus(ctx, hasher);
        const { result: rollback, seen } = await watching(ctx, async () => {
          await ctx.run(this.commands[2]!);
          return waitForUpdateState(ctx, hasher, before, ['rollback_completed']);
        });
        const image = await ctx.docker(['service', 'inspect', hasher, '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'], { signal: ctx.signal });
        const during = seen.first && seen.last ? rateBetween(seen.first, seen.last) : 0;
        const figure = `rolled back in ${rollback.seconds.toFixed(1)} s (${rollback.message}); ${perSecond(during)} hashes/s meanwhile; ${describeWatch(seen)}`;
        if (image.includes(':v0.3')) throw new Failure(`${figure}; hasher still runs ${image.trim()}`);
        if (seen.decreases.length || !seen.first) throw new Failure(figure);
        ctx.state.figures.during = during;
        return { figure, values: { rollbackSeconds: rollback.seconds, rateDuring: during, answers: seen.answers, failures: seen.failures } };
      },
    },
    {
      title: 'After the rollback',
      commands: [{ args: ['service', 'ps', hasher], show: true }],
      expect: 'hasher: 7 healthy tasks on the previous image, the v0.3 tasks Failed with "unhealthy container" in the ERROR column; the speed back to what it was before',
      async run(ctx) {
        await waitForTasks(ctx.docker, hasher, 7, waitOptions(ctx));
        await ctx.run(this.commands[0]!);
        const broken = (await serviceTasks(ctx.docker, hasher, ctx.signal)).filter((t) => t.image.startsWith(`${o.registry}/hasher:v0.3`));
        // Those that ended on their own: not Shutdown (stopped by Swarm when the rollback began),
        // nor still starting or running (a restart Swarm is stopping as the rollback ends).
        const ended = broken.filter((t) => /^(Failed|Complete|Rejected|Orphaned)/.test(t.current));
        const unhealthy = ended.filter((t) => t.current.startsWith('Failed') && t.error.includes('unhealthy container'));
        const rate = await speed(ctx);
        const { before, during } = ctx.state.figures;
        const figure = `${perSecond(rate)} hashes/s (before ${perSecond(before!)}, during ${perSecond(during!)}); ${unhealthy.length} of ${broken.length} v0.3 tasks Failed as unhealthy`;
        if (!unhealthy.length || unhealthy.length < ended.length) throw new Failure(`${figure}: ${ended.map((t) => `${t.current} ${t.error}`.trim()).join('; ')}`);
        const counters = await readCounters(await webuiUrl(ctx), ctx.signal);
        if (rate < 0.7 * before!) throw new Failure(`${figure}; expected at least 70 % of before`);
        return { figure, values: { rateAfter: rate, hashes: counters.hashes, brokenTasks: broken.length, unhealthyTasks: unhealthy.length, stack } };
      },
    },
  ];
}

export const healthcheckChapter = (o: AppLabOptions): Chapter => appChapter('The health checks chapter', healthcheckSteps(o), o);

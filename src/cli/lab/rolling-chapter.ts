// The workshop's rolling updates chapter, as its page reads: hasher scaled to 7, its image
// updated and the rolling update watched, the update policy changed (a no-op for the tasks),
// then `docker service rollback` of webui. Measured: each one's duration by the manager's
// clock, whether the web UI answered throughout, and whether the counter ever went down.
import { isRunning, serviceTasks, waitForClimbing, waitForTasks } from '../swarm.js';
import { Failure } from '../../lib/wait.js';
import type { Chapter } from './old-runner.js';
import { appChapter, departs, detached, docker, runningAppStep, service, waitOptions, webuiUrl, type AppLabOptions, type AppLabStep, type AppStepContext } from './app-state.js';
import { describeWatch, updateStatus, waitForUpdateState, watching } from './app-watch.js';

const hasher = service('hasher');
const webui = service('webui');
const runningIds = async (ctx: AppStepContext, name: string) => new Set((await serviceTasks(ctx.docker, name, ctx.signal)).filter(isRunning).map((t) => t.id));

export function rollingSteps(o: AppLabOptions): AppLabStep[] {
  const v01 = `${o.registry}/hasher:v0.1`;
  return [
    runningAppStep(o),
    {
      title: 'Scale hasher to 7',
      commands: [
        departs(docker('service', 'scale', '--detach', `${hasher}=7`), detached),
      ],
      expect: '7 hasher tasks running',
      async run(ctx) {
        await ctx.run(this.commands[0]!);
        await waitForTasks(ctx.docker, hasher, 7, waitOptions(ctx));
        return { figure: '7/7 hasher tasks running' };
      },
    },
    {
      title: 'Roll hasher to another image',
      commands: [
        departs(
          { args: ['build', '--target', 'hasher', ...(o.nodeImage ? ['--build-arg', `NODE_IMAGE=${o.nodeImage}`] : []), '--build-arg', 'VERSION=v0.1', '-t', v01, '.'], build: true },
          "not on the page: the workshop's v0.1 comes from an earlier build; here the same hasher labelled v0.1, an image other than the running one",
        ),
        { args: ['push', v01], build: true },
        departs(docker('service', 'update', '--detach', '--image', v01, hasher), detached),
      ],
      expect: 'every hasher task replaced one at a time; the web UI answers throughout and the counter never goes down',
      async run(ctx) {
        for (const c of this.commands.slice(0, 2)) await ctx.run(c);
        const before = await updateStatus(ctx, hasher);
        const oldTasks = await runningIds(ctx, hasher);
        const { result: update, seen } = await watching(ctx, async () => {
          await ctx.run(this.commands[2]!);
          return waitForUpdateState(ctx, hasher, before, ['completed']);
        });
        const now = await waitForTasks(ctx.docker, hasher, 7, waitOptions(ctx));
        const kept = now.filter((t) => oldTasks.has(t.id)).length;
        const figure = `7 tasks replaced in ${update.seconds.toFixed(1)} s; ${describeWatch(seen)}`;
        if (kept) throw new Failure(`${figure}; ${kept} task(s) not replaced`);
        if (seen.failures || seen.decreases.length) throw new Failure(figure);
        return { figure, values: { seconds: update.seconds, answers: seen.answers, failures: seen.failures, hashesBefore: seen.first!.hashes, hashesAfter: seen.last!.hashes } };
      },
    },
    {
      title: 'Change the update policy',
      commands: [departs(docker('service', 'update', '--detach', '--update-parallelism', '2', '--update-max-failure-ratio', '.25', hasher), detached)],
      expect: 'parallelism 2, max failure ratio 0.25; no task replaced (a metadata-only change)',
      async run(ctx) {
        const before = await runningIds(ctx, hasher);
        await ctx.run(this.commands[0]!);
        const policy = (await ctx.docker(['service', 'inspect', hasher, '--format', '{{.Spec.UpdateConfig.Parallelism}} {{.Spec.UpdateConfig.MaxFailureRatio}}'], { signal: ctx.signal })).trim();
        const after = await runningIds(ctx, hasher);
        const replaced = [...before].filter((id) => !after.has(id)).length;
        const figure = `policy now ${policy.replace(' ', ', max failure ratio ').replace(/^/, 'parallelism ')}; ${replaced} task(s) replaced`;
        if (policy !== '2 0.25' || replaced) throw new Failure(figure);
        return { figure };
      },
    },
    {
      title: 'Roll back the web UI',
      commands: [departs(docker('service', 'rollback', '--detach', webui), detached)],
      expect:
        "webui back to its previous definition (the workshop's is the v0.2 of its updatingservices chapter; where webui has none, the lab makes one first: an environment variable added); the counter keeps climbing, the chart shows the gap while webui restarts",
      async run(ctx) {
        const previous = await ctx.docker(['service', 'inspect', webui, '--format', '{{if .PreviousSpec}}yes{{end}}'], { signal: ctx.signal });
        if (!previous.trim()) {
          const made = await updateStatus(ctx, webui);
          await ctx.run(departs(docker('service', 'update', '--detach', '--env-add', 'LAB=rollingupdates', webui), 'not on the page: webui has no previous definition to go back to (the updatingservices chapter did not run here)'));
          await waitForUpdateState(ctx, webui, made, ['completed']);
          await waitForTasks(ctx.docker, webui, 1, waitOptions(ctx));
        }
        const before = await updateStatus(ctx, webui);
        const { result: rollback, seen } = await watching(ctx, async () => {
          await ctx.run(this.commands[0]!);
          const done = await waitForUpdateState(ctx, webui, before, ['rollback_completed']);
          await waitForTasks(ctx.docker, webui, 1, waitOptions(ctx));
          await waitForClimbing(await webuiUrl(ctx), waitOptions(ctx)); // an answer after the rollback, in the watch too
          return done;
        });
        const figure = `rolled back in ${rollback.seconds.toFixed(1)} s; ${describeWatch(seen)}`;
        if (seen.decreases.length || !seen.last || seen.last.hashes <= seen.first!.hashes) throw new Failure(`${figure}; expected the counter to keep climbing`);
        return { figure, values: { seconds: rollback.seconds, answers: seen.answers, failures: seen.failures, longestGap: seen.longestGap } };
      },
    },
  ];
}

export const rollingChapter = (o: AppLabOptions): Chapter => appChapter('The rolling updates chapter', rollingSteps(o), o);

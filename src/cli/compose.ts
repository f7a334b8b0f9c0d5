// The Compose stack of docker-compose.yml under a project name of its own, on host ports the
// engine picks (several stacks may start at once: a port chosen here could be taken before `up`),
// and what the engine says about its containers (inspect, stats, events). Used by the Compose
// end-to-end tests and by bench/images.ts; beside swarm.ts, the docker CLI helpers of the lab.
// Images come from NODE_IMAGE and REDIS_IMAGE when set.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { dockerCli, followDocker } from './swarm.js';
import { repositoryRoot as root } from '../lib/paths.js';

export const builtServices = ['rng', 'hasher', 'worker', 'webui'] as const;

/** `docker compose` (v2) where the plugin is installed, else `docker-compose` (v1). */
async function composeCommand(): Promise<[string, ...string[]]> {
  const v2 = await execa('docker', ['compose', 'version'], { reject: false });
  return v2.exitCode === 0 ? ['docker', 'compose'] : ['docker-compose'];
}

export interface ComposeStack {
  project: string;
  /** http://127.0.0.1:<port> of the web UI, once the stack is up. */
  readonly webui: string;
  /** Runs `docker-compose -p <project> ...args` and resolves with its stdout. */
  compose(...args: string[]): Promise<string>;
  /** Ids of the project's running containers, of one service or all. */
  containers(service?: string): Promise<string[]>;
  /** Removes the containers, network and volumes (not the images: others use them). */
  down(): Promise<void>;
}

/** What the images are labelled with: package.json's version and the checkout's git revision. */
export async function buildInfoArgs(): Promise<{ VERSION: string; REVISION: string }> {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const revision = await execa('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, reject: false });
  return { VERSION: pkg.version, REVISION: revision.exitCode === 0 ? revision.stdout.trim() : 'unknown' };
}

/** `files`: Compose files layered over docker-compose.yml; `env`: variables they read. */
export async function composeStack(project: string, o: { files?: string[]; env?: Record<string, string> } = {}): Promise<ComposeStack> {
  const [command, ...prefix] = await composeCommand();
  const files = [path.join(root, 'docker-compose.yml'), ...(o.files ?? [])].flatMap((f) => ['-f', f]);
  const env = {
    ...(await buildInfoArgs()),
    ...o.env,
    // Port 0: the engine publishes on a port of its choice, read back after `up`.
    WEBUI_PORT: '0',
    RNG_PORT: '0',
    HASHER_PORT: '0',
  };
  let webuiPort: string | undefined;
  const compose = async (...args: string[]) => {
    const result = await execa(command, [...prefix, ...files, '-p', project, ...args], {
      cwd: root,
      env,
      reject: false,
      timeout: 10 * 60_000,
    });
    if (result.exitCode !== 0) throw new Error(`${command} ${[...prefix, ...args].join(' ')} failed: ${String(result.stderr || result.stdout).trim()}`);
    // A recreated or restarted container may be given another port.
    if (['up', 'start', 'restart'].includes(args[0]!)) webuiPort = /:(\d+)\s*$/.exec(await compose('port', 'webui', '80').catch(() => ''))?.[1];
    return result.stdout;
  };
  return {
    project,
    get webui() {
      if (!webuiPort) throw new Error(`the web UI of ${project} has no port yet: the stack is not up`);
      return `http://127.0.0.1:${webuiPort}`;
    },
    compose,
    async containers(service) {
      const filters = [`label=com.docker.compose.project=${project}`, ...(service ? [`label=com.docker.compose.service=${service}`] : [])];
      const out = await dockerCli(['ps', '-q', '--no-trunc', ...filters.flatMap((f) => ['--filter', f])]);
      return out.split('\n').filter(Boolean);
    },
    async down() {
      await compose('down', '-v', '--remove-orphans', '--timeout', '5');
    },
  };
}

export interface ContainerState {
  id: string;
  name: string;
  service: string;
  health?: string;
  running: boolean;
  exitCode: number;
}

export async function inspectContainers(ids: string[]): Promise<ContainerState[]> {
  if (ids.length === 0) return [];
  const all = JSON.parse(await dockerCli(['inspect', ...ids])) as {
    Id: string;
    Name: string;
    Config: { Labels: Record<string, string> };
    State: { Running: boolean; ExitCode: number; Health?: { Status: string } };
  }[];
  return all.map((c) => ({
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    service: c.Config.Labels['com.docker.compose.service'] ?? '?',
    health: c.State.Health?.Status,
    running: c.State.Running,
    exitCode: c.State.ExitCode,
  }));
}

export interface ContainerEvent {
  id: string;
  name: string;
  service: string;
  action: string;
  /** Engine time, in milliseconds (from nanoseconds). */
  ms: number;
  attributes: Record<string, string>;
}

/** Collects the engine's events about the project's containers from now until `stop()`. */
export function followEvents(project: string): { events: ContainerEvent[]; stop(): void } {
  const events: ContainerEvent[] = [];
  const args = ['events', '--format', '{{json .}}', '--filter', 'type=container', '--filter', `label=com.docker.compose.project=${project}`];
  const { stop } = followDocker(args, (line) => {
    const e = JSON.parse(line) as { id: string; Action: string; timeNano: number; Actor: { Attributes: Record<string, string> } };
    events.push({
      id: e.id,
      name: e.Actor.Attributes.name ?? e.id,
      service: e.Actor.Attributes['com.docker.compose.service'] ?? '?',
      action: e.Action,
      ms: e.timeNano / 1e6,
      attributes: e.Actor.Attributes,
    });
  });
  return { events, stop };
}

/** For each container stopped with SIGTERM: milliseconds from the signal to its end, and its exit code. */
export function stopTimes(events: ContainerEvent[]): { id: string; name: string; service: string; ms: number; exitCode: number }[] {
  return events
    .filter((e) => e.action === 'die')
    .flatMap((die) => {
      const kill = events.findLast((e) => e.id === die.id && e.action === 'kill' && e.attributes.signal === '15' && e.ms <= die.ms);
      return kill ? [{ id: die.id, name: die.name, service: die.service, ms: die.ms - kill.ms, exitCode: Number(die.attributes.exitCode) }] : [];
    });
}

// Docker and Swarm through the user's own docker CLI (DOCKER_HOST honoured), and the figures the
// Swarm chapter talks about: tasks running, nodes, hashes/s read from the web UI's /json.
// Used by `dockercoins lab swarm` and by the Swarm end-to-end test.
import { execa } from 'execa';
import { sleep } from '../lib/sleep.js';
import { Failure, Interrupted, waitUntil, type WaitOptions } from '../lib/wait.js';

/** A docker command failed. */
export class DockerError extends Error {}

export interface DockerRunOptions {
  host?: string;
  signal?: AbortSignal;
  /** Another program of the workshop's (docker-compose, sed); docker by default. */
  program?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** Runs `docker ...args` (on `host` when given, else on DOCKER_HOST) and resolves with its stdout. */
export type Docker = (args: string[], options?: DockerRunOptions) => Promise<string>;

export const dockerCli: Docker = async (args, { host, signal, program = 'docker', env, cwd } = {}) => {
  const run = () => execa(program, args, { env: { ...env, ...(host ? { DOCKER_HOST: host } : {}) }, cwd, cancelSignal: signal, reject: false });
  let result = await run();
  // Swarm refuses a service update made while the service changed under it (its own update in
  // progress): nothing was applied, and the CLI reads the service anew on the next try.
  for (let retry = 0; retry < 5 && result.exitCode !== 0 && /update out of sequence/.test(String(result.stderr)); retry++) {
    await sleep(500, signal);
    result = await run();
  }
  if (result.isCanceled) throw new Interrupted(`interrupted: ${program} ${shellLine(args)}`);
  if (result.exitCode !== 0) {
    // The last lines say why; blank ones would start the message with ' / '.
    const why = String(result.stderr || result.stdout || result.shortMessage).split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' / ');
    throw new DockerError(`${program} ${shellLine(args)} failed: ${why}`);
  }
  return result.stdout;
};

/**
 * Runs a docker command that streams (`events`, `logs --follow`) on `host` (else DOCKER_HOST) and
 * hands each line of its output to `onLine` until `stop()`.
 */
export function followDocker(args: string[], onLine: (line: string) => void, host?: string): { stop(): void } {
  const child = execa('docker', args, { env: host ? { DOCKER_HOST: host } : {}, stderr: 'inherit', buffer: false, reject: false });
  void (async () => {
    for await (const line of child) onLine(line);
  })().catch(() => {});
  return { stop: () => child.kill() };
}

/** A command line as a user would type it (single quotes where the shell needs them; `$CID` stays a variable). */
export function shellLine(args: string[]): string {
  return args.map((a) => (/^[\w@%+=:,./{}$-]+$/.test(a) && !a.includes('{{') ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

export interface Task {
  id: string;
  name: string;
  image: string;
  node: string;
  desired: string;
  current: string;
  error: string;
}

export const taskFormat = '{{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}';

export function parseTasks(output: string): Task[] {
  return output
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [id = '', name = '', image = '', node = '', desired = '', current = '', error = ''] = line.split('\t');
      return { id, name, image, node, desired, current, error };
    });
}

export const isRunning = (task: Task) => task.desired === 'Running' && task.current.startsWith('Running');

export async function serviceTasks(docker: Docker, service: string, signal?: AbortSignal): Promise<Task[]> {
  return parseTasks(await docker(['service', 'ps', service, '--no-trunc', '--format', taskFormat], { signal }));
}

export interface SwarmNode {
  hostname: string;
  ready: boolean;
  manager: boolean;
  /** The address other machines reach it on (what host-mode published ports answer on). */
  address: string;
}

export async function swarmNodes(docker: Docker, signal?: AbortSignal): Promise<SwarmNode[]> {
  const ids = (await docker(['node', 'ls', '-q'], { signal })).split('\n').filter(Boolean);
  const format = '{{.Description.Hostname}}\t{{.Status.State}}\t{{.Spec.Role}}\t{{.Status.Addr}}';
  const out = await docker(['node', 'inspect', '--format', format, ...ids], { signal });
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [hostname = '', state, role, address = ''] = line.split('\t');
      return { hostname, ready: state === 'ready', manager: role === 'manager', address };
    });
}

/** Names of the services, networks or volumes that exist among `names`. */
export async function existing(docker: Docker, kind: 'service' | 'network' | 'volume', names: string[], signal?: AbortSignal) {
  const all = (await docker([kind, 'ls', '--format', '{{.Name}}'], { signal })).split('\n');
  return names.filter((name) => all.includes(name));
}

/** Waits until `service` has `count` tasks running (one per node, for `perNode`), and returns them. */
export async function waitForTasks(
  docker: Docker,
  service: string,
  count: number,
  o: WaitOptions & { perNode?: boolean },
): Promise<Task[]> {
  let summary = '';
  return waitUntil(
    `${count} running task(s) of ${service}`,
    async () => {
      const tasks = (await serviceTasks(docker, service, o.signal)).filter((t) => t.desired === 'Running');
      const running = tasks.filter(isRunning);
      const nodes = new Set(running.map((t) => t.node));
      const errors = [...new Set(tasks.map((t) => t.error).filter(Boolean))];
      summary = `${running.length}/${count} running${errors.length ? `; ${errors.join('; ')}` : ''}`;
      o.progress?.(`${service}: ${summary}`);
      const done = running.length === count && (!o.perNode || nodes.size === count);
      if (done) return running;
      throw new Error(summary);
    },
    { ...o, progress: undefined },
  );
}

/** Waits for a `docker service update` to finish; fails if Swarm rolled it back or paused it. */
export async function waitForUpdate(
  docker: Docker,
  service: string,
  o: WaitOptions,
): Promise<void> {
  await waitUntil(
    `the update of ${service}`,
    async () => {
      const format = '{{.Spec.TaskTemplate.ContainerSpec.Image}}\t{{if .UpdateStatus}}{{.UpdateStatus.State}}\t{{.UpdateStatus.Message}}{{end}}';
      const out = await docker(['service', 'inspect', service, '--format', format], { signal: o.signal });
      const [image = '', state = '', message = ''] = out.trim().split('\t');
      o.progress?.(`${service}: update ${state || 'pending'}`);
      if (state === 'completed') return true;
      if (state.startsWith('rollback') || state === 'paused') throw new Failure(`update of ${service} ${state}: ${message}`);
      if (state) throw new Error(state);
      // Swarm clears the status at each change of the spec and sets it once tasks are replaced:
      // the timeout's reason then says what the spec asks for and what runs.
      const running = (await serviceTasks(docker, service, o.signal)).filter((t) => t.desired === 'Running').map((t) => `${t.image} on ${t.node} (${t.current})`);
      throw new Error(`not started: the spec runs ${image}; its tasks: ${running.join(', ') || 'none'}`);
    },
    { ...o, progress: undefined },
  );
}

export interface Counters {
  hashes: number;
  coins: number;
  /** The web UI's clock, seconds. */
  now: number;
}

/** The reason a web UI's error answer gives (its JSON `error`, or the first line of text), as `: reason`. */
async function whyRefused(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  let reason = text.split('\n')[0]!;
  try {
    reason = String((JSON.parse(text) as { error?: unknown }).error ?? reason);
  } catch {
    // not JSON: the line as it is
  }
  return reason ? `: ${reason.slice(0, 200)}` : '';
}

/** GET `url`, given up after `ms` or on `signal`: a peer that never answers fails the read (a wait tries again) instead of hanging it. */
export const fetchWithin = (url: string | URL, signal?: AbortSignal, ms = 5000) => fetch(url, { signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms) });

/** GET <webui>/json: the contract's `{coins, hashes (a string or null), now}`. */
export async function readCounters(webui: string, signal?: AbortSignal): Promise<Counters> {
  const res = await fetchWithin(new URL('/json', webui), signal);
  if (!res.ok) throw new Error(`GET ${webui}/json answered ${res.status}${await whyRefused(res)}`);
  const body = (await res.json()) as { coins: number; hashes: string | null; now: number };
  return { hashes: Number(body.hashes ?? 0), coins: body.coins, now: body.now };
}

/** Waits for the web UI to answer and its hash counter to climb; resolves with the reading that climbed. */
export async function waitForClimbing(webui: string, o: WaitOptions): Promise<Counters> {
  const first = await waitUntil(`${webui}/json`, () => readCounters(webui, o.signal), o);
  return waitUntil(
    'the hash counter to climb',
    async () => {
      const now = await readCounters(webui, o.signal);
      return now.hashes > first.hashes ? now : undefined;
    },
    o,
  );
}

export const rateBetween = (a: Counters, b: Counters) => (b.hashes - a.hashes) / (b.now - a.now);

/** Hashes/s from the web UI's counter over `seconds` (the workers flush once a second: use ≥ 10 s). */
export async function measureRate(
  webui: string,
  seconds: number,
  o: { signal?: AbortSignal; progress?: (line: string) => void } = {},
): Promise<{ rate: number; first: Counters; last: Counters }> {
  const first = await readCounters(webui, o.signal);
  for (let left = seconds; left > 0 && !o.signal?.aborted; left--) {
    o.progress?.(`measuring hashes/s from ${webui}/json: ${left} s left`);
    await sleep(1000, o.signal);
  }
  if (o.signal?.aborted) throw new Interrupted('interrupted while measuring');
  const last = await readCounters(webui, o.signal);
  return { rate: rateBetween(first, last), first, last };
}

/**
 * Where a service's published port answers: with ingress publishing, on every node (we use
 * localhost, as in the workshop where you work on node1); with host-mode publishing, only on
 * the node that runs the task.
 */
export async function publishedUrl(
  docker: Docker,
  service: string,
  port: number,
  mode: 'ingress' | 'host',
  signal?: AbortSignal,
): Promise<string> {
  if (mode === 'ingress') return `http://127.0.0.1:${port}`;
  // A starting task (before its first health check) already answers on its host-mode port.
  const tasks = (await serviceTasks(docker, service, signal)).filter((t) => t.desired === 'Running');
  const task = tasks.find(isRunning) ?? tasks.find((t) => t.current.startsWith('Starting'));
  if (!task) throw new DockerError(`${service} has no running task`);
  const node = (await swarmNodes(docker, signal)).find((n) => n.hostname === task.node);
  if (!node) throw new DockerError(`node ${task.node} of ${service} is not in docker node ls`);
  return `http://${node.address}:${port}`;
}

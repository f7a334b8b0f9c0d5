// CPU used on this host by a set of containers and by the Docker engine that runs them, read
// from /proc: dockerd and containerd, each container's shim with its reaped children (runc and
// every exec'd process, health probes included) and each container's main process. Used by
// bench/images.ts to weigh health checks.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { execa } from 'execa';
import { dockerCli } from '../src/cli/swarm.js';

export interface CpuSample {
  /** dockerd and containerd, with their reaped children: shared with whatever else uses the engine. */
  engineSeconds: number;
  /** The containers' shims, with runc and the exec'd processes (health probes) they reaped. */
  shimSeconds: number;
  /** The containers' main processes: the services' own work. */
  mainSeconds: number;
}

const ticksPerSecond = async () => Number((await execa('getconf', ['CLK_TCK'])).stdout);

/** utime + stime (+ cutime + cstime with `children`), in ticks; 0 for a process that has gone. */
async function ticks(pid: number, children: boolean): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name, which may hold spaces: state is field 3, utime field 14.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  const [utime = 0, stime = 0, cutime = 0, cstime = 0] = fields.slice(11, 15);
  return utime + stime + (children ? cutime + cstime : 0);
}

/** This PID namespace's processes: not those of engines running in containers (docker-in-docker). */
async function processes(): Promise<{ pid: number; cmdline: string }[]> {
  const ours = await readlink('/proc/self/ns/pid');
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  const all = await Promise.all(
    pids.map(async (pid) => ({
      pid,
      cmdline: (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' '),
      ns: await readlink(`/proc/${pid}/ns/pid`).catch(() => ''),
    })),
  );
  return all.filter((p) => p.cmdline && p.ns === ours);
}

/** Measures the CPU of the engine and of `containerIds` over `seconds`. */
export async function dockerCpu(containerIds: string[], seconds: number): Promise<CpuSample> {
  const all = await processes();
  const engine = all.filter((p) => /^(\S*\/)?(dockerd|containerd)( |$)/.test(p.cmdline)).map((p) => p.pid);
  const shims = all.filter((p) => containerIds.some((id) => p.cmdline.includes('containerd-shim') && p.cmdline.includes(`-id ${id}`))).map((p) => p.pid);
  if (engine.length === 0 || shims.length !== containerIds.length) throw new Error(`found ${engine.length} engine processes and ${shims.length} shims for ${containerIds.length} containers`);
  const mains = (await dockerCli(['inspect', '--format', '{{.State.Pid}}', ...containerIds])).split('\n').filter(Boolean).map(Number);
  const sum = async (pids: number[], children: boolean) => (await Promise.all(pids.map((pid) => ticks(pid, children)))).reduce((a, b) => a + b, 0);
  const read = async () => ({ engine: await sum(engine, true), shims: await sum(shims, true), mains: await sum(mains, false) });
  const hz = await ticksPerSecond();
  const start = await read();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const end = await read();
  return { engineSeconds: (end.engine - start.engine) / hz, shimSeconds: (end.shims - start.shims) / hz, mainSeconds: (end.mains - start.mains) / hz };
}

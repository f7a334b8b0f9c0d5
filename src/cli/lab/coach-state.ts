// What the coach sees of the cluster between two of its checks: the services (mode, replicas,
// image, ports, tasks running, task errors), the networks, the registry's tags of the images the
// services and the chapter name, and the hashes/s the web UI's /json shows. Read only with the
// lab's read-only queries (../runner.ts queriesOnly) and GETs; ./mistakes.ts reads it.
import { isRunning, parseTasks, taskFormat, publishedUrl, rateBetween, readCounters, type Counters, type Docker } from '../swarm.js';
import type { LabOptions } from './options.js';
import { appServices, registryTags } from './swarm-chapter.js';

export interface ServiceState {
  name: string;
  /** null: global mode; else the replicas asked for. */
  replicas: number | null;
  /** Without its digest: 127.0.0.1:5000/rng:v1. */
  image: string;
  /** Published ports as `8000/host` or `8000/ingress`. */
  ports: string[];
  running: number;
  /** The tasks' error messages, each once ("No such image: …"). */
  errors: string[];
}

export interface ClusterState {
  services: Record<string, ServiceState>;
  /** Driver of each network by name. */
  networks: Record<string, string>;
  /** The registry's tags by repository, for the chapter's images and those the services use. */
  tags: Record<string, string[]>;
  /** Hashes/s over the last readings of /json, once they span half a --window. */
  rate?: number;
}

const lines = (out: string) => out.split('\n').filter(Boolean);
const serviceFormat = '{{.Spec.Name}}\t{{if .Spec.Mode.Global}}global{{else}}{{.Spec.Mode.Replicated.Replicas}}{{end}}\t{{.Spec.TaskTemplate.ContainerSpec.Image}}\t{{range .Endpoint.Ports}}{{.PublishedPort}}/{{.PublishMode}} {{end}}';

async function readServices(docker: Docker, signal: AbortSignal): Promise<Record<string, ServiceState>> {
  const names = lines(await docker(['service', 'ls', '--format', '{{.Name}}'], { signal }));
  if (!names.length) return {};
  const services: Record<string, ServiceState> = {};
  for (const line of lines(await docker(['service', 'inspect', ...names, '--format', serviceFormat], { signal }))) {
    const [name = '', mode = '', image = '', ports = ''] = line.split('\t');
    services[name] = { name, replicas: mode === 'global' ? null : Number(mode), image: image.split('@')[0]!, ports: ports.split(' ').filter(Boolean), running: 0, errors: [] };
  }
  for (const task of parseTasks(await docker(['service', 'ps', ...names, '--no-trunc', '--format', taskFormat], { signal }))) {
    const service = services[task.name.split('.')[0]!];
    if (!service) continue;
    if (isRunning(task)) service.running++;
    if (task.error && !service.errors.includes(task.error)) service.errors.push(task.error);
  }
  return services;
}

/** `registry/repository:tag` → [repository, tag] when the image is in `registry`. */
export function inRegistry(image: string, registry: string): [string, string] | undefined {
  if (!image.startsWith(`${registry}/`)) return undefined;
  const [repository = '', tag = 'latest'] = image.slice(registry.length + 1).split(':');
  return [repository, tag];
}

/** Reads the cluster again and again; keeps the web UI's readings for a rate. */
export function clusterWatch(o: LabOptions, docker: Docker) {
  const readings: Counters[] = [];
  async function rate(services: Record<string, ServiceState>, signal: AbortSignal): Promise<number | undefined> {
    const url = services.webui?.ports.length ? await publishedUrl(docker, 'webui', o.port, o.endpointMode === 'dnsrr' ? 'host' : 'ingress', signal).catch(() => undefined) : undefined;
    const now = url ? await readCounters(url, signal).catch(() => undefined) : undefined;
    // A counter that went back (a new redis) or a silent web UI starts the readings over.
    if (!now || (readings.length && now.hashes < readings.at(-1)!.hashes)) readings.length = 0;
    if (!now) return undefined;
    readings.push(now);
    while (readings.length > 2 && now.now - readings[1]!.now >= o.windowSeconds) readings.shift();
    return now.now - readings[0]!.now >= o.windowSeconds / 2 ? rateBetween(readings[0]!, now) : undefined;
  }
  return async function read(signal: AbortSignal): Promise<ClusterState> {
    const services = await readServices(docker, signal);
    const networks = Object.fromEntries(lines(await docker(['network', 'ls', '--format', '{{.Name}}\t{{.Driver}}'], { signal })).map((l) => l.split('\t') as [string, string]));
    const repositories = new Set<string>(appServices);
    for (const s of Object.values(services)) repositories.add(inRegistry(s.image, o.registry)?.[0] ?? '');
    repositories.delete('');
    const tags: Record<string, string[]> = {};
    for (const r of repositories) tags[r] = (await registryTags(o.registry, r, signal).catch(() => null)) ?? [];
    return { services, networks, tags, rate: await rate(services, signal) };
  };
}

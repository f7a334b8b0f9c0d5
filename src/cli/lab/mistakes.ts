// What attendees get wrong on the Swarm chapter's pages, as the coach recognises it in the
// cluster's state (./coach-state.ts): one row per mistake, a detector that returns what happened
// and what to do (one or two lines), or nothing. A note is not a mistake: what the page wants
// the attendee to see.
import type { ClusterState } from './coach-state.js';
import { inRegistry } from './coach-state.js';
import type { LabOptions } from './options.js';
import { appServices, expectedPlateau, network, publishArg } from './swarm-chapter.js';

export interface Mistake {
  id: string;
  /** A note says what the attendee sees is the point of the page, not an error. */
  kind: 'mistake' | 'note';
  detect(state: ClusterState, o: LabOptions): string | undefined;
}

/** The web UI's port as the chapter publishes it (its sheet's --publish-add). */
const publishedPort = (o: LabOptions) => publishArg(o, o.port, 80);

export const swarmMistakes: Mistake[] = [
  {
    id: 'bridge-network',
    kind: 'mistake',
    detect: (s) => {
      const driver = s.networks[network];
      if (!driver || driver === 'overlay') return undefined;
      return `the ${network} network is a local ${driver} network (created without --driver overlay): services cannot use it.\n  Remove it and create it again: docker network rm ${network} && docker network create --driver overlay ${network}`;
    },
  },
  {
    id: 'push-without-tag',
    kind: 'mistake',
    detect: (s, o) => {
      const latestOnly = appServices.filter((r) => s.tags[r]?.includes('latest') && !s.tags[r].includes(o.tag));
      if (!latestOnly.length) return undefined;
      return `${o.registry} has ${latestOnly.map((r) => `${r}:latest`).join(', ')} but not :${o.tag}: \`docker push $REGISTRY/$SERVICE\` without the tag pushes only :latest (or nothing).\n  Push the tag: docker push ${o.registry}/${latestOnly[0]}:${o.tag}`;
    },
  },
  {
    id: 'image-not-in-registry',
    kind: 'mistake',
    detect: (s, o) => {
      const missing = Object.values(s.services).filter((svc) => {
        const [repository, tag] = inRegistry(svc.image, o.registry) ?? [];
        return repository && svc.running === 0 && !s.tags[repository]?.includes(tag!);
      });
      if (!missing.length) return undefined;
      const why = missing.flatMap((m) => m.errors).find((e) => /no such image|rejected/i.test(e));
      return `${missing.map((m) => m.name).join(', ')}: no task runs, ${o.registry} does not have ${missing.map((m) => m.image.slice(o.registry.length + 1)).join(', ')}${why ? ` (${why})` : ''}.\n  Push the image (docker push ${missing[0]!.image}); Swarm tries again by itself.`;
    },
  },
  {
    id: 'webui-not-published',
    kind: 'mistake',
    detect: (s, o) => {
      const webui = s.services.webui;
      // Only once the attendee has moved on to the workers: before, publishing is the next step anyway.
      if (!webui?.running || webui.ports.length || (s.services.worker?.replicas ?? 0) <= 1) return undefined;
      return `webui runs but publishes no port: its page and /json cannot be reached, so no speed can be read.\n  Publish it: docker service update webui --publish-add ${publishedPort(o)}`;
    },
  },
  {
    id: 'webui-other-port',
    kind: 'mistake',
    detect: (s, o) => {
      const ports = s.services.webui?.ports ?? [];
      if (!ports.length || ports.some((p) => p.startsWith(`${o.port}/`))) return undefined;
      // A host-mode port is removed by its whole spec: `--publish-rm 80` leaves it.
      const other = o.endpointMode === 'dnsrr' ? `mode=host,published=${ports[0]!.split('/')[0]},target=80` : '80';
      return `webui publishes ${ports.join(', ')}, not ${o.port}: the chapter reads the web UI on ${o.port}.\n  Publish ${o.port} (docker service update webui --publish-rm ${other} --publish-add ${publishedPort(o)}), or run the coach with --port.`;
    },
  },
  {
    id: 'bottleneck',
    kind: 'note',
    detect: (s) => {
      const workers = s.services.worker?.running ?? 0;
      const rng = s.services.rng;
      if (workers <= 1 || rng?.replicas !== 1 || s.rate === undefined || Math.abs(s.rate - expectedPlateau) > expectedPlateau * 0.3) return undefined;
      return `${workers} workers and still ${s.rate.toFixed(1)} hashes/s: not a mistake. One rng answers ${expectedPlateau} requests/s, the bottleneck this chapter is about.\n  Next: rng in global mode, one per node.`;
    },
  },
  {
    id: 'rng-scaled',
    kind: 'mistake',
    detect: (s) => {
      const replicas = s.services.rng?.replicas;
      if (!replicas || replicas <= 1) return undefined;
      return `rng is scaled to ${replicas} replicas: the chapter makes it global (one per node, on every node), which a replica count does not promise.\n  docker service rm rng, then create it again with --mode global.`;
    },
  },
];

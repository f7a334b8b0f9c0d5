// The "Side by side on Swarm" section of bench/README.md, from bench/swarm-side-by-side.ts's figures.
import { expectedPlateau } from '../src/cli/lab/swarm-chapter.js';
/** Rates are read over windows this long (the workers flush once a second each). */
export const WINDOW_S = 5;
/** A target rate counts as reached at this share of it. */
export const REACHED = 0.85;
/** Worker log lines are counted over this long from the worker's `service create`. */
export const FIRST_MINUTE_S = 60;

export interface PeerResult {
  createToFirstHashS: number;
  /** The same, the four services created again on nodes that hold their images. */
  cachedCreateToFirstHashS: number;
  publishToAnswerS: number;
  plateauReachedS: number;
  plateau: number;
  globalReachedS: number;
  globalRate: number;
  workerProblemLines: string[];
  cachedWorkerProblemLines: string[];
  idleMemoryMB: Record<string, number>;
  imageMB: Record<string, number>;
  pulledMB: number;
}

const services = ['rng', 'hasher', 'worker', 'webui', 'redis'];
const s1 = (x: number) => x.toFixed(1);
const perService = (values: Record<string, number>, names: string[]) => names.map((n) => (values[n] === undefined ? '-' : s1(values[n]))).join(' / ');

/** A log line as a reader wants it in a table: a JSON line (ours) by its message, another as it is. */
function logMessage(line: string): string {
  try {
    return String((JSON.parse(line) as { msg?: unknown }).msg ?? line);
  } catch {
    return line;
  }
}

export function renderSideBySide(r: Record<'original' | 'ours', PeerResult>, measured: string): string {
  const row = (step: string, value: (p: PeerResult) => string) => `| ${step} | ${value(r.original)} | ${value(r.ours)} |`;
  const problems = (lines: string[]) => (lines.length ? `${lines.length}: \`${logMessage(lines[0]!).slice(0, 120).replaceAll('|', '\\|')}\`` : '0');
  return [
    `${measured}.`,
    '',
    "The seed chapter's steps (the workshop's btp-manual), as its page types them, on the 3-node docker-in-docker Swarm of test/e2e/cluster.ts, for the original stack and then ours, one after the other on the same cluster. The original's images are stand-ins (bench/original/Dockerfile: the workshop's code on Debian's python3-flask, ruby-sinatra and thin, python3-redis and python3-requests, Debian's nodejs with npm's express, morgan and redis; each departure said there); ours are the Dockerfile's. Each peer starts on nodes emptied of every image, so its first step includes the pulls; after the chapter, its four services are removed and created again (\"again\" rows), on nodes that hold their images. This engine has no IPVS: every service is created with `--endpoint-mode dnsrr` and the web UI's port is published in host mode. Times are from the command to the outcome, by this machine's clock: the first hash is Redis's counter rising (read in the redis container), the web UI answers when its `/json` does on the published port, a rate is reached when the web UI's counter rises at " +
      `${REACHED * 100} % of it over ${WINDOW_S} s (${expectedPlateau} hashes/s for the plateau, 3 × the measured plateau for global rng). Error or warning lines: the worker's log from its \`service create\` for ${FIRST_MINUTE_S} s, before any other step (the first after the count). Memory: \`docker stats\` on every node at that moment (1 worker at the workshop's pace), the median container of each service. Sizes: \`docker image inspect\`; what a node pulls: the four images' blobs in the registry, each once, compressed.`,
    '',
    '| step | original | ours |',
    '|---|---:|---:|',
    row('service create → first hash (s)', (p) => s1(p.createToFirstHashS)),
    row('the same again, images on the nodes (s)', (p) => s1(p.cachedCreateToFirstHashS)),
    row('publish-add → web UI answers (s)', (p) => s1(p.publishToAnswerS)),
    row('10 workers → plateau reached (s)', (p) => s1(p.plateauReachedS)),
    row('plateau, 10 workers (hashes/s)', (p) => p.plateau.toFixed(2)),
    row('rng global → ×3 reached (s)', (p) => s1(p.globalReachedS)),
    row('global rng (hashes/s)', (p) => p.globalRate.toFixed(2)),
    row("error or warning lines in the workers' logs, first minute", (p) => problems(p.workerProblemLines)),
    row('the same again, images on the nodes', (p) => problems(p.cachedWorkerProblemLines)),
    row(`idle memory per container, ${services.join(' / ')} (MB)`, (p) => perService(p.idleMemoryMB, services)),
    row(`image size, ${services.slice(0, 4).join(' / ')} (MB)`, (p) => perService(p.imageMB, services.slice(0, 4))),
    row('what a node pulls for the four (MB)', (p) => s1(p.pulledMB)),
    '',
    'Where ours can be above the original, and why. **First start**: the pulls, three nodes at once on this host\'s cores, are most of it and vary from run to run by more than the two peers differ; the "again" row is the same start without them, where what is left is Swarm\'s (scheduling, the overlay, DNS) for both. **Worker log lines**: with dnsrr a name resolves only once a task of it runs, and the worker can start before rng\'s task does; the original logs an ERROR with its traceback and sleeps 10 s; ours says, at info, that it waits for rng, and warns only if that lasts past STARTING_GRACE_MS (src/worker/streaks.ts). **Memory**: a node process at rest holds more than a Python one (V8\'s heap and compiled code; what the images\' settings save is in "Images"). **Image size**: each of ours holds the whole Node runtime; the four share it, so a node pulls less for the four than for the original\'s, which share only Debian.',
  ].join('\n');
}

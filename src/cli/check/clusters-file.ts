// The clusters file of `dockercoins lab check`: one cluster a line, as
//   HOST [registry=HOST:PORT] [LABEL...]
// where HOST is a Docker host URL (tcp://, ssh://, unix://) or a Docker context name; `#` starts
// a comment; blank lines are ignored. A malformed line is one error naming the file and the line.

export interface ClusterEntry {
  /** Line number in the file, from 1. */
  line: number;
  /** tcp://…, ssh://…, unix://… (DOCKER_HOST), or a Docker context name (DOCKER_CONTEXT). */
  host: string;
  kind: 'url' | 'context';
  /** What the report calls it: the rest of the line, else the host. */
  label: string;
  /** This cluster's registry, where it differs from --registry. */
  registry?: string;
}

export class ClustersFileError extends Error {}

const hostShapes: [RegExp, 'url' | 'context'][] = [
  [/^tcp:\/\/[\w.-]+(:\d{1,5})?$|^tcp:\/\/\[[\da-fA-F:.]+\](:\d{1,5})?$/, 'url'],
  [/^ssh:\/\/([\w.-]+@)?([\w.-]+|\[[\da-fA-F:.]+\])(:\d{1,5})?$/, 'url'],
  [/^unix:\/\/\/[\w./-]+$/, 'url'],
  // Docker's own rule for context names.
  [/^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$/, 'context'],
];
const registryShape = /^[\w.-]+(:\d{1,5})?$|^\[[\da-fA-F:.]+\](:\d{1,5})?$/;
const expected = 'a Docker host (tcp://HOST:PORT, ssh://[USER@]HOST, unix:///PATH) or a Docker context name';

/** The clusters of the file's text; `name` is the file as the user gave it, for the errors. */
export function parseClusters(text: string, name: string): ClusterEntry[] {
  const clusters: ClusterEntry[] = [];
  // A byte-order mark, as some Windows editors write: not part of the first host.
  for (const [i, raw] of text.replace(/^\uFEFF/, '').split(/\r?\n/).entries()) {
    const at = `${name}:${i + 1}`;
    const words = raw.replace(/(^|\s)#.*$/, '').trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    const [host = '', ...rest] = words;
    const kind = hostShapes.find(([shape]) => shape.test(host))?.[1];
    if (!kind) throw new ClustersFileError(`${at}: ${JSON.stringify(host)} is not ${expected}`);
    const entry: ClusterEntry = { line: i + 1, host, kind, label: host };
    const label: string[] = [];
    for (const word of rest) {
      const option = /^([A-Za-z][\w-]*)=(.*)$/.exec(word);
      if (!option) label.push(word);
      else if (option[1] !== 'registry') throw new ClustersFileError(`${at}: unknown setting ${JSON.stringify(option[1])} (only registry=HOST:PORT)`);
      else if (!registryShape.test(option[2]!)) throw new ClustersFileError(`${at}: ${JSON.stringify(option[2])} is not a registry HOST:PORT`);
      else entry.registry = option[2];
    }
    if (label.length) entry.label = label.join(' ');
    const twin = clusters.find((c) => c.host === host);
    if (twin) throw new ClustersFileError(`${at}: ${host} is already line ${twin.line}`);
    clusters.push(entry);
  }
  if (clusters.length === 0) throw new ClustersFileError(`${name}: no cluster in the file (one Docker host or context a line)`);
  return clusters;
}

// Raw HTTP/1.1 on a socket, for what client libraries will not send: malformed requests,
// absolute-form request lines, requests that trickle in a few bytes at a time; and the
// kernel's own view of a port's sockets, to see what a server still holds.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

export interface Exchange {
  /** All the server sent, as latin1 text. */
  answer: string;
  /** Milliseconds from the connection to the server closing it. */
  closedAfterMs: number;
  /** Bytes of the request written before the close. */
  written: number;
}

/**
 * Sends `request` (`piece` bytes every `everyMs`, or all at once), without closing our side,
 * and resolves once the server closes the connection (or after `giveUpMs`, `closedAfterMs`
 * Infinity).
 */
export function exchange(
  port: number,
  request: string | Buffer,
  { piece = Infinity, everyMs = 0, giveUpMs = 30_000 }: { piece?: number; everyMs?: number; giveUpMs?: number } = {},
): Promise<Exchange> {
  const bytes = Buffer.isBuffer(request) ? request : Buffer.from(request, 'latin1');
  return new Promise((resolve) => {
    let answer = '';
    let written = 0;
    let timer: NodeJS.Timeout | undefined;
    const socket = connect(port, '127.0.0.1');
    const started = performance.now();
    const writeNext = () => {
      if (written >= bytes.length || !socket.writable) return;
      socket.write(bytes.subarray(written, written + piece));
      written = Math.min(bytes.length, written + piece);
      if (written < bytes.length) timer = setTimeout(writeNext, everyMs);
    };
    const giveUp = setTimeout(() => finish(Infinity), giveUpMs);
    const finish = (closedAfterMs: number) => {
      clearTimeout(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ answer, closedAfterMs, written });
    };
    socket.on('connect', writeNext);
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => finish(performance.now() - started));
  });
}

/** The status and body of an HTTP/1.1 answer (not chunked). */
export function parseAnswer(answer: string): { status: number; headers: Record<string, string>; body: string } {
  const [head = '', body = ''] = answer.split(/\r\n\r\n([^]*)/);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body };
}

/** TCP states as /proc/net/tcp writes them. */
export const TCP_STATE = { established: '01', closeWait: '08', listen: '0A' } as const;

/** The inodes of this machine's TCP sockets whose local port is `port`, in one of `states` (the kernel's tables). */
export function socketInodes(port: number, states: string[]): string[] {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(local) && states.includes(fields[3]!)) inodes.push(fields[9]!);
    }
  }
  return inodes;
}

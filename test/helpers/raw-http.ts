// HTTP/1.1 answers read from raw bytes, strictly: for tests that must see what a client would
// reject (a malformed status or header line, a body shorter than its length).
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * The first final answer in `data` if it is whole, 'partial' if more is to come, or what makes
 * it malformed. `closed`: the server closed the connection (ends a body without a length).
 */
export function parseAnswer(data: Buffer, head: boolean, closed: boolean): Answer | 'partial' | string {
  let rest = data;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return closed ? `closed within the headers: ${JSON.stringify(rest.toString('latin1', 0, 200))}` : 'partial';
    const [statusLine = '', ...lines] = rest.toString('latin1', 0, end).split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3}) [\x20-\x7e]*$/.exec(statusLine)?.[1];
    if (!status) return `malformed status line ${JSON.stringify(statusLine)}`;
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const field = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*?)[ \t]*$/.exec(line);
      if (!field) return `malformed header line ${JSON.stringify(line)}`;
      headers[field[1]!.toLowerCase()] = field[2]!;
    }
    rest = rest.subarray(end + 4);
    // An interim answer (100 Continue): the final one follows.
    if (Number(status) < 200) continue;
    const answer = (body: Buffer): Answer => ({ status: Number(status), headers, body });
    if (head || status === '204' || status === '304') return answer(Buffer.alloc(0));
    // An event stream never ends: its head is the answer.
    if (headers['content-type']?.startsWith('text/event-stream')) return answer(Buffer.alloc(0));
    if (headers['transfer-encoding'] === 'chunked') return dechunk(rest, closed, answer);
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (!/^\d+$/.test(headers['content-length'])) return `content-length ${headers['content-length']}`;
      if (rest.length >= length) return answer(rest.subarray(0, length));
      return closed ? `closed after ${rest.length} of ${length} bytes` : 'partial';
    }
    return closed ? answer(rest) : 'partial';
  }
}

function dechunk(data: Buffer, closed: boolean, answer: (body: Buffer) => Answer): Answer | 'partial' | string {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) return closed ? 'closed within a chunk size' : 'partial';
    const size = parseInt(data.toString('latin1', at, eol), 16);
    if (Number.isNaN(size)) return `malformed chunk size ${JSON.stringify(data.toString('latin1', at, eol))}`;
    if (size === 0) return answer(Buffer.concat(parts));
    if (data.length < eol + 2 + size + 2) return closed ? 'closed within a chunk' : 'partial';
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

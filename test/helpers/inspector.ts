// What a service process still holds after a full garbage collection, asked through its own
// inspector: RSS is the allocator's high-water mark, so it rises with a burst and says no leak.
import { type ServiceProcess, waitFor } from './processes.js';

/** The environment that opens a service's inspector on a free loopback port (tests only). */
export const inspectable = { NODE_OPTIONS: '--inspect=127.0.0.1:0' };

/** heapUsed + external (Buffers included) of a process started with `inspectable`, in MB, after a full GC. */
export async function retainedMB(proc: ServiceProcess): Promise<number> {
  const address = await waitFor(`${proc.name}'s inspector address`, () =>
    proc.stderr.map((line) => /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1]).find((url) => url !== undefined),
  );
  const socket = new WebSocket(address);
  const answers = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (message.id === undefined) return;
    answers.get(message.id)?.(message.error ? new Error(`${proc.name}'s inspector: ${message.error.message}`) : message.result);
  });
  let lastId = 0;
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++lastId;
      answers.set(id, (result) => (result instanceof Error ? reject(result) : resolve(result)));
      socket.send(JSON.stringify({ id, method, params }));
    });
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve);
    socket.addEventListener('error', () => reject(new Error(`${proc.name}'s inspector at ${address} refused`)));
  });
  try {
    await call('HeapProfiler.collectGarbage');
    const expression = '(({ heapUsed, external }) => heapUsed + external)(process.memoryUsage())';
    const { result } = (await call('Runtime.evaluate', { expression, returnByValue: true })) as { result: { value: number } };
    return result.value / (1024 * 1024);
  } finally {
    socket.close();
  }
}

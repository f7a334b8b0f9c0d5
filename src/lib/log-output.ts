// Where the services' log lines go (stdout, in batches) and how they are stamped.
import pino from 'pino';

/**
 * stdout in batches of 4 KB or 100 ms, whichever comes first: a system call per request line
 * costs rng and hasher CPU under load (bench/README.md's Profile); at the workshop's pace a
 * line waits at most 100 ms. The flush is timed from the first line after the last flush, so
 * a process with nothing to say is not woken for it. pino writes what is left on exit.
 */
export function batchedStdout() {
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const write = stdout.write.bind(stdout);
  let flushTimer: NodeJS.Timeout | undefined;
  stdout.write = (line: string) => {
    flushTimer ??= setTimeout(() => {
      flushTimer = undefined;
      stdout.flush();
    }, 100).unref();
    return write(line);
  };
  return stdout;
}

/**
 * pino's timestamp, as ISO 8601 for people reading `docker logs`. Under load many lines share
 * a millisecond, so the string is made once per millisecond.
 */
let lastMs = 0;
let lastTime = '';
export function isoTime() {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

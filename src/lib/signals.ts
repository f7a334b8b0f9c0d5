// How every process ends on SIGTERM or SIGINT: the same way each time, whatever else arrives.
// The first signal starts `close`; further ones are noted and ignored (the default action would
// kill the process halfway through saving); the process exits once `close` is done or the
// deadline has passed, after its last log lines have reached stdout.
//
// A clean stop still exits 128 + the signal's number (143 on SIGTERM), as a process the signal
// had ended would: Swarm reports a task that exits 0 as Complete with no error, even one it
// stopped for failing its health check (moby's daemon/cluster/executor/container/controller.go),
// and `docker service ps` would not say why the task was replaced.
import { constants } from 'node:os';

interface ShutdownLog {
  info: (msg: string) => void;
  error: (o: object, msg: string) => void;
  /** pino's (fastify's logger type leaves it out); the local runner's console has none. */
  flush?: (done: (err?: Error) => void) => void;
}

/** Longest wait for the last log lines to be written before exiting anyway. */
const FLUSH_WAIT_MS = 200;

/**
 * Runs `close` on the first SIGTERM or SIGINT, then exits with the code it returns (128 + the
 * signal's number if none), 1 if it fails or takes more than `deadlineMs`. Docker waits 10 s
 * before killing; the services take less than 1 s.
 */
export function exitOnSignals(close: () => Promise<number | void>, log: ShutdownLog, deadlineMs = 900): void {
  let stopping = false;
  let exiting = false;
  const exit = (code: number) => {
    if (exiting) return;
    exiting = true;
    if (!log.flush) return process.exit(code);
    // The last lines (the worker's final count above all) are the ones that matter most.
    setTimeout(() => process.exit(code), FLUSH_WAIT_MS).unref();
    log.flush(() => process.exit(code));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.info(`${signal} received again; already shutting down`);
      return;
    }
    stopping = true;
    log.info(`${signal} received, shutting down`);
    setTimeout(() => {
      log.error({}, `shutdown took more than ${deadlineMs} ms, exiting anyway`);
      exit(1);
    }, deadlineMs).unref();
    close().then(
      (code) => exit(code ?? 128 + constants.signals[signal]),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

// How errors are put in one line, for logs, the web UI and the worker's reports.

/** One short phrase for a network error: its code and message, without the stack. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = errorCode(err);
    if (err.name === 'TimeoutError') return 'timed out';
    if (err.name === 'AbortError') return 'aborted';
    return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

/** The system error's code (ENOTFOUND, ECONNREFUSED...) of `err` or of its cause, if any. */
export function errorCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  return (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
}

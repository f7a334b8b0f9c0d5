// What a right answer of rng and of hasher is (docs: the contract). Anything else is a failure
// of that dependency: the worker counts nothing from it and stores no coin.
import type { Expectation } from './upstream.js';

/** rng's GET /<n>: exactly n bytes. */
export const randomBytes = (n: number): Expectation => ({
  contentType: 'application/octet-stream',
  maxBytes: n,
  problem: (body) => (body.length === n ? undefined : `${body.length} bytes, not the ${n} asked for`),
});

/**
 * hasher's POST /: the sha256 of the body as 64 lowercase hex characters, no newline. The
 * content checks itself: its type (text/plain from ours and the original) is not asked for.
 */
export const sha256Hex: Expectation = {
  maxBytes: 64,
  problem: (body) =>
    /^[0-9a-f]{64}$/.test(body.toString('latin1'))
      ? undefined
      : `${body.length} bytes that are not a sha256 hex digest: ${JSON.stringify(body.toString('utf8', 0, 40))}`,
};

// Configuration comes only from environment variables, validated once at start.
// A wrong value ends the process with one line naming the variable and what it expects.
import os from 'node:os';
import * as z from 'zod';

/** The longest delay a timer holds (2^31-1 ms, 24.8 days): Node turns a longer one into 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A whole number of milliseconds, 0 to MAX_TIMER_MS, given as a string in the environment. */
export const millis = (fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number of milliseconds (0 or more)')
    .transform(Number)
    .refine((n) => n <= MAX_TIMER_MS, `expected at most ${MAX_TIMER_MS} ms (the longest a timer holds)`)
    .prefault(String(fallback));

export const port = (fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a TCP port number (0-65535)')
    .transform(Number)
    .refine((n) => n <= 65535, 'expected a TCP port number (0-65535)')
    .prefault(String(fallback));

/** A whole number from 1 to `max`. */
export const count = (fallback: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `expected a whole number from 1 to ${max}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, `expected a whole number from 1 to ${max}`)
    .prefault(String(fallback));

export const httpUrl = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine(
      (s) => s.split(',').every(isHttpUrl),
      'expected an http:// URL (a path, but no user, password, query or fragment: none would be sent), or several separated by commas',
    );

export const redisUrl = z
  .string()
  .default('redis://redis:6379')
  .refine(isRedisUrl, 'expected a redis:// URL: redis://[user:password@]host[:port][/database number]');

export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'expected one of fatal, error, warn, info, debug, trace, silent' })
  .default('info');

/** Settings shared by every HTTP service. */
export const serverEnv = {
  PORT: port(80),
  // Both families; listen() falls back to 0.0.0.0 where the kernel has no IPv6.
  HOST: z.string().min(1).default('::'),
  LOG_LEVEL: logLevel,
  // The name this instance gives itself in logs, metrics and the X-Instance header: a header
  // value cannot hold every character (Node throws at the first answer), so printable ASCII.
  INSTANCE_NAME: z
    .string()
    .regex(/^[\x21-\x7e](?:[\x20-\x7e]{0,98}[\x21-\x7e])?$/, 'expected 1 to 100 printable ASCII characters, not starting or ending with a space')
    .default(os.hostname()),
};

function isHttpUrl(s: string): boolean {
  if (!URL.canParse(s.trim())) return false;
  const url = new URL(s.trim());
  const unsent = url.username || url.password || url.search || url.hash;
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && !unsent;
}

/** A path of nothing or a database number: the client refuses any other ("Invalid pathname"). */
function isRedisUrl(s: string): boolean {
  return /^rediss?:\/\/[^\s]+$/.test(s) && URL.canParse(s) && /^(\/\d*)?$/.test(new URL(s).pathname);
}

/**
 * `value` with the password of any URL in it hidden, parsed or not: a line may be read by anyone.
 * A user name alone (`//name@`) is hidden too: some clients take it as the password.
 */
export function withoutPassword(value: string): string {
  // Each URL of a list (RNG_URL, HASHER_URL take several).
  return value
    .split(',')
    .map((url) => url.replace(/\/\/([^/@]*?)(:[^]*)?@/, (_, user: string, password?: string) => (password === undefined ? '//***@' : `//${user}:***@`)))
    .join(',');
}

export class ConfigError extends Error {}

/** Parses `env` with `shape`; throws a ConfigError with one readable line on the first bad variable. */
export function parseConfig<S extends z.ZodRawShape>(
  shape: S,
  env: Record<string, string | undefined> = process.env,
): z.output<z.ZodObject<S>> {
  // Empty variables count as unset, as in most twelve-factor tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = z.object(shape).safeParse(present);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? '?');
  const got = present[name];
  throw new ConfigError(`invalid ${name}=${JSON.stringify(got === undefined ? got : withoutPassword(got))}: ${issue.message}`);
}

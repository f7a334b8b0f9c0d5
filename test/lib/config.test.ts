import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig, withoutPassword } from '../../src/lib/config.js';
import { workerEnv } from '../../src/worker/app.js';

describe('configuration', () => {
  it('defaults reproduce the workshop', () => {
    const config = parseConfig(workerEnv, {});
    assert.equal(config.PORT, 80);
    assert.equal(config.RNG_URL, 'http://rng');
    assert.equal(config.HASHER_URL, 'http://hasher');
    assert.equal(config.REDIS_URL, 'redis://redis:6379');
    assert.equal(config.WORK_DELAY_MS, 100);
    assert.equal(config.UPSTREAM_CONNECTIONS, 'balanced');
    assert.equal(config.HOST, '::');
  });

  it('accepts IPv6 literals in URLs', () => {
    const config = parseConfig(workerEnv, {
      RNG_URL: 'http://[fd00::5],http://[fd00::6]:8001',
      HASHER_URL: 'http://[::1]:8002',
      REDIS_URL: 'redis://[::1]:6379',
    });
    assert.equal(config.RNG_URL, 'http://[fd00::5],http://[fd00::6]:8001');
    assert.equal(config.REDIS_URL, 'redis://[::1]:6379');
  });

  it('treats empty variables as unset', () => {
    assert.equal(parseConfig(workerEnv, { WORK_DELAY_MS: '' }).WORK_DELAY_MS, 100);
  });

  for (const [name, value, expected] of [
    ['RNG_URL', 'not a url', /RNG_URL="not a url": expected an http:\/\/ URL/],
    ['HASHER_URL', 'ftp://hasher', /HASHER_URL="ftp:\/\/hasher": expected an http:\/\/ URL/],
    ['WORK_DELAY_MS', '-5', /WORK_DELAY_MS="-5": expected a whole number of milliseconds/],
    ['PORT', '99999', /PORT="99999": expected a TCP port number/],
    ['REDIS_URL', 'localhost:6379', /REDIS_URL="localhost:6379": expected a redis:\/\/ URL/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL="loud": expected one of/],
    ['UPSTREAM_CONNECTIONS', 'sometimes', /expected one of balanced, per-call, keep-alive/],
    ['RNG_URL', 'http://[fd00::5', /RNG_URL="http:\/\/\[fd00::5": expected an http:\/\/ URL/],
    ['HASHER_URL', 'http://fd00::5:8002', /HASHER_URL="http:\/\/fd00::5:8002": expected an http:\/\/ URL/],
    ['REDIS_URL', 'redis://[::1:6379', /REDIS_URL="redis:\/\/\[::1:6379": expected a redis:\/\/ URL/],
    ['REDIS_URL', 'redis://[fd00::zz]:6379', /expected a redis:\/\/ URL/],
    ['MAX_BACKOFF_MS', '10000', /expected at most 2000 ms/],
  ] as const) {
    it(`rejects ${name}=${value} naming the variable`, () => {
      assert.throws(() => parseConfig(workerEnv, { [name]: value }), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, expected);
        assert.equal(err.message.split('\n').length, 1);
        return true;
      });
    });
  }

  it('hides the password of every URL of a list, not only the first', () => {
    const shown = withoutPassword('http://a@h1,http://b:secret@h2,redis://:pw@h3/0');
    assert.equal(shown, 'http://***@h1,http://b:***@h2,redis://:***@h3/0');
  });
});

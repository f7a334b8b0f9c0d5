// docs/configuration.md's table of environment variables against the services' own schemas: the
// same variables, for the same services, with the defaults the schemas give. The doc copies the
// defaults for its readers; this test keeps the copy true.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import type * as z from 'zod';
import { hasherEnv } from '../../src/hasher/app.js';
import { rngEnv } from '../../src/rng/app.js';
import { webuiEnv } from '../../src/webui/app.js';
import { workerEnv } from '../../src/worker/app.js';

const schemas: Record<string, Record<string, z.ZodType>> = { rng: rngEnv, hasher: hasherEnv, worker: workerEnv, webui: webuiEnv };

interface Row {
  services: string[];
  /** The default in backticks, or undefined when the doc says it in words (the hostname). */
  literal: string | undefined;
}

function documentedRows(): Map<string, Row> {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const rows = new Map<string, Row>();
  for (const match of doc.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \| ([^|]+) \|/gm)) {
    const [, name, services, fallback] = match as unknown as [string, string, string, string];
    const named = services.trim() === 'all' ? Object.keys(schemas) : services.split(',').map((s) => s.trim());
    rows.set(name, { services: named.sort(), literal: /^`(.*)`$/.exec(fallback.trim())?.[1] });
  }
  return rows;
}

function schemaServices(): Map<string, string[]> {
  const services = new Map<string, string[]>();
  for (const [service, shape] of Object.entries(schemas)) {
    for (const name of Object.keys(shape)) services.set(name, [...(services.get(name) ?? []), service].sort());
  }
  return services;
}

it('docs/configuration.md lists every variable of the schemas, for the services that read it, and no other', () => {
  const documented = new Map([...documentedRows()].map(([name, row]) => [name, row.services]));
  assert.deepEqual(Object.fromEntries([...documented].sort()), Object.fromEntries([...schemaServices()].sort()));
});

it("docs/configuration.md's defaults in backticks are the schemas' defaults", () => {
  const rows = [...documentedRows()].filter(([, row]) => row.literal !== undefined);
  assert.ok(rows.length >= 10, `only ${rows.length} defaults in backticks were found: has the table's layout changed?`);
  for (const [name, row] of rows) {
    for (const service of row.services) {
      const fallback = schemas[service]![name]!.parse(undefined);
      assert.equal(row.literal, String(fallback), `${name}'s default for ${service}`);
    }
  }
});

// `lab check` without Docker: the clusters file's parser over generated files (good lines,
// comments, blank lines, and one malformed line anywhere), and the reports' rendering (the HTML
// page self-contained, its input escaped). Seeded: CHECK_SEED=<n> replays a run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ClustersFileError, parseClusters } from '../../src/cli/check/clusters-file.js';
import { renderHtml, renderTable, type CheckReport, type ClusterResult } from '../../src/cli/check/report.js';

const seed = Number(process.env.CHECK_SEED ?? Date.now() % 2 ** 31);
const runs = { seed, numRuns: 300, interruptAfterTimeLimit: 20_000 };

const name = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/);
const address = fc.oneof(name, fc.ipV4(), fc.ipV6().map((a) => `[${a}]`));
const port = fc.option(fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`), { nil: '' });
const host = fc.oneof(
  fc.tuple(address, port).map(([h, p]) => `tcp://${h}${p}`),
  fc.tuple(fc.option(fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/)), address, port).map(([u, h, p]) => `ssh://${u ? `${u}@` : ''}${h}${p}`),
  fc.stringMatching(/^\/[a-z0-9/._-]{1,30}$/).map((p) => `unix://${p}`),
  fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.+-]{0,20}$/),
);
const label = fc.array(fc.stringMatching(/^[^\s#=]{1,12}$/), { maxLength: 3 });
const registry = fc.option(fc.tuple(name, fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`));
const blank = fc.constantFrom('', '   ', '\t', '# a comment', '  # indented comment', '#tcp://not-a-cluster:1');
const goodLine = fc.record({ host, label, registry, comment: fc.boolean(), pad: fc.constantFrom('', ' ', '\t') });
const badHost = fc.oneof(
  fc.constantFrom('http://example.com', 'tcp://', 'ssh://', 'unix://relative', 'tcp://host:port', 'ssh://user@', '-context', '.hidden', 'tcp//host:2375'),
  // A character no host, URL or context name holds, anywhere in the first word.
  fc.tuple(fc.stringMatching(/^[a-z0-9]{0,6}$/), fc.constantFrom('!', '$', ';', '*', '?', '"', '\\', '<', ','), fc.stringMatching(/^[a-z0-9]{0,6}$/)).map(([a, c, b]) => `${a}${c}${b}`),
);
const badLine = fc.oneof(
  badHost,
  fc.tuple(host, fc.constantFrom('registry=', 'registry=a:b', 'region=eu', 'Registry=x:1')).map(([h, bad]) => `${h} ${bad}`),
);

type Good = { host: string; label: string[]; registry: string | null; comment: boolean; pad: string };
const render = (g: Good) => `${g.pad}${g.host}${g.registry ? ` registry=${g.registry}` : ''}${g.label.length ? ` ${g.label.join(' ')}` : ''}${g.comment ? ' # note' : ''}`;
/** Good lines with distinct hosts (a host twice is an error of its own) among blank and comment lines. */
const goodFile = fc.array(fc.oneof(goodLine, blank), { minLength: 1, maxLength: 25 }).map((lines) => {
  const seen = new Set<string>();
  return lines.filter((l) => typeof l === 'string' || (!seen.has(l.host) && seen.add(l.host)));
});

test(`the parser returns every good line, in order, with its line number (seed ${seed})`, () => {
  fc.assert(
    fc.property(goodFile, fc.constantFrom('', '\uFEFF'), fc.constantFrom('\n', '\r\n'), (lines, bom, newline) => {
      const goods = lines.flatMap((l, i) => (typeof l === 'string' ? [] : [{ ...l, line: i + 1 }]));
      const text = bom + lines.map((l) => (typeof l === 'string' ? l : render(l))).join(newline);
      if (goods.length === 0) return assert.throws(() => parseClusters(text, 'c.txt'), /^Error: c\.txt: no cluster/);
      const parsed = parseClusters(text, 'c.txt');
      assert.deepEqual(
        parsed.map((p) => [p.line, p.host, p.label, p.registry]),
        goods.map((g) => [g.line, g.host, g.label.length ? g.label.join(' ') : g.host, g.registry ?? undefined]),
      );
    }),
    runs,
  );
});

test(`a malformed line anywhere is one error naming that line (seed ${seed})`, () => {
  fc.assert(
    fc.property(goodFile, badLine, fc.nat(), (lines, bad, at) => {
      const text = lines.map((l) => (typeof l === 'string' ? l : render(l)));
      const where = at % (text.length + 1);
      text.splice(where, 0, bad);
      assert.throws(
        () => parseClusters(text.join('\n'), 'c.txt'),
        (err: Error) => err instanceof ClustersFileError && err.message.startsWith(`c.txt:${where + 1}: `) && !err.message.includes('\n'),
      );
    }),
    runs,
  );
});

test('a host given twice is an error naming both lines', () => {
  assert.throws(() => parseClusters('tcp://a:1\n\nctx one\ntcp://a:1 again', 'f'), /^Error: f:4: tcp:\/\/a:1 is already line 1$/);
});

// Any text, and text made of markup's own pieces (a tag, an entity, a quote).
const markup = fc.array(fc.constantFrom('<', '>', '&', '"', "'", '&lt;', '&amp;', '&#39;', '<b>', '</td>', '<script>', 'x', ' '), { maxLength: 12 }).map((p) => p.join(''));
const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), markup);
const clusterResult: fc.Arbitrary<ClusterResult> = fc.record({
  label: text,
  host: text,
  ok: fc.boolean(),
  seconds: fc.double({ min: 0, max: 1e4, noNaN: true }),
  steps: fc.array(fc.record({ step: text, ok: fc.boolean(), seconds: fc.double({ min: 0, max: 1e4, noNaN: true }), figure: text, reason: text, command: text }), { maxLength: 5 }),
});
const report = fc.array(clusterResult, { minLength: 1, maxLength: 5 }).map((clusters): CheckReport => ({ ok: clusters.every((c) => c.ok), started: '2026-01-01T00:00:00.000Z', seconds: 1, clusters }));

const tags = /^<(!doctype html|\/?(html|head|meta|title|style|body|h1|p|table|thead|tbody|tr|th|td|code|ol|li|b|br)\b[^<>]*)>/;
const unescape = (html: string) => html.replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!);

test(`the HTML report escapes what it shows and fetches nothing (seed ${seed})`, () => {
  fc.assert(
    fc.property(report, (r) => {
      const html = renderHtml(r);
      // Every '<' opens one of the page's own tags: no input became markup.
      for (const at of html.matchAll(/</g)) assert.match(html.slice(at.index), tags);
      assert.doesNotMatch(html, /<(script|link|img|iframe)|\b(src|href)=|url\(/i);
      const shown = unescape(html.replace(/<[^<>]*>/g, '\u0000'));
      for (const c of r.clusters) {
        for (const t of [c.label, c.host, ...c.steps.map((s) => (s.ok ? s.figure! : s.reason!))]) assert.ok(shown.includes(t), `${JSON.stringify(t)} is on the page`);
      }
    }),
    runs,
  );
});

test('the table gives each cluster its verdict, and each failure its reason and command', () => {
  const steps = [
    { step: 'nodes', ok: true, seconds: 0.2, figure: '2 node(s) Ready' },
    { step: 'image', ok: false, seconds: 1.5, reason: 'docker push 127.0.0.1:5011/dockercoins-check:x failed: connection refused', command: 'docker push 127.0.0.1:5011/dockercoins-check:x' },
  ];
  const table = renderTable({
    ok: false,
    started: '2026-01-01T00:00:00.000Z',
    seconds: 151.25,
    clusters: [
      { label: 'ca', host: 'tcp://127.0.0.1:23771', ok: true, seconds: 150, steps: [steps[0]!] },
      { label: 'cb', host: 'tcp://127.0.0.1:23781', ok: false, seconds: 3, steps },
    ],
  });
  assert.equal(
    table,
    `CLUSTER  HOST                   RESULT           TIME
ca       tcp://127.0.0.1:23771  passed           150.0 s
cb       tcp://127.0.0.1:23781  failed at image  3.0 s

cb ✗ image: docker push 127.0.0.1:5011/dockercoins-check:x failed: connection refused
  command: docker push 127.0.0.1:5011/dockercoins-check:x

1 of 2 cluster(s) passed in 151.3 s
`,
  );
});

// The ipsec chapter's readings without a Swarm: the requests to rng and hasher in ngrep's output
// (-W byline, as captured on a docker-in-docker node's eth0), and the node's IPsec state from
// `ip -s xfrm state` and /proc/net/xfrm_stat, with ESP working and without. The real run is in
// test/e2e/labs.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Command as CliCommand } from 'commander';
import { ipsecScript, ipsecState, requestsSeen } from '../../src/cli/lab/ipsec-chapter.js';
import { labOptions, sharedOptions } from '../../src/cli/lab/options.js';
import { EngineLacks, type Play } from '../../src/cli/lab/script.js';
import { Failure } from '../../src/lib/wait.js';

// Two VXLAN packets as ngrep printed them here (the inner frames' bytes as dots), and one of the
// docker API (a response, not a request to rng or hasher).
const ngrep = [
  'interface: eth0 (172.31.240.0/255.255.255.0)',
  'filter: ( udp port 4789 ) and ((ip || ip6) || (vlan && (ip || ip6)))',
  'match (JIT): HTTP',
  '#',
  'U 2026/12/06 18:05:46.603989 172.31.240.12:57920 -> 172.31.240.11:4789 #1',
  '.........B',
  '.....E..k?j@.@...',
  'BP.....uGET /32 HTTP/1.1.',
  'host: rng.',
  'Connection: keep-alive.',
  '.',
  '##',
  'U 2026/12/06 18:05:46.643256 172.31.240.12:36538 -> 172.31.240.11:4789 #13',
  'b5.@f...POST / HTTP/1.1.',
  'host: hasher.',
  'content-type: application/octet-stream.',
  '.',
  'U 2026/12/06 18:05:46.656418 172.31.240.13:45546 -> 172.31.240.11:4789 #15',
  'f...X+..POST / HTTP/1.1.',
  'Host: hasher',
  'HTTP/1.1 200 OK.',
  'x-instance: dd520dd554f5.',
  'exit',
  '571 received, 165 matched',
].join('\n');

test('requestsSeen: one request per host header to rng or hasher, whatever its case', () => {
  assert.deepEqual(requestsSeen(ngrep), { rng: 1, hasher: 2 });
  assert.deepEqual(requestsSeen('match (JIT): HTTP\nexit\n0 received, 0 matched\n'), { rng: 0, hasher: 0 });
  assert.deepEqual(requestsSeen('x-host: rng.\nhost: rngx.\n'), { rng: 0, hasher: 0 }, 'only the header itself');
});

/** One packet as ngrep -W byline prints it: its header line, the frame's bytes as dots, then its text. */
const packet = fc.record({
  kind: fc.constantFrom('rng', 'hasher', 'other', 'response', 'noise'),
  host: fc.constantFrom('host', 'Host', 'HOST'),
  // The TCP and VXLAN headers' bytes before the request line, as ngrep prints them.
  bytes: fc.string({ unit: fc.constantFrom('.', 'B', 'E', '@', 'u', '#', ' ', ':'), maxLength: 30 }),
  // Lines a request or a response also holds: near misses of the header counted.
  extra: fc.array(fc.constantFrom('x-host: rng.', 'host: rngs.', 'Host: hasher-2', 'referer: http://rng/.', 'content-type: text/plain.', '.'), { maxLength: 3 }),
});
const requests = { rng: 'GET /32 HTTP/1.1.', hasher: 'POST / HTTP/1.1.', other: 'GET / HTTP/1.1.' } as const;
type Packet = typeof packet extends fc.Arbitrary<infer T> ? T : never;
const print = (p: Packet, i: number) => [
  `U 2026/12/06 18:05:46.${String(i).padStart(6, '0')} 172.31.240.12:57920 -> 172.31.240.11:4789 #${i}`,
  p.bytes,
  ...(p.kind === 'noise' ? [] : p.kind === 'response' ? [`${p.bytes}HTTP/1.1 200 OK.`] : [`${p.bytes}${requests[p.kind]}`, `${p.host}: ${p.kind === 'other' ? 'webui' : p.kind}.`]),
  ...p.extra,
];

test('requestsSeen, generated captures: exactly the requests to rng and to hasher, whatever the packets around them', (t) => {
  const seed = Number(process.env.IPSEC_SEED ?? Date.now() % 2 ** 31);
  t.diagnostic(`seed ${seed} (IPSEC_SEED=${seed} replays it)`);
  const result = fc.check(
    fc.property(fc.array(packet, { maxLength: 60 }), (packets) => {
      const capture = ['interface: eth0', 'match (JIT): HTTP', ...packets.flatMap(print), 'exit', `${packets.length} received`].join('\n');
      assert.deepEqual(requestsSeen(capture), { rng: packets.filter((p) => p.kind === 'rng').length, hasher: packets.filter((p) => p.kind === 'hasher').length });
    }),
    { seed, numRuns: 500, interruptAfterTimeLimit: 10_000 },
  );
  if (result.failed) assert.fail(`seed ${seed} (IPSEC_SEED=${seed}), run ${result.numRuns}: ${fc.defaultReportMessage(result)}`);
  assert.ok(result.numRuns >= 100, `only ${result.numRuns} captures within 10 s`);
});

test('ipsecState: no ESP state and the packets dropped for want of one, as this docker-in-docker node reads', () => {
  assert.deepEqual(ipsecState('XfrmOutNoStates         \t805\n'), { espStates: 0, espPackets: 0, droppedNoState: 805 });
});

test('ipsecState: ESP states and the packets they carried, as `ip -s xfrm state` prints them', () => {
  const state = (spi: string, packets: number) =>
    [
      'src 172.31.240.11 dst 172.31.240.12',
      `\tproto esp spi ${spi} reqid 13681891 mode transport`,
      '\treplay-window 0 ',
      '\taead rfc4106(gcm(aes)) 0xa3493519621df93bbf455cc6534c254bd0bd599a 64',
      '\tlifetime config:',
      '\t  limit: soft (INF)(bytes), hard (INF)(bytes)',
      '\t  limit: soft (INF)(packets), hard (INF)(packets)',
      '\tlifetime current:',
      `\t  ${packets * 150}(bytes), ${packets}(packets)`,
      '\tstats:',
      '\t  replay-window 0 replay 0 failed 0',
    ].join('\n');
  assert.deepEqual(ipsecState(`${state('0xd0bd599a', 40)}\n${state('0xc78a1d12', 2)}\nXfrmOutNoStates         \t0\n`), { espStates: 2, espPackets: 42, droppedNoState: 0 });
});

/** The verdict of 'Sniff the encrypted network' on a capture and a node's IPsec state, as the lab reads them. */
function verdict(capture: string, xfrm: string) {
  const o = labOptions(sharedOptions(new CliCommand('lab')).parse([], { from: 'user' }).opts());
  const step = ipsecScript(o).steps.find((s) => s.title === 'Sniff the encrypted network')!;
  const expect = step.actions.find((a) => a.do === 'expect')!;
  const play = { options: o, vars: { HOSTNAME: 'node1' }, out: { secure: capture, xfrm }, figures: { plainRequests: 160 } } as unknown as Play;
  return () => (expect.do === 'expect' ? expect.check(play) : undefined);
}

test('requests in clear on the encrypted network are a failure, never a lack of the engine, whatever its ESP state', () => {
  const noEsp = 'XfrmOutNoStates         \t805\n';
  assert.throws(verdict(ngrep, noEsp), (err) => err instanceof Failure && !(err instanceof EngineLacks) && /seen in clear on secure, the encrypted network/.test(err.message));
  assert.throws(verdict('', noEsp), (err) => err instanceof EngineLacks && /dropped, not encrypted \(0 requests seen on it/.test(err.message));
});

// The ipsec chapter's readings without a Swarm: the requests to rng and hasher in ngrep's output
// (-W byline, as captured on a docker-in-docker node's eth0), and the node's IPsec state from
// `ip -s xfrm state` and /proc/net/xfrm_stat, with ESP working and without. The real run is in
// test/e2e/labs.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipsecState, requestsSeen } from '../../src/cli/lab/ipsec-chapter.js';

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

// The workshop's ipsec chapter ("Securing overlay networks"): an encrypted and a plain overlay
// network, created as the page does; ngrep on a node's interface sees DockerCoins' own calls to
// rng and hasher in clear text while the app runs on a plain overlay, and none once the app is on
// the encrypted one. Whether the traffic was encrypted is read from the node's IPsec state (ESP
// security associations): an engine that cannot make them drops the traffic instead, and the
// step says so with a ✗ (EngineLacks), never a ✓.
import { Failure, waitUntil } from '../../lib/wait.js';
import { waitForClimbing } from '../swarm.js';
import { runningApp } from './app.js';
import type { LabOptions } from './options.js';
import { EngineLacks, departs, docker, labCheck, run, type Action, type ChapterScript, type Command, type Play, type Step } from './script.js';
import { cliNode, deployStack, deployedTag, service, stack, stackNetwork, stackServices, waitForStack, waitOptions, webuiUrl } from './stack.js';
import { netshootImage, netshootImageStep } from './stand-in.js';

const secure = 'secure';
const insecure = 'insecure';
/** The networks the chapter creates, for `lab clean`. */
export const ipsecNetworks = [secure, insecure];

/** Length of each capture, s: enough for the workers' many calls a second. */
const captureSeconds = 5;
const ifaceOfNodes = 'eth0';

/** HTTP requests to rng and hasher in ngrep's output (-W byline: one header a line). */
export function requestsSeen(ngrep: string): { rng: number; hasher: number } {
  const count = (host: string) => ngrep.match(new RegExp(`^host: ${host}\\.?$`, 'gim'))?.length ?? 0;
  return { rng: count('rng'), hasher: count('hasher') };
}

/** The node's IPsec state (`ip -s xfrm state`, then the XfrmOutNoStates line of /proc/net/xfrm_stat). */
export function ipsecState(out: string): { espStates: number; espPackets: number; droppedNoState: number } {
  const packets = [...out.matchAll(/(\d+)\(packets\)/g)].map((m) => Number(m[1]));
  return {
    espStates: out.match(/proto esp/g)?.length ?? 0,
    // Each state's "lifetime current" line: bytes, then packets.
    espPackets: packets.reduce((a, b) => a + b, 0),
    droppedNoState: Number(/XfrmOutNoStates\s+(\d+)/.exec(out)?.[1] ?? 0),
  };
}

/** Waits until every service of the stack runs all its tasks, each attached to `network`. */
async function waitForStackOn(p: Play, network: string): Promise<void> {
  await waitUntil(
    `every task of ${stack} on ${network}`,
    async () => {
      await waitForStack(p);
      const tasks = (await Promise.all(stackServices.map((s) => p.docker(['service', 'ps', '-q', '--filter', 'desired-state=running', service(s)], { signal: p.signal })))).join('\n').split('\n').filter(Boolean);
      const networks = (await p.docker(['inspect', '--format', '{{.Status.State}} {{range .NetworksAttachments}}{{.Network.Spec.Name}},{{end}}', ...tasks], { signal: p.signal })).trim().split('\n');
      const elsewhere = networks.filter((n) => !n.startsWith('running ') || !n.split(' ')[1]!.split(',').includes(network)).length;
      p.progress(`${networks.length - elsewhere} of ${networks.length} tasks running on ${network}`);
      if (elsewhere) throw new Error(`${elsewhere} of ${networks.length} tasks not yet running on ${network}`);
      return true;
    },
    waitOptions(p),
  );
}

/** The two networks as the page creates them: the encrypted option on one only. */
const networksAsCreated: Action = {
  do: 'expect',
  that: `${secure}: an overlay with the encrypted option; ${insecure}: an overlay without`,
  async check(p) {
    const out = await p.docker(['network', 'inspect', secure, insecure, '--format', '{{.Name}} {{.Driver}} {{json .Options}}'], { signal: p.signal });
    // `--opt encrypted` is an option with an empty value: its presence is what counts.
    const kinds = out.trim().split('\n').map((line) => {
      const [name, driver, options] = line.split(' ') as [string, string, string];
      return `${name} ${driver} ${'encrypted' in (JSON.parse(options) as object) ? 'encrypted' : 'plain'}`;
    });
    const figure = kinds.join('; ');
    if (figure !== `${secure} overlay encrypted; ${insecure} overlay plain`) throw new Failure(figure);
    return { figure };
  },
};

/** The app's own calls, read in the capture of the plain overlay. */
const seenInClear: Action = {
  do: 'expect',
  that: "the workers' requests to rng and hasher, in clear text in the VXLAN packets on the node's interface",
  unwatchable: 'it reads what ngrep printed',
  check(p) {
    const seen = requestsSeen(p.out.plain!);
    const figure = `${seen.rng + seen.hasher} HTTP requests seen in clear on ${stackNetwork()} over ${captureSeconds} s on ${p.vars.HOSTNAME}'s ${ifaceOfNodes} (${seen.rng} to rng, ${seen.hasher} to hasher)`;
    if (!seen.rng || !seen.hasher) throw new Failure(`${figure}; expected both`);
    return { figure, values: { plainRequests: seen.rng + seen.hasher, rngRequests: seen.rng, hasherRequests: seen.hasher, seconds: captureSeconds } };
  },
};

/** None in clear on the encrypted network, and ESP carrying it; or, with no ESP state and nothing crossing, the engine's lack. */
const encryptedOrLacking: Action = {
  do: 'expect',
  that: "no request in clear on the encrypted network; the node's ESP security associations carrying its packets",
  unwatchable: 'it reads what ngrep and ip xfrm printed',
  check(p) {
    const seen = requestsSeen(p.out.secure!);
    const { espStates, espPackets, droppedNoState } = ipsecState(p.out.xfrm!);
    const values = { secureRequests: seen.rng + seen.hasher, espStates, espPackets, droppedNoState, seconds: captureSeconds };
    const plain = `${p.figures.plainRequests} HTTP requests to rng/hasher seen in clear on the plain overlay over ${captureSeconds} s`;
    // Requests in clear on the network called encrypted are a failure, whatever the node's ESP state.
    if (values.secureRequests) throw new Failure(`${values.secureRequests} HTTP requests to rng/hasher seen in clear on ${secure}, the encrypted network (${espStates} ESP security associations, ${espPackets} ESP packets on ${p.vars.HOSTNAME})`);
    if (!espStates)
      throw new EngineLacks(
        `no IPsec on this engine: ${espStates} ESP security associations, ${espPackets} ESP packets on ${p.vars.HOSTNAME}; ${droppedNoState} packets dropped for want of one (XfrmOutNoStates): the traffic on ${secure} is dropped, not encrypted (${values.secureRequests} requests seen on it; ${plain})`,
      );
    const figure = `${plain}; ${values.secureRequests} on the encrypted one (${espPackets} ESP packets through ${espStates} security associations)`;
    if (!espPackets) throw new Failure(`${figure}: nothing crossed ${secure} from ${p.vars.HOSTNAME}`);
    return { figure, values };
  },
};

/** The app back on its own network, counting again. */
const backOnItsNetwork: Action = {
  do: 'wait',
  for: `every task back on ${stackNetwork()}; the hash counter climbing`,
  async until(p) {
    await waitForStackOn(p, stackNetwork());
    const url = await webuiUrl(p);
    const later = await waitForClimbing(url, waitOptions(p));
    return { figure: `every task back on ${stackNetwork()}; ${url}/json: ${later.hashes} hashes, climbing`, values: { hashes: later.hashes } };
  },
};

/** ngrep on a node's interface for a few seconds, its output kept under `key`. */
function capture(o: LabOptions, key: string, ...why: string[]): Action {
  const image = netshootImage(o);
  return run(
    departs(
      { args: ['run', '--rm', '--net', 'host', image, 'sh', '-c', `timeout --preserve-status -s INT ${captureSeconds} ngrep -l -tpd ${ifaceOfNodes} -W byline HTTP udp port 4789 || test $? = 1`] },
      `${image} for nicolaka/netshoot`,
      `timeout -s INT ${captureSeconds}: the workshop's Ctrl-C, after ${captureSeconds} s; ngrep's status 1 (nothing matched) is an answer here`,
      "udp port 4789: only the overlay's VXLAN packets, not the docker CLI's own connection to this node, which carries ngrep's output and would be captured again; -l -W byline: its lines as they come, one header a line, to count them",
      ...why,
    ),
    { keep: key },
  );
}

const networkRm = (name: string) => run(departs(docker('network', 'rm', name), 'not on the page: the network removed'), { retry: 'the moved tasks to let go of it', settles: [name] });
const createNetwork = (c: Command, name: string) => run(c, { undo: { key: name, actions: [networkRm(name)] } });

const twoNetworksStep = (): Step => ({
  title: 'Two networks: encrypted and not',
  actions: [
    createNetwork(docker('network', 'create', insecure, '--driver', 'overlay', '--attachable'), insecure),
    createNetwork(docker('network', 'create', secure, '--opt', 'encrypted', '--driver', 'overlay', '--attachable'), secure),
    networksAsCreated,
  ],
});

const captureImageStep = (o: LabOptions): Step =>
  netshootImageStep(
    o,
    'A capture image (departure: Debian packages for netshoot)',
    "the netshoot chapter's debug image, where the workshop runs ngrep from nicolaka/netshoot: no image registry is reachable here, Debian's packages are (ngrep, and iproute2 for the lab's look at the node's IPsec state)",
  );

const sniffPlainStep = (o: LabOptions): Step => ({
  title: 'Sniff the plain overlay',
  actions: [cliNode, capture(o, 'plain', `the app on its own plain overlay (${stackNetwork()}), like the page's ${insecure}: moving it there would be one more rolling update`), seenInClear],
});

const appOnEncryptedStep = (o: LabOptions, back: Action): Step => ({
  title: 'The app on the encrypted network',
  actions: [
    {
      do: 'measure',
      what: 'TAG: the one the stack runs',
      async measure(p) {
        p.vars.TAG = await deployedTag(p);
        return {};
      },
    },
    run(
      departs(
        deployStack(o, { flag: '-c', tag: '$TAG', extra: ['encrypted.yml'] }),
        `not on the page, which sends its own requests (curl web) over ${secure}: encrypted.yml makes ${secure} the stack's network, so that the app's own calls cross it (redis starts again on it, its counters from 0: no volume yet, the stateful chapter gives it one); TAG: the one the stack runs`,
      ),
      { undo: { key: 'moved', actions: [back, backOnItsNetwork] } },
    ),
    { do: 'wait', for: `every task running on ${secure}`, until: (p) => waitForStackOn(p, secure).then(() => ({ figure: `every task of ${stack} running on ${secure}` })) },
  ],
});

const sniffEncryptedStep = (o: LabOptions): Step => ({
  title: 'Sniff the encrypted network',
  actions: [
    capture(o, 'secure'),
    run(labCheck(docker('run', '--rm', '--net', 'host', '--cap-add', 'NET_ADMIN', netshootImage(o), 'sh', '-c', 'ip -s xfrm state; grep XfrmOutNoStates /proc/net/xfrm_stat'), "the node's ESP security associations and the packets they carried (ip -s xfrm state), and those dropped for want of one (XfrmOutNoStates): 0 requests in clear is encryption only if ESP carried them"), {
      keep: 'xfrm',
    }),
    encryptedOrLacking,
  ],
});

const backToPlainStep = (back: Action): Step => ({
  title: 'Back to the plain overlay; the networks removed',
  actions: [back, backOnItsNetwork, networkRm(secure), networkRm(insecure)],
});

export function ipsecScript(o: LabOptions): ChapterScript {
  const back = run(departs(deployStack(o, { flag: '-c', tag: '$TAG' }), 'not on the page: the app back on its own network for the next chapter; TAG: the one the stack runs'), { settles: ['moved'] });
  return {
    name: 'The ipsec chapter',
    header: `The ipsec chapter: securing overlay networks (stack dockercoins, endpoint mode ${o.endpointMode})`,
    keyStep: 'Sniff the encrypted network',
    steps: [runningApp(o), twoNetworksStep(), captureImageStep(o), sniffPlainStep(o), appOnEncryptedStep(o, back), sniffEncryptedStep(o), backToPlainStep(back)],
  };
}

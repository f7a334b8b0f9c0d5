// The workshop's centralized logging chapter, as its page reads: a GELF receiver deployed as a
// stack (elk.yml), a test message from a one-off container, then rng's logs sent with
// `docker service update --log-driver gelf`. The ELK images cannot be pulled here: the receiver
// is a stand-in (stacks/gelf-receiver.Dockerfile) that prints each message as a JSON line, which
// `docker service logs` reads. Measured: rng's lines arriving from every node with the fields
// Docker's driver sends, then none once the driver is taken off again.
import { existing, isRunning, serviceTasks, waitForTasks, type Task } from '../swarm.js';
import { sleep } from '../../lib/sleep.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import { runningApp } from './app.js';
import { registryEnv, type LabOptions } from './options.js';
import { departs, detached, docker, run, type Action, type ChapterScript, type Command, type Play, type RunAction, type Step } from './script.js';
import { removeStacks, service, waitOptions } from './stack.js';

export const elkStack = 'elk';
/** The receiver's service, as `docker stack deploy` names it. */
export const logstash = `${elkStack}_logstash`;
const rng = service('rng');
/** As on the page: each node's own port 12201, where the receiver runs on every node (elk.yml). */
const gelfAddress = 'udp://127.0.0.1:12201';
/** What Docker's gelf driver adds to every line of a container (moby's daemon/logger/gelf). */
const gelfFields = ['host', 'short_message', 'timestamp', '_container_id', '_container_name', '_image_id', '_image_name', '_command', '_tag', '_created'];
/** A Swarm label, sent only where the driver's `labels` option names it. */
const swarmField = '_com.docker.swarm.service.name';
/** Each window over which lines are counted: short, the chapter's budget in `lab all` is tight. */
const windowMs = 5000;
const standIn =
  "a stand-in for the workshop's ELK stack (Elasticsearch, Logstash, Kibana: their images cannot be pulled here): one service, logstash, Debian's python3 printing each GELF message as a JSON line, global with its UDP port in host mode (no routing mesh without IPVS)";

/** The receiver's image, as elk.yml names it. */
export const receiverImage = (o: LabOptions) => `${o.registry}/gelf-receiver:${o.tag}`;

/** A GELF message as the receiver printed it, and the receiver's task that got it. */
export interface GelfLine {
  task: string;
  message: Record<string, unknown>;
}

/** `docker service logs` of the receiver: each task's JSON lines (`name.0.task@node    | {...}`). */
export function parseReceiverLogs(output: string): GelfLine[] {
  return output.split('\n').flatMap((line) => {
    const m = /^(\S+)\s+\|\s(\{.*\})\s*$/.exec(line);
    if (!m) return [];
    try {
      return [{ task: m[1]!, message: JSON.parse(m[2]!) as Record<string, unknown> }];
    } catch {
      return [];
    }
  });
}

const received = async (p: Play) => parseReceiverLogs(await p.docker(['service', 'logs', logstash], { signal: p.signal }));
const fromRng = (lines: GelfLine[], since = 0) => lines.map((l) => l.message).filter((m) => String(m._container_name).startsWith(`${rng}.`) && Number(m.timestamp) >= since);
const nodes = (p: Play) => Number(p.figures.nodes);
/** The manager engine's clock, in seconds: the engines stamp GELF's timestamp with theirs, not with this machine's. */
async function engineNow(p: Play): Promise<number> {
  const now = Date.parse(JSON.parse((await p.docker(['info', '--format', '{{json .SystemTime}}'], { signal: p.signal })).trim() || 'null') as string);
  if (Number.isNaN(now)) throw new Failure("docker info gave no SystemTime: the engine's clock is needed to tell the lines of a window");
  return now / 1000;
}

/** `docker-compose -f elk.yml` and `docker stack deploy -c elk.yml` in stacks/, with the variables elk.yml reads. */
function elkCommand(o: LabOptions, args: string[], program?: string): Command {
  const registry = registryEnv(o);
  const env: Record<string, string> = { TAG: o.tag, ...registry.env };
  if (program && o.debianImage && args.includes('build')) env.DEBIAN_IMAGE = o.debianImage;
  return departs({ program, args, env, dir: 'stacks', build: Boolean(program) }, registry.departure);
}

/**
 * rng's update, then the wait until every rng task is one that was not running before it (the
 * update replaced them all, one per node): the new tasks, and since when, in seconds.
 */
/** rng's tasks before an update, the new ones after it, and since when (the manager's clock, in seconds). */
interface Replaced {
  before: Set<string>;
  tasks: Task[];
  since: number;
}

function rngReplaced(update: RunAction, state: Replaced): Action[] {
  return [
    {
      do: 'measure',
      what: "rng's running tasks before the update",
      async measure(p) {
        state.before = new Set((await serviceTasks(p.docker, rng, p.signal)).filter(isRunning).map((t) => t.id));
        return {};
      },
    },
    update,
    {
      do: 'wait',
      for: 'every rng task replaced (one new task running on each node): the update converged',
      async until(p) {
        state.tasks = await waitUntil(
          'every rng task replaced',
          async () => {
            const running = (await serviceTasks(p.docker, rng, p.signal)).filter(isRunning);
            p.progress(`${running.filter((t) => !state.before.has(t.id)).length}/${nodes(p)} rng tasks replaced`);
            return running.length === nodes(p) && running.every((t) => !state.before.has(t.id)) ? running : undefined;
          },
          waitOptions(p),
        );
        state.since = await engineNow(p);
      },
    },
  ];
}

// The window and what is read over it are measures: `--coach` plays a measure only once the
// checks before it hold, so the window starts when the update converged, as in the lab.
const pause = (what: string): Action => ({ do: 'measure', what: `${windowMs / 1000} s: ${what}`, measure: (p) => sleep(windowMs, p.signal).then(() => ({})) });

/** Every receiver's task running and listening, one per node. */
const receiversListening: Action = {
  do: 'wait',
  for: `${logstash}: one task running on every node, each listening (its "ok" line)`,
  async until(p) {
    await waitForTasks(p.docker, logstash, nodes(p), { ...waitOptions(p), perNode: true });
    const listening = await waitUntil('every receiver to say ok', async () => {
      const ok = new Set((await received(p)).filter((l) => l.message.message === 'ok').map((l) => l.task));
      return ok.size >= nodes(p) ? ok.size : undefined;
    }, waitOptions(p));
    return { figure: `${logstash} listening on ${listening} nodes (${gelfAddress} on each)`, values: { receivers: listening } };
  },
};

/** rng's lines at the receivers over a window from the update, from every new task, with the driver's fields. */
const gelfLines = (gelf: Replaced): Action => ({
  do: 'measure',
  what: "lines from every rng task (one per node), each with the fields Docker's gelf driver sends: the container's name (the service's, a node and a task), id, image, command, tag",
  async measure(p) {
    const lines = fromRng(await received(p), gelf.since).filter((m) => Number(m.timestamp) < gelf.since + windowMs / 1000);
    const containers = new Set(lines.map((m) => String(m._container_name)));
    const fromNewTasks = gelf.tasks.filter((t) => [...containers].some((c) => c.endsWith(`.${t.id}`))).length;
    const missing = gelfFields.filter((f) => !lines.every((m) => f in m));
    const swarm = lines.some((m) => swarmField in m) ? `${swarmField} sent` : `no ${swarmField} (Swarm's labels go only where --log-opt labels= names them)`;
    const figure = `${lines.length} lines from rng in ${windowMs / 1000} s, from ${fromNewTasks} of ${gelf.tasks.length} tasks (${[...new Set(lines.map((m) => String(m.host)))].sort().join(', ')}); fields: ${gelfFields.filter((f) => !missing.includes(f)).join(' ')}; ${swarm}`;
    if (!lines.length || fromNewTasks < gelf.tasks.length || missing.length) throw new Failure(`${figure}${missing.length ? `; missing ${missing.join(' ')}` : ''}`);
    return { figure, values: { lines: lines.length, seconds: windowMs / 1000, tasks: fromNewTasks, fields: gelfFields.length, swarmLabel: lines.some((m) => swarmField in m) ? 'yes' : 'no' } };
  },
});

/** No line from rng at the receivers once the driver is off; the new tasks' lines in their own logs. */
const noLateLines = (off: Replaced): Action => ({
  do: 'measure',
  what: "no line from rng at logstash once the update converged; the new tasks' own lines (their start) are in docker service logs instead; rng on json-file, at its own log level",
  async measure(p) {
    const lines = await received(p);
    const late = fromRng(lines, off.since).length;
    const fromNew = fromRng(lines).filter((m) => off.tasks.some((t) => String(m._container_name).endsWith(`.${t.id}`))).length;
    const written = await Promise.all(off.tasks.map(async (t) => (await p.docker(['service', 'logs', t.id], { signal: p.signal })).split('\n').filter(Boolean).length));
    const [driver = '', env = ''] = (await p.docker(['service', 'inspect', rng, '--format', '{{.Spec.TaskTemplate.LogDriver.Name}}\t{{json .Spec.TaskTemplate.ContainerSpec.Env}}'], { signal: p.signal })).trim().split('\t');
    const level = env.includes('LOG_LEVEL=') ? 'LOG_LEVEL still set' : 'its own log level';
    const figure = `${late} lines from rng at logstash over ${windowMs / 1000} s after the update converged, ${fromNew} from its ${off.tasks.length} new tasks, which wrote ${written.reduce((a, b) => a + b, 0)} lines to their own logs; rng on ${driver}, ${level}`;
    if (late || fromNew || written.some((n) => n === 0) || driver !== 'json-file' || env.includes('LOG_LEVEL=')) throw new Failure(figure);
    return { figure, values: { lateLines: late, newTaskLines: fromNew, writtenLines: written.reduce((a, b) => a + b, 0), seconds: windowMs / 1000 } };
  },
});

/** The page's test message, sent with the gelf driver, at the receiver with its container's fields. */
function helloStep(image: string): Step {
  let helloSent = 0;
  return {
    title: 'Testing the GELF receiver',
    actions: [
      { do: 'measure', what: 'the time the test message is sent', measure: async (p) => ((helloSent = (await engineNow(p)) - 1), {}) },
      run(departs(docker('run', '--log-driver', 'gelf', '--log-opt', `gelf-address=${gelfAddress}`, '--rm', image, 'echo', 'hello'), `${image} for alpine: no image registry is reachable here`)),
      {
        do: 'wait',
        for: 'the test message at logstash, with the container it came from',
        async until(p) {
          const hello = await waitUntil('hello at logstash', async () => (await received(p)).find((l) => l.message.short_message === 'hello' && Number(l.message.timestamp) >= helloSent), waitOptions(p));
          const m = hello.message;
          return { figure: `hello arrived (${hello.task.split('@')[1]}'s receiver): host ${String(m.host)}, _container_name ${String(m._container_name)}, _image_name ${String(m._image_name)}` };
        },
      },
    ],
  };
}

/** The columns the page shows in Kibana, read from the last of rng's lines. */
const viewingLogs = (gelf: Replaced): Step => ({
  title: 'Viewing container logs',
  actions: [
    {
      do: 'expect',
      that: "the columns the page adds in Kibana: host, container_name, message (GELF's host, _container_name, short_message)",
      async check(p) {
        const last = fromRng(await received(p), gelf.since).at(-1);
        if (!last) throw new Failure('no line from rng at logstash');
        return { figure: `host ${String(last.host)} | ${String(last._container_name)} | ${String(last.short_message).slice(0, 100)}` };
      },
    },
  ],
});

/** The page's stack, on the stand-in receiver, deployed and listening. */
const deployReceiverStep = (o: LabOptions, removeReceiver: Action[]): Step => ({
  title: 'Deploying our ELK cluster (departure: a GELF receiver)',
  actions: [
    run(departs(elkCommand(o, ['-f', 'elk.yml', 'build'], 'docker-compose'), `stacks/elk.yml: ${standIn}`)),
    run(elkCommand(o, ['-f', 'elk.yml', 'push'], 'docker-compose')),
    // A stack just removed (an earlier run's) keeps its network a few seconds: a deploy then fails on it.
    run(departs(elkCommand(o, ['stack', 'deploy', '-c', 'elk.yml', elkStack]), 'the stand-in stack file'), { retry: `the ${elkStack} network of an earlier run to be gone`, undo: { key: elkStack, actions: removeReceiver } }),
    receiversListening,
    run(departs({ args: ['service', 'logs', '--tail', '1', logstash], show: true }, 'no --follow: the lab reads the last line of each task and moves on')),
  ],
});

const gelfUpdateStep = (gelf: Replaced, driverOff: RunAction): Step => ({
  title: 'Updating our services to use GELF',
  actions: [
    ...rngReplaced(
      run(
        departs(
          docker('service', 'update', rng, '--log-driver', 'gelf', '--log-opt', `gelf-address=${gelfAddress}`, '--env-add', 'LOG_LEVEL=debug', '--detach'),
          "--env-add LOG_LEVEL=debug: our rng writes a line per request only at debug (the workshop's prints every request), so that lines flow; its log options are the page's",
          detached,
        ),
        { undo: { key: 'rng-logging', actions: [driverOff] } },
      ),
      gelf,
    ),
    pause("rng's lines arriving at logstash"),
    gelfLines(gelf),
  ],
});

const gelfOffStep = (off: Replaced, driverOff: RunAction): Step => ({
  title: 'The GELF driver taken off again',
  actions: [...rngReplaced(driverOff, off), pause('any line from rng that would still arrive'), noLateLines(off)],
});

const receiverRemovedStep = (removeReceiver: Action[]): Step => ({
  title: 'The receiver removed',
  actions: [
    // No wait for its network to go: the next chapters do not use it, and a deploy of it waits itself.
    removeReceiver[0]!,
    {
      do: 'expect',
      that: `no ${logstash} left; the dockercoins stack runs on`,
      async check(p) {
        if ((await existing(p.docker, 'service', [logstash], p.signal)).length) throw new Failure(`${logstash} is still there`);
        return { figure: `${elkStack} removed; ${rng} on json-file runs on` };
      },
    },
  ],
});

export function loggingScript(o: LabOptions): ChapterScript {
  const gelf: Replaced = { before: new Set<string>(), tasks: [], since: 0 };
  const off: Replaced = { before: new Set<string>(), tasks: [], since: 0 };
  const driverOff = run(
    departs(
      docker('service', 'update', rng, '--log-driver', 'json-file', '--env-rm', 'LOG_LEVEL', '--detach'),
      "not on the page: rng back to the engines' json-file driver and its own log level, for the next chapters",
      detached,
    ),
    { settles: ['rng-logging'] },
  );
  const removeReceiver = removeStacks(elkStack);
  return {
    name: 'The logging chapter',
    header: `The centralized logging chapter: rng's logs sent with GELF (stack dockercoins, endpoint mode ${o.endpointMode})`,
    leaves: o.keep ? `The GELF receiver runs on (docker stack rm ${elkStack} removes it).` : undefined,
    keyStep: 'Updating our services to use GELF',
    steps: [
      runningApp(o),
      deployReceiverStep(o, removeReceiver),
      helloStep(receiverImage(o)),
      gelfUpdateStep(gelf, driverOff),
      viewingLogs(gelf),
      gelfOffStep(off, driverOff),
      ...(o.keep ? [] : [receiverRemovedStep(removeReceiver)]),
    ],
  };
}

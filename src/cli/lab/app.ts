// The first step of the chapters that operate the running app (netshoot, rolling, healthcheck,
// stateful): the workshop has the app running from its stacks chapter; where it is not, the lab
// deploys it (and removes it again if the chapter fails).
import { existing, waitForClimbing } from '../swarm.js';
import { Failure } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import { run, type Step } from './script.js';
import { deployStack, readyNodes, removeStacks, service, stack, stackServices, waitForStack, waitOptions, webuiUrl } from './stack.js';

export function runningApp(o: LabOptions): Step {
  return {
    title: 'The app on the Swarm',
    actions: [
      {
        do: 'expect',
        that: `every node Ready; the ${stack} stack complete, or not there at all`,
        async check(p) {
          const nodes = await readyNodes(p);
          const running = await existing(p.docker, 'service', stackServices.map(service), p.signal);
          if (running.length && running.length < stackServices.length) throw new Failure(`the ${stack} stack is incomplete (${running.join(', ')}); remove it: docker stack rm ${stack}`);
          p.figures.deployed = running.length ? 'no' : 'yes';
          return { values: { nodes } };
        },
      },
      run(deployStack(o, { flag: '-c', tag: o.tag }), {
        when: { says: `the ${stack} stack is not running (the workshop deploys it in its stacks chapter)`, holds: async (p) => p.figures.deployed === 'yes' },
        undo: { key: stack, actions: removeStacks(stack) },
      }),
      run({ args: ['stack', 'services', stack], show: true }),
      {
        do: 'wait',
        for: 'every task running; the hash counter climbing',
        async until(p) {
          await waitForStack(p);
          const url = await webuiUrl(p);
          const later = await waitForClimbing(url, waitOptions(p));
          const how = p.figures.deployed === 'yes' ? 'deployed' : 'already running';
          return { figure: `${stack} ${how} on ${p.figures.nodes} nodes; ${url}/json: ${later.hashes} hashes, climbing`, values: { hashes: later.hashes } };
        },
      },
    ],
  };
}

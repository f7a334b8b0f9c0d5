// The lab's stand-ins for images the workshop pulls and no registry here serves (nicolaka/netshoot,
// alpine's packages): a Dockerfile of Debian packages in stacks/, built on the build engine from
// --debian-image and pushed to the lab's registry, said as a departure.
import type { LabOptions } from './options.js';
import { departs, run, type Step } from './script.js';

export function debianStandIn(o: LabOptions, s: { title: string; image: string; dockerfile: string; why: string; holds: string }): Step {
  return {
    title: s.title,
    actions: [
      run(departs({ args: ['build', ...(o.debianImage ? ['--build-arg', `DEBIAN_IMAGE=${o.debianImage}`] : []), '-t', s.image, '-f', `stacks/${s.dockerfile}`, 'stacks'], build: true }, s.why)),
      run({ args: ['push', s.image], build: true }),
      { do: 'expect', that: `${s.image}: ${s.holds}`, check: () => ({ figure: `${s.image} pushed` }) },
    ],
  };
}

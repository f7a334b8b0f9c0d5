// The lab's stand-in for nicolaka/netshoot and the alpine packages the workshop installs, which no
// registry here serves: stacks/netshoot.Dockerfile, Debian's packages, built on the build engine
// from --debian-image and pushed to the lab's registry, said as a departure. The netshoot and
// ipsec chapters build the same image (in `lab all`, the second build is the first's cache).
import type { LabOptions } from './options.js';
import { departs, run, type Step } from './script.js';

export const netshootImage = (o: LabOptions) => `${o.registry}/netshoot:${o.tag}`;

export function netshootImageStep(o: LabOptions, title: string, why: string): Step {
  const image = netshootImage(o);
  return {
    title,
    actions: [
      run(departs({ args: ['build', ...(o.debianImage ? ['--build-arg', `DEBIAN_IMAGE=${o.debianImage}`] : []), '-t', image, '-f', 'stacks/netshoot.Dockerfile', 'stacks'], build: true }, why)),
      run({ args: ['push', image], build: true }),
      { do: 'expect', that: `${image}: Debian with curl, ab (apache2-utils), drill (ldnsutils), ngrep and iproute2`, check: () => ({ figure: `${image} pushed` }) },
    ],
  };
}

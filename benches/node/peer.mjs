// A lock-taking process driven over IPC by the cross-process benchmarks (handoff.mjs,
// dead-holder.mjs) through peers.mjs; not meant to be run by hand.
//
//   fork('peer.mjs', [impl, JSON.stringify(loadImpl options)])
//
// In:  {op: 'acquire', sessionFile} | {op: 'release'} | {op: 'block', ms}
// Out: {op: 'ready'} once loaded; for acquire {op: 'waiting'} as soon as the acquire call has
//      returned its promise, then {op: 'acquired', t} when it resolves; for release
//      {op: 'released', t}; for block (its event loop busy-waits `ms`) {op: 'unblocked'} once
//      the timers due meanwhile ran; {op: 'compromised'} when a held lock was lost (the
//      proper-lockfile implementations); {op: 'error', message} on failure.
// t is process.hrtime.bigint() as a decimal string: for 'acquired' read right after the acquire
// resolved, for 'released' read just before release() was called.

import { loadImpl } from './impls.mjs';

const [name, optionsJson = '{}'] = process.argv.slice(2);
const impl = await loadImpl(name, JSON.parse(optionsJson), () => process.send({ op: 'compromised' }));
let handle = null;

async function acquire(sessionFile) {
  const pending = impl.acquire(sessionFile);
  process.send({ op: 'waiting' });
  handle = await pending;
  const t = process.hrtime.bigint();
  process.send({ op: 'acquired', t: String(t) });
}

async function release() {
  const held = handle;
  handle = null;
  const t = process.hrtime.bigint();
  await held.release();
  process.send({ op: 'released', t: String(t) });
}

// A stalled event loop: nothing else runs in this process meanwhile. Then a second for the
// timers that came due (a lock's refresh, its compromise check) to run.
async function block(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  process.send({ op: 'unblocked' });
}

const steps = {
  acquire: (message) => acquire(message.sessionFile),
  release: () => release(),
  block: (message) => block(message.ms),
};
process.on('message', (message) => {
  const step = steps[message.op](message);
  step.catch((err) => process.send({ op: 'error', message: `${name}: ${err.message}` }));
});
process.send({ op: 'ready' });

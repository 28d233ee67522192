// A lock-taking process driven over IPC by the cross-process benchmarks (handoff.mjs,
// dead-holder.mjs) through peers.mjs; not meant to be run by hand.
//
//   fork('peer.mjs', [impl, JSON.stringify(loadImpl options)])
//
// In:  {op: 'acquire', sessionFile} | {op: 'release'}
// Out: {op: 'ready'} once loaded; for acquire {op: 'waiting'} as soon as the acquire call has
//      returned its promise, then {op: 'acquired', t} when it resolves; for release
//      {op: 'released', t}; {op: 'error', message} on failure.
// t is process.hrtime.bigint() as a decimal string: for 'acquired' read right after the acquire
// resolved, for 'released' read just before release() was called.

import { loadImpl } from './impls.mjs';

const [name, optionsJson = '{}'] = process.argv.slice(2);
const impl = await loadImpl(name, JSON.parse(optionsJson));
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

process.on('message', (message) => {
  const step = message.op === 'acquire' ? acquire(message.sessionFile) : release();
  step.catch((err) => process.send({ op: 'error', message: `${name}: ${err.message}` }));
});
process.send({ op: 'ready' });

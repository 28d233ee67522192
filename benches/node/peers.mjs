// The coordinator's side of peer.mjs: start a peer process and await its messages by kind.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PEER = fileURLToPath(new URL('./peer.mjs', import.meta.url));

// A reply that does not come within this is a hung benchmark, not a slow result.
const REPLY_TIMEOUT_MS = 60_000;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// → { child, send(message), next(op): Promise<message>, exited: Promise<void> }
export async function startPeer(impl, options = {}) {
  const child = fork(PEER, [impl, JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox = []; // messages nobody awaited yet
  const awaiting = []; // { op, resolve, reject }
  let ended = null;

  const fail = (err) => {
    ended = err;
    for (const { reject } of awaiting.splice(0)) reject(err);
  };
  child.on('message', (message) => {
    if (message.op === 'error') return fail(new Error(message.message));
    const at = awaiting.findIndex(({ op }) => op === message.op);
    if (at >= 0) awaiting.splice(at, 1)[0].resolve(message);
    else inbox.push(message);
  });
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      fail(new Error(`${impl} peer ${child.pid} exited (code ${code}, signal ${signal})`));
      resolve();
    }),
  );

  function next(op) {
    const at = inbox.findIndex((message) => message.op === op);
    if (at >= 0) return Promise.resolve(inbox.splice(at, 1)[0]);
    if (ended) return Promise.reject(ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`${impl} peer ${child.pid}: no "${op}" within ${REPLY_TIMEOUT_MS} ms`)),
        REPLY_TIMEOUT_MS,
      );
      const settle = (fn) => (value) => {
        clearTimeout(timer);
        fn(value);
      };
      awaiting.push({ op, resolve: settle(resolve), reject: settle(reject) });
    });
  }

  await next('ready');
  return { child, send: (message) => child.send(message), next, exited };
}

// Ends a peer that is not expected to hold anything any more.
export async function stopPeer(peer) {
  peer.child.kill('SIGTERM');
  await peer.exited;
}

// The two implementations the proper-lockfile tests run side by side: the real proper-lockfile 4
// (installed here by scripts/setup.sh) and session-write-lock/proper-lockfile.

import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const realPath = path.join(here, "node_modules/proper-lockfile");

if (!fs.existsSync(realPath)) {
  throw new Error(
    "the proper-lockfile interop tests need the real proper-lockfile in tests/node/proper-lockfile/: run scripts/setup.sh first",
  );
}

export const impls = {
  real: require(realPath),
  ours: require("../../../npm/proper-lockfile.js"),
};

/** Backdates `target`'s mtime (and atime) by `ms`. */
export function backdate(target, ms) {
  const then = new Date(Date.now() - ms);
  fs.utimesSync(target, then, then);
}

/** Blocks this thread's event loop for `ms` (a stalled loop: no timer, no I/O callback runs). */
export function busyWait(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

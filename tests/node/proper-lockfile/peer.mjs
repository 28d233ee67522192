// A process that holds a lock with one implementation (real proper-lockfile or ours) and obeys
// commands on stdin, one per line: "release", "block <ms>" (busy-waits its event loop), "exit".
// It reports JSON lines: held, blocked-done, released, compromised, error.
//   node peer.mjs '{"impl":"real"|"ours","file":…,"options":{…}}'

import { createInterface } from "node:readline";
import { impls, busyWait } from "./impls.mjs";

const { impl, file, options = {} } = JSON.parse(process.argv[2]);
const say = (event, extra = {}) => process.stdout.write(`${JSON.stringify({ event, ...extra })}\n`);

let release;
try {
  release = await impls[impl].lock(file, {
    ...options,
    onCompromised: (error) => say("compromised", { code: error.code, message: error.message }),
  });
  say("held");
} catch (error) {
  say("error", { code: error.code, message: error.message });
  process.exit(0);
}

for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg] = line.split(" ");
  if (command === "block") {
    busyWait(Number(arg));
    // Let the timers that were due during the block run before reporting.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    say("block-done");
  } else if (command === "release") {
    try {
      await release();
      say("released");
    } catch (error) {
      say("error", { code: error.code, message: error.message });
    }
  } else if (command === "exit") {
    process.exit(0);
  }
}

// The Node victim of the crash-point and error-injection suite: prints "ready", waits for a
// byte on stdin (the driver attaches strace meanwhile), prints "begin", then makes one acquire
// (timeoutMs 1: one try, no real wait) and one release of argv[2] between the two marker
// system calls the driver looks for. Exit 0: done; 2: a clean error (code and message on
// stderr); 3: anything else thrown; 4: busy. After the end marker it prints "end" and waits
// for a byte on stdin again: the driver lets it go once the lock service thread sleeps, so
// that the service's calls are the same in every run, not cut short by the exit.

import fs from "node:fs";
import { acquireSessionWriteLock } from "../../npm/index.mjs";

const marker = (name) => {
  try {
    fs.accessSync(`/swl-faultinject-${name}`);
  } catch {}
};
const end = () => {
  marker("end");
  fs.writeSync(1, "end\n");
  fs.readSync(0, Buffer.alloc(1));
};

fs.writeSync(1, "ready\n");
fs.readSync(0, Buffer.alloc(1));
fs.writeSync(1, "begin\n");
let step = "acquire";
try {
  marker("begin");
  const lock = await acquireSessionWriteLock({ sessionFile: process.argv[2], timeoutMs: 1 });
  step = "release";
  await lock.release();
  end();
  console.log("ok");
} catch (error) {
  end();
  const busy = error?.reason === "session_busy";
  const clean = typeof error?.code === "string" && error instanceof Error;
  process.stderr.write(`error ${step} ${error?.code} ${error?.message}\n`);
  process.exitCode = busy ? 4 : clean ? 2 : 3;
}

// Hostile lock files through the C library and through the Node package (the Rust API meets
// the same set in tests/legacy_files.rs and tests/faults.rs): symlinks, a directory, a FIFO, a
// socket, a 100 MiB file, garbage, deeply nested JSON and huge numbers. Each acquire with
// timeout 200 ms must come back with a verdict — busy, or reclaimed when the file is stale —
// and whatever is busy must still be there, untouched.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { check, reportChecks, runWorker, tempDir } from "./lib.mjs";

const HOUR_MS = 3_600_000;
const LIMIT_MS = 10_000; // a generous sanity bound: the verdict is due after ~200 ms
const deadPid = Number(fs.readFileSync("/proc/sys/kernel/pid_max", "utf8")) + 1; // no process has it
// Dated in the future: only the pid can make these stale. `pid` is spliced in raw (1e400, …).
const legacy = (pid) => `{"pid":${pid},"createdAt":"2099-01-01T00:00:00.000Z"}`;
const GARBAGE = Buffer.from([0, 1, 0xff, 0xfe, 0x7b]);
const HUGE_PID = "99999999999999999999";
const sockets = [];

/** Makes an old file: stale once older than staleMs (30 min), when nothing else says "live". */
function backdate(lockPath, ageMs) {
  const then = new Date(Date.now() - ageMs);
  if (ageMs) fs.utimesSync(lockPath, then, then);
}

/** A regular lock file with `content`, `ageMs` old. */
function file(content, ageMs = 0) {
  return (lockPath) => {
    fs.writeFileSync(lockPath, content);
    backdate(lockPath, ageMs);
  };
}

/** A sparse 100 MiB lock file: readers must judge it without reading it whole. */
function hugeFile(ageMs) {
  return (lockPath) => {
    const fd = fs.openSync(lockPath, "w");
    fs.ftruncateSync(fd, 100 * 1024 * 1024);
    fs.closeSync(fd);
    backdate(lockPath, ageMs);
  };
}

function cases(dir) {
  const target = path.join(dir, "target.json");
  fs.writeFileSync(target, legacy(deadPid));
  const subdir = path.join(dir, "subdir");
  fs.mkdirSync(subdir);
  const busy = (what) => ({ expect: "busy", what });
  const reclaimed = { expect: "acquired" };
  return [
    ["symlink to a stale-looking file", (p) => fs.symlinkSync(target, p), busy(/symbolic link/)],
    ["symlink to a directory", (p) => fs.symlinkSync(subdir, p), busy(/symbolic link/)],
    ["dangling symlink", (p) => fs.symlinkSync("/nonexistent/x", p), busy(/symbolic link/)],
    ["directory", (p) => fs.mkdirSync(p), busy(/directory/)],
    ["FIFO", (p) => check(spawnSync("mkfifo", [p]).status === 0, "mkfifo"), busy(/FIFO/)],
    ["socket", makeSocket, busy(/socket/)],
    ["100 MiB file, fresh", hugeFile(0), busy(/owner=unknown/)],
    ["100 MiB file, an hour old", hugeFile(HOUR_MS), reclaimed],
    ["garbage bytes, fresh", file(GARBAGE), busy(/owner=unknown/)],
    ["garbage bytes, an hour old", file(GARBAGE, HOUR_MS), reclaimed],
    ["100k '[', fresh", file("[".repeat(100_000)), busy(/owner=unknown/)],
    ["60k '[', an hour old", file("[".repeat(60_000), HOUR_MS), reclaimed],
    ["pid 1e400, fresh", file(legacy("1e400")), busy(/owner=unknown/)],
    [`pid ${HUGE_PID}, fresh`, file(legacy(HUGE_PID)), busy(/owner=unknown/)],
    [`pid ${HUGE_PID}, an hour old`, file(legacy(HUGE_PID), HOUR_MS), reclaimed],
    ["legacy lock of a dead pid", file(legacy(deadPid)), reclaimed],
  ];
}

async function makeSocket(lockPath) {
  // Kept listening until the end: closing the server would unlink the socket file.
  const server = net.createServer();
  await new Promise((resolve) => server.listen(lockPath, resolve));
  sockets.push(server);
}

/** Identity and size of what is at `p` (without following a symlink), to see it untouched. */
function snapshot(p) {
  const s = fs.lstatSync(p);
  return `${s.ino}:${s.size}:${s.mode}`;
}

console.log("== hostile lock files through C and Node (try with timeout 200 ms)");
for (const language of ["c", "node"]) {
  const dir = tempDir(`hostile-${language}`);
  const list = cases(dir);
  for (const [i, [name, make, { expect, what }]] of list.entries()) {
    const sessionFile = path.join(dir, `h${i}.jsonl`);
    const lockPath = `${sessionFile}.lock`;
    await make(lockPath);
    const before = snapshot(lockPath);
    const started = performance.now();
    const { stdout } = await runWorker(language, ["try", sessionFile, 200], LIMIT_MS);
    const ms = performance.now() - started;
    console.log(`  ${language.padEnd(4)} ${name.padEnd(38)} ${ms.toFixed(0).padStart(4)} ms  ${stdout}`);
    if (expect === "busy") {
      check(stdout.startsWith("busy ") && what.test(stdout), `${language} ${name}: busy, ${what}: ${stdout}`);
      check(snapshot(lockPath) === before, `${language} ${name}: left untouched`);
    } else {
      check(stdout === "acquired", `${language} ${name}: reclaimed: ${stdout}`);
      check(!fs.existsSync(lockPath), `${language} ${name}: released after the reclaim`);
    }
  }
  const targetsIntact = fs.existsSync(path.join(dir, "target.json")) && fs.statSync(path.join(dir, "subdir")).isDirectory();
  check(targetsIntact, "symlink targets intact");
}
for (const server of sockets) server.close();
reportChecks("hostile");

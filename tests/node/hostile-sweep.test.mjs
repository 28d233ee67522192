// cleanStaleLockFiles among hostile neighbours: what other users can put in a sessions
// directory (a FIFO, a symlink to an endless device, names with control characters or bytes
// that are not UTF-8, files the sweep may not read or remove) never hangs, bloats or stops it.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { acquireSessionWriteLock, cleanStaleLockFiles, SessionWriteLockTimeoutError } from "../../npm/index.mjs";
import { deadPid, sessionsDir, startGatewayLikeProcess, writeLegacyLock } from "./helpers.mjs";

const fixture = fileURLToPath(new URL("fixtures/sweep.mjs", import.meta.url));
const NOBODY = 65534;
const deadLock = () => JSON.stringify({ pid: deadPid(), createdAt: new Date().toISOString() });

/**
 * The sweep of `dir` in a child process (`prefix`: how to start it, e.g. as nobody). A sweep
 * that hangs is killed after 30 s and reported as such: a bound for a hang, not a timing check.
 */
function sweepInChild(dir, prefix = []) {
  const [command, ...args] = [...prefix, process.execPath, fixture, dir];
  const child = spawnSync(command, args, { encoding: "utf8", timeout: 30_000, killSignal: "SIGKILL" });
  assert.equal(child.signal, null, `the sweep was killed (${child.signal}): hung or read an endless file\n${child.stderr}`);
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout);
  assert.equal(out.error, undefined, JSON.stringify(out.error));
  return out;
}

const byName = (locks) => Object.fromEntries(locks.map((l) => [path.basename(l.lockPath), l]));

test("a FIFO planted as a lock file is reported, never opened: the sweep does not hang", (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  const fifo = path.join(dir, "x.jsonl.lock");
  execFileSync("mkfifo", [fifo]);
  fs.chownSync(fifo, NOBODY, NOBODY);
  fs.writeFileSync(path.join(dir, "z.jsonl.lock"), deadLock());
  const { result } = sweepInChild(dir);
  const locks = byName(result.locks);
  assert.equal(locks["x.jsonl.lock"].format, "not-a-file");
  assert.match(locks["x.jsonl.lock"].owner, /FIFO/);
  assert.equal(locks["z.jsonl.lock"].removed, true, "the sweep went on past the FIFO");
  assert.ok(fs.statSync(fifo).isFIFO(), "the FIFO is left alone");
});

test("a symlink to /dev/zero is reported, never read", (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  const link = path.join(dir, "y.jsonl.lock");
  fs.symlinkSync("/dev/zero", link);
  fs.writeFileSync(path.join(dir, "z.jsonl.lock"), deadLock());
  const { result } = sweepInChild(dir);
  const locks = byName(result.locks);
  assert.equal(locks["y.jsonl.lock"].format, "not-a-file");
  assert.match(locks["y.jsonl.lock"].owner, /symbolic link/);
  assert.equal(locks["z.jsonl.lock"].removed, true);
  assert.equal(fs.readlinkSync(link), "/dev/zero", "the symlink is left alone");
});

test("a lock file whose name is not UTF-8 is swept, not skipped", async (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  const name = Buffer.concat([Buffer.from(`${dir}/d`), Buffer.from([0xff, 0xfe]), Buffer.from(".jsonl.lock")]);
  fs.writeFileSync(name, deadLock());
  const warnings = [];
  const { locks, cleaned, errors } = await cleanStaleLockFiles({ sessionsDir: dir, log: { warn: (l) => warnings.push(l) } });
  assert.deepEqual(errors, []);
  assert.equal(locks.length, 1);
  assert.equal(cleaned.length, 1);
  assert.equal(cleaned[0].lockPath, `${dir}/d\ufffd\ufffd.jsonl.lock`);
  assert.deepEqual(cleaned[0].staleReasons, ["dead-pid"]);
  assert.deepEqual(fs.readdirSync(dir), [], "the file itself was removed");
  assert.equal(warnings.length, 1);
});

test("text from lock files reaches messages and log lines escaped", async (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  const gateway = await startGatewayLikeProcess(t);
  const busy = path.join(dir, "a\x1b]52;c;ZXZpbA==\x07.jsonl");
  writeLegacyLock(busy, { pid: gateway.pid, createdAt: new Date().toISOString(), hostname: "\x1b[2Jevil\u009b" });
  const error = await acquireSessionWriteLock({ sessionFile: busy, timeoutMs: 1 }).then(
    () => assert.fail("the lock was free"),
    (e) => e,
  );
  assert.ok(error instanceof SessionWriteLockTimeoutError, String(error));
  assert.doesNotMatch(error.message, /[\x00-\x1f\x7f-\x9f]/, error.message);
  assert.ok(error.message.includes(String.raw`host=\x1b[2Jevil\u{9b}`), error.message);
  assert.ok(error.message.includes(String.raw`a\x1b]52;c;ZXZpbA==\x07.jsonl.lock`), error.message);
  assert.equal(error.lockPath, `${busy}.lock`, "the field keeps the path as it is");

  fs.writeFileSync(path.join(dir, "b\x1b[31m\n.jsonl.lock"), deadLock());
  const warnings = [];
  await cleanStaleLockFiles({ sessionsDir: dir, log: { warn: (line) => warnings.push(line) } });
  assert.deepEqual(warnings, [`removed stale session lock: ${dir}/b\\x1b[31m\\x0a.jsonl.lock (dead-pid)`]);
});

test("one lock file the sweep may not read or remove never stops it", (t) => {
  if (process.getuid() !== 0 || spawnSync("setpriv", ["--version"]).error) {
    const required = process.env.CI === "true" || process.env.SWL_REQUIRE_ALL === "1";
    assert.ok(!required, "needs root and setpriv (a skip is a failure under CI=true or SWL_REQUIRE_ALL=1)");
    t.skip("needs root and setpriv to sweep as nobody files root made");
    return;
  }
  const dir = sessionsDir(t);
  fs.chmodSync(dir, 0o755);
  // A sticky directory everyone may write to, as /tmp: nobody may not remove root's files.
  const shared = path.join(dir, "shared");
  fs.mkdirSync(shared, { mode: 0o1777 });
  fs.chmodSync(shared, 0o1777);
  const dead = (name, mode, owner) => {
    const lockPath = path.join(shared, name);
    fs.writeFileSync(lockPath, deadLock());
    fs.chmodSync(lockPath, mode);
    if (owner !== undefined) fs.chownSync(lockPath, owner, owner);
    return lockPath;
  };
  // Sorted first, so that a sweep that stops at the first failure never reaches the last.
  const undeletable = dead("a-undeletable.jsonl.lock", 0o644);
  const unreadable = dead("b-unreadable.jsonl.lock", 0o000);
  const removable = dead("c-removable.jsonl.lock", 0o644, NOBODY);
  const nobody = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"];
  const { result, warnings } = sweepInChild(shared, nobody);
  assert.deepEqual(
    result.errors.map((e) => [e.lockPath, e.code]),
    [
      [undeletable, "EPERM"],
      [unreadable, "EACCES"],
    ],
  );
  assert.ok(result.errors.every((e) => e.message.includes(e.lockPath)), JSON.stringify(result.errors));
  assert.deepEqual(result.cleaned.map((l) => l.lockPath), [removable]);
  assert.equal(fs.existsSync(removable), false);
  assert.ok(fs.existsSync(undeletable) && fs.existsSync(unreadable), "nothing else was removed");
  assert.equal(warnings.filter((w) => w.startsWith("could not sweep session lock: ")).length, 2, warnings.join("\n"));
});

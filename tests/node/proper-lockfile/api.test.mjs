// API parity of session-write-lock/proper-lockfile with the real proper-lockfile 4: every case
// runs against both ("real: …", "ours: …") with the same expectations, in one process.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { sessionsDir } from "../helpers.mjs";
import { backdate, impls } from "./impls.mjs";

/** A fresh existing file to lock. */
function target(t) {
  const file = path.join(sessionsDir(t), "data.json");
  fs.writeFileSync(file, "{}");
  return file;
}

for (const [name, plf] of Object.entries(impls)) {
  test(`${name}: lock makes <file>.lock, a second lock is ELOCKED, release removes it`, async (t) => {
    const file = target(t);
    const release = await plf.lock(file);
    assert.equal(typeof release, "function");
    assert.ok(fs.statSync(`${file}.lock`).isDirectory());
    assert.equal(await plf.check(file), true);
    const busy = await plf.lock(file).catch((e) => e);
    assert.equal(busy.code, "ELOCKED");
    assert.equal(busy.message, "Lock file is already being held");
    assert.equal(busy.file, file);
    await release();
    assert.equal(fs.existsSync(`${file}.lock`), false);
    assert.equal(await plf.check(file), false);
    assert.equal((await release().catch((e) => e)).code, "ERELEASED");
  });

  test(`${name}: unlock by file name, and ENOTACQUIRED for a lock not ours`, async (t) => {
    const file = target(t);
    assert.equal((await plf.unlock(file).catch((e) => e)).code, "ENOTACQUIRED");
    const release = await plf.lock(file);
    await plf.unlock(file);
    assert.equal(fs.existsSync(`${file}.lock`), false);
    assert.equal((await release().catch((e) => e)).code, "ERELEASED");
    // A directory someone else made is not ours to unlock, and stays.
    fs.mkdirSync(`${file}.lock`);
    assert.equal((await plf.unlock(file).catch((e) => e)).code, "ENOTACQUIRED");
    assert.ok(fs.existsSync(`${file}.lock`));
  });

  test(`${name}: realpath: a missing file is ENOENT unless realpath is false; symlinks resolve`, async (t) => {
    const dir = sessionsDir(t);
    const missing = path.join(dir, "missing");
    assert.equal((await plf.lock(missing).catch((e) => e)).code, "ENOENT");
    const release = await plf.lock(missing, { realpath: false });
    assert.ok(fs.existsSync(`${missing}.lock`));
    await release();
    const file = target(t);
    const link = path.join(path.dirname(file), "link");
    fs.symlinkSync(file, link);
    const viaLink = await plf.lock(link);
    assert.ok(fs.existsSync(`${file}.lock`), "the lock is the real file's");
    assert.equal(fs.existsSync(`${link}.lock`), false);
    await viaLink();
  });

  test(`${name}: lockfilePath puts the lock directory elsewhere`, async (t) => {
    const file = target(t);
    const lockfilePath = path.join(path.dirname(file), "custom.lock");
    const release = await plf.lock(file, { lockfilePath });
    assert.ok(fs.statSync(lockfilePath).isDirectory());
    assert.equal(fs.existsSync(`${file}.lock`), false);
    assert.equal(await plf.check(file, { lockfilePath }), true);
    assert.equal(await plf.check(file), false);
    await release();
    assert.equal(fs.existsSync(lockfilePath), false);
  });

  test(`${name}: a plain lock directory is honoured until stale (at least 2000 ms), then taken`, async (t) => {
    const file = target(t);
    fs.mkdirSync(`${file}.lock`);
    backdate(`${file}.lock`, 1500);
    // stale below 2000 counts as 2000: 1.5 s old is not stale yet.
    assert.equal(await plf.check(file, { stale: 1 }), true);
    assert.equal((await plf.lock(file, { stale: 1 }).catch((e) => e)).code, "ELOCKED");
    backdate(`${file}.lock`, 2500);
    assert.equal(await plf.check(file, { stale: 1 }), false);
    assert.equal(await plf.check(file), true, "the default stale is 10 s");
    const release = await plf.lock(file, { stale: 2000 });
    assert.ok(Date.now() - fs.statSync(`${file}.lock`).mtimeMs < 2000, "a new lock directory");
    await release();
  });

  test(`${name}: a stale lock directory with contents is an error and keeps them`, async (t) => {
    const file = target(t);
    fs.mkdirSync(`${file}.lock`);
    fs.writeFileSync(`${file}.lock/keep`, "x");
    backdate(`${file}.lock`, 60_000);
    const error = await plf.lock(file).catch((e) => e);
    assert.equal(error.code, "ENOTEMPTY");
    assert.ok(fs.existsSync(`${file}.lock/keep`));
  });

  test(`${name}: retries wait for the holder; an exhausted schedule is ELOCKED`, async (t) => {
    const file = target(t);
    const release = await plf.lock(file);
    const exhausted = await plf.lock(file, { retries: { retries: 2, minTimeout: 10, maxTimeout: 10 } }).catch((e) => e);
    assert.equal(exhausted.code, "ELOCKED");
    const waiting = plf.lock(file, { retries: { retries: 50, minTimeout: 20, maxTimeout: 20 } });
    setTimeout(() => release(), 100);
    const second = await waiting;
    assert.ok(fs.existsSync(`${file}.lock`));
    await second();
  });

  test(`${name}: the sync API: lockSync, checkSync, unlockSync; retries are ESYNC`, (t) => {
    const file = target(t);
    assert.throws(() => plf.lockSync(file, { retries: 1 }), { code: "ESYNC" });
    assert.throws(() => plf.lockSync(file, { retries: { retries: 3 } }), { code: "ESYNC" });
    const release = plf.lockSync(file);
    assert.equal(plf.checkSync(file), true);
    assert.throws(() => plf.lockSync(file), { code: "ELOCKED" });
    release();
    assert.equal(plf.checkSync(file), false);
    assert.throws(() => release(), { code: "ERELEASED" });
    plf.lockSync(file);
    plf.unlockSync(file);
    assert.throws(() => plf.unlockSync(file), { code: "ENOTACQUIRED" });
    assert.equal(fs.existsSync(`${file}.lock`), false);
  });

  test(`${name}: the fs option resolves the path (realpath)`, async (t) => {
    const file = target(t);
    const asked = [];
    const spy = {
      ...fs,
      realpath: (p, callback) => {
        asked.push(p);
        fs.realpath(p, callback);
      },
    };
    const release = await plf.lock(file, { fs: spy });
    assert.deepEqual(asked, [file]);
    assert.equal(await plf.check(file, { fs: spy }), true);
    await release();
  });

  test(`${name}: a fresh file at the lock path is ELOCKED and counts as a lock`, async (t) => {
    const file = target(t);
    fs.writeFileSync(`${file}.lock`, "");
    assert.equal((await plf.lock(file).catch((e) => e)).code, "ELOCKED");
    assert.equal(await plf.check(file), true);
    backdate(`${file}.lock`, 60_000);
    assert.equal(await plf.check(file), false, "judged by its mtime");
    assert.ok(fs.statSync(`${file}.lock`).isFile());
  });

  test(`${name}: a lock directory removed behind the holder's back is ECOMPROMISED`, async (t) => {
    const file = target(t);
    const compromised = new Promise((resolve) => {
      plf.lock(file, { stale: 2000, update: 1000, onCompromised: resolve }).then(() => fs.rmdirSync(`${file}.lock`));
    });
    // Both update timers are unref'd: keep the loop alive meanwhile.
    const keepAlive = setInterval(() => {}, 100);
    const error = await compromised.finally(() => clearInterval(keepAlive));
    assert.equal(error.code, "ECOMPROMISED");
    assert.equal((await plf.unlock(file).catch((e) => e)).code, "ENOTACQUIRED", "the hold is over");
  });
}

test("ours: the lock directory carries the mark (S_ISVTX); the real one's does not", async (t) => {
  const file = target(t);
  const ours = await impls.ours.lock(file);
  assert.equal(fs.statSync(`${file}.lock`).mode & 0o1000, 0o1000);
  await ours();
  const real = await impls.real.lock(file);
  assert.equal(fs.statSync(`${file}.lock`).mode & 0o1000, 0);
  await real();
});

// A departure (docs/PROTOCOL.md): proper-lockfile tries to rmdir a stale file (ENOTDIR); ours
// never removes what is not a directory and says it is held.
test("ours: a stale file at the lock path is ELOCKED and stays", async (t) => {
  const file = target(t);
  fs.writeFileSync(`${file}.lock`, "x");
  backdate(`${file}.lock`, 60_000);
  assert.equal((await impls.ours.lock(file).catch((e) => e)).code, "ELOCKED");
  assert.equal(fs.readFileSync(`${file}.lock`, "utf8"), "x");
  assert.equal((await impls.real.lock(file).catch((e) => e)).code, "ENOTDIR", "proper-lockfile's own answer");
});

test("ours: a default export for ES modules, as proper-lockfile's", async () => {
  const esm = await import("../../../npm/proper-lockfile.mjs");
  assert.equal(esm.default, impls.ours);
  for (const name of ["lock", "unlock", "check", "lockSync", "unlockSync", "checkSync"]) {
    assert.equal(esm[name], impls.ours[name], name);
  }
});

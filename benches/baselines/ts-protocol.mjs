// Baseline reproduction for benchmarks — not part of the library.
//
// The session-file lock protocol the gateway's TypeScript module uses today, rewritten from its
// published behaviour (its legacy rules are docs/PROTOCOL.md's, "Is the holder gone?") so that
// the benchmarks can measure it next to session-write-lock without depending on the gateway's
// code. Only what an acquire/release cycle and a stale-lock reclaim cost is reproduced: no
// signal handlers, no max-hold watchdog.
//
// Protocol: create `<realpath(dir)>/<name>.lock` with O_EXCL and write {pid, createdAt, nonce}
// into it; when it exists, decide from its payload whether the holder is gone, and if so delete
// it with rm and try again at once; otherwise poll with a linear backoff. Its known weakness —
// "read stale payload → rm → create" can delete a lock another process has just taken — is
// deliberately kept: that is what the storm benchmark counts.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_STALE_MS = 30 * 60 * 1000;
const MAX_BACKOFF_MS = 1000;
const BACKOFF_STEP_MS = 50;

// Identifies this iteration of the process; a lock carrying our pid but another nonce was left by
// an earlier iteration (in-process restart) and may be reclaimed at once.
let instanceNonce = newNonce();

// Locks held by this process: normalized session file → { lockPath, count }.
const held = new Map();

function newNonce() {
  return randomBytes(16).toString('hex');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function resolveLock(sessionFile) {
  const absolute = path.resolve(sessionFile);
  const dir = path.dirname(absolute);
  await fs.mkdir(dir, { recursive: true });
  const normalized = path.join(await fs.realpath(dir), path.basename(absolute));
  return { normalized, lockPath: `${normalized}.lock` };
}

// Exclusive create, then write the payload. Returns false when the lock file already exists.
async function tryCreate(lockPath) {
  let handle;
  try {
    handle = await fs.open(lockPath, 'wx');
  } catch (err) {
    if (err.code === 'EEXIST') return false;
    throw err;
  }
  const payload = { pid: process.pid, createdAt: new Date().toISOString(), nonce: instanceNonce };
  try {
    await handle.writeFile(JSON.stringify(payload), 'utf8');
  } catch (err) {
    // Do not leave a lock nobody holds.
    await fs.rm(lockPath, { force: true });
    throw err;
  } finally {
    await handle.close();
  }
  return true;
}

async function readPayload(lockPath) {
  try {
    return JSON.parse(await fs.readFile(lockPath, 'utf8'));
  } catch {
    return null; // vanished, or not JSON (possibly still being written)
  }
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code !== 'ESRCH'; // EPERM: alive, owned by someone else
  }
}

// For a payload that cannot be judged (no pid, no date) the file's age decides instead.
async function olderThan(lockPath, ms, nowMs) {
  try {
    const { mtimeMs } = await fs.stat(lockPath);
    return nowMs - mtimeMs > ms;
  } catch (err) {
    return err.code !== 'ENOENT'; // gone: nothing to reclaim, retry after the backoff
  }
}

async function isStale(lockPath, staleMs) {
  const payload = await readPayload(lockPath);
  const nowMs = Date.now();
  const pid = Number.isInteger(payload?.pid) && payload.pid > 0 ? payload.pid : null;
  const createdAtMs = typeof payload?.createdAt === 'string' ? Date.parse(payload.createdAt) : NaN;

  if (pid !== null && !pidAlive(pid)) return true; // dead-pid
  // Our pid, not our nonce: an earlier iteration of this process (no nonce counts as another).
  if (pid === process.pid && payload.nonce !== instanceNonce) return true; // nonce-mismatch
  if (Number.isFinite(createdAtMs) && nowMs - createdAtMs > staleMs) return true; // too-old
  if (pid === null || !Number.isFinite(createdAtMs)) return olderThan(lockPath, staleMs, nowMs);
  return false;
}

async function releaseEntry(normalized, entry, { force = false } = {}) {
  // A handle whose entry was already released (or force-released) must not touch a newer lock.
  if (held.get(normalized) !== entry) return false;
  entry.count = force ? 0 : entry.count - 1;
  if (entry.count > 0) return false;
  held.delete(normalized);
  await fs.rm(entry.lockPath, { force: true });
  return true;
}

function handleFor(normalized, entry) {
  return {
    lockPath: entry.lockPath,
    async release() {
      await releaseEntry(normalized, entry);
    },
  };
}

export async function acquire({
  sessionFile,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  staleMs = DEFAULT_STALE_MS,
  allowReentrant = true,
}) {
  const { normalized, lockPath } = await resolveLock(sessionFile);
  const entry = held.get(normalized);
  if (allowReentrant && entry) {
    entry.count += 1;
    return handleFor(normalized, entry);
  }

  const startedAt = Date.now();
  for (let attempt = 1; Date.now() - startedAt < timeoutMs; attempt += 1) {
    if (await tryCreate(lockPath)) {
      const created = { lockPath, count: 1 };
      held.set(normalized, created);
      return handleFor(normalized, created);
    }
    if (await isStale(lockPath, staleMs)) {
      await fs.rm(lockPath, { force: true });
      continue;
    }
    await sleep(Math.min(MAX_BACKOFF_MS, BACKOFF_STEP_MS * attempt));
  }
  const owner = (await readPayload(lockPath))?.pid;
  throw new Error(
    `session file locked (timeout ${timeoutMs}ms): ${owner ? `pid=${owner}` : 'unknown'} ${lockPath}`,
  );
}

// Releases every lock this process holds, then starts a new instance nonce so that a lock which
// survives anyway is recognised as an earlier iteration's. Returns how many were released.
export async function releaseAll() {
  let released = 0;
  for (const [normalized, entry] of [...held]) {
    if (await releaseEntry(normalized, entry, { force: true })) released += 1;
  }
  instanceNonce = newNonce();
  return released;
}

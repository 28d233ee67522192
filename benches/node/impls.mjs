// The lock implementations the Node benchmarks compare, behind one interface:
//   acquire(sessionFile) → Promise<{ lockPath, release(): Promise<void> }>
//   plantStale(lockPath, deadPid) → boolean: if the lock is free, leave behind what a holder
//     that crashed would have left, so that the next acquire goes through the reclaim path.
//   releaseAll() → Promise<number> (ts and swl only): release every lock this process holds.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const IMPL_NAMES = ['ts', 'proper-lockfile', 'swl', 'swl-proper-lockfile'];

// Lock file in the TypeScript format, {pid, createdAt}, made by link() from a complete temp file
// so that no contender ever reads it half-written. False when the lock is taken.
function plantLegacyLock(lockPath, deadPid) {
  const temp = path.join(path.dirname(lockPath), `.plant.${process.pid}.tmp`);
  fs.writeFileSync(temp, JSON.stringify({ pid: deadPid, createdAt: new Date().toISOString() }));
  try {
    fs.linkSync(temp, lockPath);
    return true;
  } catch (err) {
    if (err.code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.unlinkSync(temp);
  }
}

// proper-lockfile's lock is a directory and a holder is judged gone only by the directory's
// mtime (its pid is not recorded), so a crashed holder's lock is one that stopped being
// refreshed: backdate it past `staleMs` so it can be reclaimed at once.
function planterOfAgedDirectory(staleMs) {
  return (lockPath) => {
    try {
      fs.mkdirSync(lockPath);
    } catch (err) {
      if (err.code === 'EEXIST') return false;
      throw err;
    }
    const past = new Date(Date.now() - 2 * staleMs);
    fs.utimesSync(lockPath, past, past);
    return true;
  };
}

// The package under test: $SWL_PACKAGE (a directory; scripts/bench.sh points it at a copy of npm/
// with the release addon, so that a debug rebuild of npm/ meanwhile cannot change what is
// measured), else this checkout's npm/.
const packageFile = (file) =>
  process.env.SWL_PACKAGE
    ? pathToFileURL(path.join(path.resolve(process.env.SWL_PACKAGE), file)).href
    : new URL(`../../npm/${file}`, import.meta.url).href;
const SWL_PACKAGE = packageFile('index.js');

async function loadSwl() {
  let mod;
  try {
    mod = await import(SWL_PACKAGE);
  } catch (err) {
    throw new Error(
      `cannot load the session-write-lock package from ${SWL_PACKAGE} (build the Node addon first): ${err.message}`,
    );
  }
  // The napi-rs entry point is CommonJS; its exports may only be reachable through `default`.
  const api = typeof mod.acquireSessionWriteLock === 'function' ? mod : mod.default;
  if (typeof api?.acquireSessionWriteLock !== 'function') {
    throw new Error('npm/index.js loaded but does not export acquireSessionWriteLock');
  }
  return api;
}

// Defaults are the gateway's (10 s timeout, 30 min stale, reentrant); every implementation gets
// the same. proper-lockfile is never reentrant. `onCompromised`: what the proper-lockfile
// implementations call when a held lock was lost.
export async function loadImpl(
  name,
  { timeoutMs = 10_000, staleMs = 30 * 60 * 1000, allowReentrant = true } = {},
  onCompromised = () => {},
) {
  switch (name) {
    case 'ts': {
      const ts = await import('../baselines/ts-protocol.mjs');
      return {
        acquire: (sessionFile) => ts.acquire({ sessionFile, timeoutMs, staleMs, allowReentrant }),
        plantStale: plantLegacyLock,
        releaseAll: ts.releaseAll,
      };
    }
    // The real one and ours (session-write-lock/proper-lockfile), with the same options.
    case 'proper-lockfile':
    case 'swl-proper-lockfile': {
      const lockfile =
        name === 'proper-lockfile'
          ? (await import('proper-lockfile')).default
          : (await import(packageFile('proper-lockfile.js'))).default;
      const options = {
        realpath: false,
        stale: staleMs,
        // Its default is a single attempt; poll until timeoutMs like the others wait.
        retries: { forever: true, minTimeout: 5, maxTimeout: 100, maxRetryTime: timeoutMs },
        // The default throws from a timer and kills the process; a compromised lock already
        // shows up as a rejected release(), which the storm counts.
        onCompromised,
      };
      return {
        async acquire(sessionFile) {
          const release = await lockfile.lock(sessionFile, options);
          return { lockPath: `${sessionFile}.lock`, release };
        },
        // proper-lockfile raises any stale threshold below 2000 ms to 2000 ms.
        plantStale: planterOfAgedDirectory(Math.max(staleMs, 2000)),
      };
    }
    case 'swl': {
      const swl = await loadSwl();
      return {
        acquire: (sessionFile) =>
          swl.acquireSessionWriteLock({ sessionFile, timeoutMs, staleMs, allowReentrant }),
        plantStale: plantLegacyLock,
        releaseAll: swl.releaseAllSessionWriteLocks,
      };
    }
    default:
      throw new Error(`unknown implementation "${name}" (expected one of: ${IMPL_NAMES.join(', ')})`);
  }
}

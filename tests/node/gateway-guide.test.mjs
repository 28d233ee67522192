// docs/GATEWAY.md's steps for a pinned gateway build, run as written: its shell blocks are read
// from the guide itself (so guide and test cannot drift) and run in a stand-in for the
// gateway's installed package, whose other modules then use the package through the re-export.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { acquireSessionWriteLock, getInstanceNonce, releaseAllSessionWriteLocks } from "../../npm/index.mjs";
import { deadPid, packageDir, sessionsDir, writeLegacyLock } from "./helpers.mjs";

const guide = fs.readFileSync(path.join(packageDir, "../docs/GATEWAY.md"), "utf8");

/** The fenced block that follows the guide's HTML comment starting with `marker`. */
function blockAfter(marker) {
  const at = guide.indexOf(`<!-- ${marker}`);
  assert.notEqual(at, -1, `GATEWAY.md has no block marked "${marker}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(guide.slice(at));
  assert.ok(block, `no sh block after "${marker}"`);
  return block[1];
}

/**
 * The gateway's installed package as the guide finds it: its lock module (with the symbol the
 * guide searches for, and stand-ins that fail loudly if anything still calls them), its error
 * module, a module that imports the lock module by the short names a build gives it, and this
 * package installed as its dependency.
 */
function gatewayInstall(t) {
  const root = path.join(sessionsDir(t), "openclaw");
  fs.mkdirSync(path.join(root, "dist"), { recursive: true });
  fs.mkdirSync(path.join(root, "node_modules"));
  fs.symlinkSync(packageDir, path.join(root, "node_modules/session-write-lock"));
  fs.writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "openclaw", type: "module" }));
  const names = ["acquireSessionWriteLock", "cleanStaleLockFiles", "releaseAllSessionWriteLocks", "resetInstanceNonce"];
  const aliases = ["t", "n", "r", "i"];
  fs.writeFileSync(
    path.join(root, "dist/session-write-lock-abc123.js"),
    [
      'const watchdog = Symbol.for("openclaw.sessionWriteLockWatchdogState");',
      ...names.map((name) => `function ${name}() { throw new Error("the gateway's own module ran"); }`),
      "//#endregion",
      `export { ${names.map((name, i) => `${name} as ${aliases[i]}`).join(", ")} };`,
      "",
    ].join("\n"),
  );
  fs.writeFileSync(
    path.join(root, "dist/session-write-lock-error-def456.js"),
    'export class SessionWriteLockTimeoutError extends Error { code = "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT"; }\n',
  );
  fs.writeFileSync(
    path.join(root, "dist/chat-9f8e7d.js"),
    `export { ${aliases.map((alias, i) => `${alias} as ${names[i]}`).join(", ")} } from "./session-write-lock-abc123.js";\n`,
  );
  return root;
}

test("GATEWAY.md: the re-export replaces the gateway's lock module, and the gateway's modules then lock with the package", async (t) => {
  const root = gatewayInstall(t);
  const script = `set -euo pipefail\n${blockAfter("docs/GATEWAY.md re-export")}${blockAfter("docs/GATEWAY.md check")}`;
  const output = execFileSync("bash", ["-c", script], { cwd: root, encoding: "utf8" });
  const module = path.join(root, "dist/session-write-lock-abc123.js");
  assert.equal(
    fs.readFileSync(module, "utf8"),
    'export { acquireSessionWriteLock as t, cleanStaleLockFiles as n, releaseAllSessionWriteLocks as r, resetInstanceNonce as i } from "session-write-lock";\n',
    "one line: the module's own export list, from the package",
  );
  assert.ok(fs.existsSync(`${module}.orig`), "the original is kept");
  assert.match(output, /loads\n$/);

  const gateway = await import(pathToFileURL(path.join(root, "dist/chat-9f8e7d.js")).href);
  fs.mkdirSync(path.join(root, "sessions"));
  const dir = fs.realpathSync(path.join(root, "sessions"));
  const sessionFile = path.join(dir, "s.jsonl");
  const lock = await gateway.acquireSessionWriteLock({ sessionFile });
  assert.ok(fs.existsSync(lock.lockPath));
  // One lock module in the process: the package, loaded directly, sees the gateway's hold.
  await assert.rejects(acquireSessionWriteLock({ sessionFile, timeoutMs: 1 }), { code: "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT" });
  await lock.release();
  assert.equal(fs.existsSync(lock.lockPath), false);

  await gateway.acquireSessionWriteLock({ sessionFile });
  const nonce = getInstanceNonce();
  assert.equal(await gateway.releaseAllSessionWriteLocks(), 1);
  assert.equal(fs.existsSync(lock.lockPath), false);
  assert.notEqual(gateway.resetInstanceNonce(), nonce);

  const crashed = writeLegacyLock(path.join(dir, "crashed.jsonl"), { pid: deadPid(), createdAt: new Date().toISOString() });
  const { cleaned } = await gateway.cleanStaleLockFiles({ sessionsDir: dir });
  assert.deepEqual(cleaned.map((l) => l.lockPath), [crashed]);
  assert.equal(await releaseAllSessionWriteLocks(), 0);
});

test("GATEWAY.md: the re-export refuses a build with two copies of the lock module and changes nothing", (t) => {
  const root = gatewayInstall(t);
  const original = fs.readFileSync(path.join(root, "dist/session-write-lock-abc123.js"), "utf8");
  const bundled = path.join(root, "dist/sandbox-1a2b3c.js");
  fs.writeFileSync(bundled, original);
  const script = `set -euo pipefail\n${blockAfter("docs/GATEWAY.md re-export")}${blockAfter("docs/GATEWAY.md check")}`;
  const run = spawnSync("bash", ["-c", script], { cwd: root, encoding: "utf8" });
  assert.match(run.stderr, /not one copy of the lock module with an export list; nothing changed/);
  assert.doesNotMatch(run.stdout, /loads/);
  assert.equal(fs.readFileSync(path.join(root, "dist/session-write-lock-abc123.js"), "utf8"), original);
  assert.equal(fs.readFileSync(bundled, "utf8"), original);
  assert.equal(fs.existsSync(path.join(root, "dist/session-write-lock-abc123.js.orig")), false);
});

// docs/GATEWAY.md, "Backing the gateway's fs-safe locks", done as written: in a directory with
// the real @openclaw/fs-safe and this package installed, fs-safe's file-lock module is replaced
// by the document's one-line re-export; the document's check prints true, and a lock taken
// through `@openclaw/fs-safe/file-lock` is this package's (flocked: our token mark).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { packageDir, sessionsDir } from "./helpers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const guide = fs.readFileSync(path.join(packageDir, "../docs/GATEWAY.md"), "utf8");
const section = guide.slice(guide.indexOf("## Backing the gateway's fs-safe locks"));
const codeBlocks = (lang) => [...section.matchAll(new RegExp("```" + lang + "\\n([^]*?)\\n\\s*```", "g"))].map((m) => m[1].trim());

test("the guide's re-export backs @openclaw/fs-safe/file-lock with this package", (t) => {
  const [reexport] = codeBlocks("js");
  const [check] = codeBlocks("sh");
  assert.equal(reexport, 'export * from "session-write-lock/file-lock";');
  const install = sessionsDir(t);
  const modules = path.join(install, "node_modules");
  fs.cpSync(path.join(here, "fs-safe/node_modules"), modules, { recursive: true });
  fs.symlinkSync(packageDir, path.join(modules, "session-write-lock"));
  fs.writeFileSync(path.join(modules, "@openclaw/fs-safe/dist/file-lock.js"), `${reexport}\n`);

  const shell = execFileSync("sh", ["-c", check], { cwd: install, encoding: "utf8" });
  assert.equal(shell.trim(), "true");

  const smoke = `
    const { acquireFileLock } = await import("@openclaw/fs-safe/file-lock");
    const handle = await acquireFileLock(process.argv[1], { payload: () => ({ pid: process.pid }) });
    const raw = (await import("node:fs")).readFileSync(handle.lockPath, "utf8");
    const token = /\\n(\\t{8}[ \\t]{128})\\n$/.exec(raw)[1].slice(8, 72);
    const mark = Buffer.from(token.match(/.{8}/g).map((bits) => parseInt(bits.replaceAll("\\t", "1").replaceAll(" ", "0"), 2)));
    await handle.release();
    console.log(mark.toString(), (await import("node:fs")).existsSync(handle.lockPath));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", smoke, path.join(install, "state")], {
    cwd: install,
    encoding: "utf8",
  });
  assert.equal(out.trim(), "swl:flk1 false", "taken (with our mark) and released through fs-safe's module path");
});

// A compromised lock through C and Node (Rust: tests/watchdog.rs): while a worker holds the
// lock, someone removes its lock file, or replaces it with their own. The worker's release must
// report it (C: swl_release returns SWL_IO; Node: release() resolves and the logger gets the
// report) and must not delete the other file.

import fs from "node:fs";
import path from "node:path";
import { check, reportChecks, startWorker, tempDir } from "./lib.mjs";

const LIMIT_MS = 10_000;
const THEIRS = "someone else's lock";

/** What each language's worker must print after releasing a compromised lock. */
const expected = {
  c: (lines) => lines.some((l) => /^released SWL_IO .*compromised/.test(l)),
  node: (lines) => lines.includes("released ok"),
};

console.log("== compromised locks through C and Node");
for (const language of Object.keys(expected)) {
  for (const variant of ["removed", "replaced"]) {
    const sessionFile = path.join(tempDir(`compromise-${language}`), "s.jsonl");
    const lockPath = `${sessionFile}.lock`;
    const holder = startWorker(language, ["hold", sessionFile]);
    const held = await holder.next(LIMIT_MS);
    check(held.startsWith("held "), `${language}: ${held}`);
    fs.unlinkSync(lockPath);
    if (variant === "replaced") fs.writeFileSync(lockPath, THEIRS);
    holder.send("release");
    const { code, stdout, stderr } = await holder.finish(LIMIT_MS);
    const lines = stdout.split("\n");
    console.log(`  ${language.padEnd(4)} lock file ${variant}: ${lines.join(" | ")}`);
    check(code === 0, `${language} holder exited ${code}: ${stderr}`);
    check(expected[language](lines), `${language} release reports the compromise`);
    check(
      lines.some((l) => l.startsWith("log ") && l.includes("compromised") && l.includes(lockPath)),
      `${language}: the log hook reports the compromise, naming the lock path`,
    );
    if (variant === "replaced") {
      check(fs.readFileSync(lockPath, "utf8") === THEIRS, `${language}: their file is intact`);
    } else {
      check(!fs.existsSync(lockPath), `${language}: release created nothing`);
    }
  }
}
reportChecks("compromise");

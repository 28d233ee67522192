// Cross-language storm: Rust, C and Node processes (two of each) contend for one session lock.
// Inside the critical section each creates a marker with O_EXCL, so two holders at once are
// seen. A fifth of the workers' iterations leave a stale legacy lock file (dead pid, dated in
// the future) behind, and meanwhile short-lived "victims" of each language take the lock and
// are SIGKILLed while holding it. Expected: no double holder, and every worker completes its
// count (no lost acquisition, no hang).
//
//   node tests/reliability/storm.mjs            default run (≥ 3,000 acquisitions)
//   node tests/reliability/storm.mjs --soak     soak (≥ 20,000); or SWL_SOAK=1

import fs from "node:fs";
import path from "node:path";
import { inspectSessionWriteLock } from "../../npm/index.mjs";
import { LANGUAGES, check, reportChecks, runWorker, sleep, startWorker, tempDir, tempFilesIn } from "./lib.mjs";

const soak = process.argv.includes("--soak") || process.env.SWL_SOAK === "1";
const plan = soak
  ? { perWorker: 3_400, victimsPerLanguage: 100, limitMs: 30 * 60_000 }
  : { perWorker: 500, victimsPerLanguage: 12, limitMs: 120_000 };
const WORKERS_PER_LANGUAGE = 2;
const STALE_EVERY = 5;

const dir = tempDir("storm");
const sessionFile = path.join(dir, "s.jsonl");
const marker = path.join(dir, "inside.marker");
const perLanguage = Object.fromEntries(
  LANGUAGES.map((l) => [l, { workers: 0, acquired: 0, violations: 0, staleLeft: 0, killed: 0 }]),
);

/** Victims, round-robin over the languages: take the lock, get SIGKILLed while holding. */
async function runVictims() {
  for (let i = 0; i < plan.victimsPerLanguage * LANGUAGES.length; i++) {
    const language = LANGUAGES[i % LANGUAGES.length];
    const figures = perLanguage[language];
    const victim = startWorker(language, ["victim", sessionFile, marker]);
    const line = await victim.next(plan.limitMs);
    if (line === "violation") figures.violations++;
    else check(line.startsWith("held "), `${language} victim: ${line}`);
    await sleep(Math.random() * 3); // hold a moment, so that waiters pile up behind it
    try {
      // The victim holds the lock, so the marker is its own; nobody else may have removed it.
      fs.unlinkSync(marker);
    } catch (error) {
      if (error.code !== "ENOENT") throw error;
      figures.violations++;
    }
    const { signal } = await victim.kill("SIGKILL");
    check(signal === "SIGKILL", `${language} victim died of SIGKILL, not ${signal}`);
    figures.killed++;
  }
}

async function runStormWorker(language) {
  const args = ["storm", sessionFile, plan.perWorker, marker, STALE_EVERY];
  const { code, stdout, stderr } = await runWorker(language, args, plan.limitMs);
  check(code === 0, `${language} storm worker exited ${code}: ${stdout} ${stderr}`);
  const counts = Object.fromEntries(stdout.split(/\s+/).map((field) => field.split("=")));
  const figures = perLanguage[language];
  figures.workers++;
  figures.acquired += Number(counts.acquired);
  figures.violations += Number(counts.violations);
  figures.staleLeft += Number(counts.stale_left);
  check(Number(counts.acquired) === plan.perWorker, `${language} worker completed its count: ${stdout}`);
}

const started = performance.now();
await Promise.all([
  runVictims(),
  ...LANGUAGES.flatMap((language) =>
    Array.from({ length: WORKERS_PER_LANGUAGE }, () => runStormWorker(language)),
  ),
]);
const elapsedS = (performance.now() - started) / 1000;

const total = { acquired: 0, violations: 0, staleLeft: 0, killed: 0 };
console.log(`== cross-language storm (${soak ? "soak" : "default run; --soak or SWL_SOAK=1 for the long one"})`);
for (const [language, f] of Object.entries(perLanguage)) {
  console.log(
    `  ${language.padEnd(4)} ${f.workers} workers: ${f.acquired} acquisitions, ${f.staleLeft} stale legacy locks left, ` +
      `+ ${f.killed} holders SIGKILLed while holding; double holders seen: ${f.violations}`,
  );
  for (const key of Object.keys(total)) total[key] += f[key];
}
const expected = LANGUAGES.length * WORKERS_PER_LANGUAGE * plan.perWorker;
const acquisitions = total.acquired + total.killed;
const stale = total.staleLeft + total.killed;
console.log(
  `  total: ${acquisitions} acquisitions (${total.acquired} by workers + ${total.killed} by victims) in ${elapsedS.toFixed(1)} s; ` +
    `${stale} left stale (${((100 * stale) / acquisitions).toFixed(1)}%: ${total.staleLeft} dead-pid legacy files, ` +
    `${total.killed} SIGKILLed holders); double holders: ${total.violations}; lost acquisitions: ${expected - total.acquired}`,
);

check(total.violations === 0, "no two holders at once");
check(total.acquired === expected, "no lost acquisitions");
check(acquisitions >= (soak ? 20_000 : 3_000), `enough acquisitions: ${acquisitions}`);
check(stale * 5 >= acquisitions * 0.9, `about a fifth of the iterations left stale locks: ${stale}`);
check(!fs.existsSync(marker), "nobody is inside any more");
const last = await inspectSessionWriteLock(sessionFile);
check(last === null || !last.pidAlive, `what is left is not held by anyone: ${JSON.stringify(last)}`);
check(tempFilesIn(dir).length === 0, `no temp files left: ${tempFilesIn(dir)}`);
check(
  fs.readdirSync(dir).every((name) => !name.includes(".stale-")),
  "the workers removed their own stale-file temps",
);
reportChecks("storm");

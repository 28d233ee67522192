// Shared by the reliability checks: where the Rust, C and Node workers are, how to start them
// and read their line-based answers, temporary directories, and checks that count themselves.
// The three workers speak the same modes and lines (see tests/support/worker.rs).

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const debugDir = path.join(process.env.SWL_TARGET_DIR ?? path.join(root, "target"), "debug");

/** The command line that starts each language's worker. */
export const WORKERS = {
  rust: [path.join(debugDir, "swl-test-worker")],
  c: [path.join(debugDir, "reliability", "storm_worker")],
  node: [process.execPath, path.join(here, "node_worker.cjs")],
};
export const LANGUAGES = Object.keys(WORKERS);

let passed = 0;

/** An assertion that counts: the run fails at the first false one. */
export function check(condition, message) {
  if (!condition) throw new Error(`CHECK failed: ${message}`);
  passed++;
}

/** The closing line test runners and CI read; a failed check has already thrown. */
export function reportChecks(part) {
  console.log(`${part}: ${passed} passed, 0 failed`);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const tempDirs = [];
process.on("exit", () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory, by its real path (the C worker derives the lock path from it). */
export function tempDir(tag) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `swl-rel-${tag}-`)));
  tempDirs.push(dir);
  return dir;
}

const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Starts a worker and reads its stdout line by line. `next(limitMs)` resolves with the next
 * line, or rejects when the worker exits first or the limit passes (a hang is a failure).
 */
export function startWorker(language, args) {
  const [program, ...prefix] = WORKERS[language];
  if (!fs.existsSync(program)) throw new Error(`${program} is missing: run tests/reliability/run.sh`);
  const child = spawn(program, [...prefix, ...args.map(String)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  running.add(child);
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const lines = [];
  let wake = () => {};
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line);
    wake();
  });
  const exited = new Promise((resolve) =>
    child.once("close", (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stderr });
      wake();
    }),
  );
  let done = false;
  exited.then(() => (done = true));
  const describe = () => `${language} worker ${args.join(" ")}`;
  return {
    child,
    exited,
    lines,
    async next(limitMs) {
      const deadline = Date.now() + limitMs;
      while (lines.length === 0) {
        if (done) throw new Error(`${describe()} exited without answering: ${stderr}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${describe()} gave no answer within ${limitMs} ms`);
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(left, 1_000));
        });
      }
      return lines.shift();
    },
    send(line) {
      child.stdin.write(`${line}\n`);
    },
    kill(signal = "SIGKILL") {
      child.kill(signal);
      return exited;
    },
    /** Waits for the exit, killing the worker and failing if it takes longer than `limitMs`. */
    async finish(limitMs) {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, limitMs);
      const result = await exited;
      clearTimeout(timer);
      if (timedOut) {
        throw new Error(`${describe()} did not finish within ${limitMs} ms: ${result.stderr}`);
      }
      return { ...result, stdout: lines.join("\n") };
    },
  };
}

/** Runs a worker to its end; see `finish`. */
export function runWorker(language, args, limitMs) {
  return startWorker(language, args).finish(limitMs);
}

/** The hidden temp files of the protocol (`.<lock name>.<hex>.tmp`) found in `dir`. */
export function tempFilesIn(dir) {
  return fs.readdirSync(dir).filter((name) => name.startsWith(".") && name.endsWith(".tmp"));
}

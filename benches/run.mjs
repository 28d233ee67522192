// Runs every benchmark of the suite, side by side, and writes their JSON lines (one per result,
// tagged with `bench` and `run`) to a file that report.mjs turns into BENCHMARKS.md.
//
//   node benches/run.mjs <results.jsonl>
//
// Needs what scripts/bench.sh prepares: benches/setup.sh (baselines), the release builds
// (C library, Rust bench, Node addon) and benches/build/swl_cycle; SWL_PACKAGE may name the
// package directory to load (see node/impls.mjs). Everything runs in one fresh directory under
// $TMPDIR (default /tmp), removed at the end; its filesystem is recorded with the machine facts.
// The cycles run a second time in a fresh directory under /dev/shm when that is tmpfs
// (`bench: 'cycle-tmpfs'`), removed at the end too; when it is not, the machine facts say why.
//
// SWL_BENCH_QUICK=1 shrinks every size (at most 2 runs, a tenth of every count but the storm's
// workers) to check the suite and the page end to end in about half a minute; its figures mean
// nothing.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);

// Sizes: the whole suite stays within a few minutes on a 2-core machine.
const FULL_PLAN = {
  cycle: { runs: 7, iterations: 7000 },
  handoff: { handoffs: 200 },
  deadHolder: { runs: 10 },
  releaseAll: { runs: 3, locks: 10_000 },
  waiters: { runs: 3, waiters: 1000, locks: 100 },
  storm: { runs: 3, workers: 6, iterations: 500 },
  stackCapture: { runs: 3, iterations: 7000 },
  waitersScale: { sizes: [10, 100, 1000, 10_000], samples: 40, idleS: 10 },
  properLockfile: { cycleRuns: 5, iterations: 3000, handoffs: 200, deadHolderRuns: 5, blockedRuns: 3 },
};
const quickSize = (key, value) =>
  key === 'runs'
    ? Math.min(value, 2)
    : key === 'workers'
      ? value
      : Array.isArray(value)
        ? value.map((v) => Math.ceil(v / 10))
        : Math.ceil(value / 10);
const PLAN =
  process.env.SWL_BENCH_QUICK === '1'
    ? Object.fromEntries(
        Object.entries(FULL_PLAN).map(([bench, sizes]) => [
          bench,
          Object.fromEntries(Object.entries(sizes).map(([key, v]) => [key, quickSize(key, v)])),
        ]),
      )
    : FULL_PLAN;
const STEP_TIMEOUT_MS = 240_000;

// `--only proper-lockfile`: only the proper-lockfile group, whose records replace that group's
// in the results file (the rest of the file, an earlier full run, is kept).
const args = process.argv.slice(2);
const only = args[0] === '--only' ? args.splice(0, 2)[1] : null;
const [outPath] = args;
if (!outPath || (only !== null && only !== 'proper-lockfile')) {
  console.error('usage: node benches/run.mjs [--only proper-lockfile] <results.jsonl>');
  process.exit(2);
}

const say = (message) => process.stderr.write(`[bench] ${message}\n`);
const command = (file, args) => execFileSync(file, args, { encoding: 'utf8' }).trim();
const tryCommand = (file, args) => {
  try {
    return command(file, args);
  } catch {
    return null;
  }
};

// findmnt's columns for the filesystem `dir` is on, from its last line: the mount on top when
// several are stacked on one mount point (/dev/shm can be).
function findmnt(dir, columns) {
  const lines = tryCommand('findmnt', ['-n', '-o', columns, '-T', dir])?.split('\n') ?? [];
  return lines.at(-1)?.trim().split(/\s+/) ?? [];
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'swl-bench-'));
const SHM = '/dev/shm';
// Where the cycles run a second time: tmpfs has no inode allocator effect like that of ext4
// without a journal (see ext4Journal), so there the figures show what the implementations cost.
// `dir` is null, and `note` says why, when /dev/shm is not tmpfs.
const tmpfs = (() => {
  const exists = fs.existsSync(SHM);
  const [fsType] = exists ? findmnt(SHM, 'FSTYPE') : [];
  if (fsType !== 'tmpfs') {
    const note = exists ? `${SHM} is ${fsType ?? 'of unknown type'}, not tmpfs` : `no ${SHM}`;
    say(`NOT MEASURING THE CYCLES ON TMPFS: ${note}`);
    return { dir: null, note };
  }
  return { dir: fs.mkdtempSync(path.join(SHM, 'swl-bench-')), note: null };
})();
let out = null; // opened once the machine facts are taken (`git describe --dirty` sees the old file)
const record = (line) => out.write(`${JSON.stringify(line)}\n`);
let failures = 0;

// Runs one benchmark program; every JSON line it prints becomes a record tagged with `tags`.
function step(tags, file, args) {
  const label = `${tags.bench}${tags.impl ? ` ${tags.impl}` : ''}${tags.run ? ` (run ${tags.run})` : ''}`;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TMPDIR: root },
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const line of stdout.split('\n').filter((l) => l.startsWith('{'))) {
        record({ ...tags, ...JSON.parse(line) });
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (code !== 0) {
        failures += 1;
        record({ ...tags, error: `${label}: exit ${code ?? signal}` });
        say(`${label}: FAILED (exit ${code ?? signal}) after ${seconds} s`);
      } else {
        say(`${label}: ${seconds} s`);
      }
      resolve();
    });
  });
}

// ext4 only: whether the filesystem has a journal. Without one, ext4 skips inodes freed in the
// last minutes when it allocates a new one, so creating files slows down after many deletions.
function ext4Journal(fsType, fsSource) {
  if (fsType !== 'ext4' || !fsSource) return null;
  try {
    const task = fs.readFileSync(`/sys/fs/ext4/${path.basename(fsSource)}/journal_task`, 'utf8');
    return task.trim() !== '<none>';
  } catch {
    return null;
  }
}

// The filesystem `dir` is on.
function filesystem(dir) {
  const [fsType, fsSource, fsMount] = findmnt(dir, 'FSTYPE,SOURCE,TARGET');
  return {
    fs_type: fsType ?? tryCommand('stat', ['-f', '-c', '%T', dir]),
    fs_source: fsSource ?? null,
    fs_mount: fsMount ?? null,
    fs_journal: ext4Journal(fsType, fsSource),
  };
}

// Limits the waiters-at-scale benchmark depends on (one inotify watch per directory and per
// lock file, one kept descriptor per waited-on lock).
function limits() {
  const read = (file) => tryCommand('cat', [file]);
  return {
    inotify_max_user_watches: Number(read('/proc/sys/fs/inotify/max_user_watches')) || null,
    inotify_max_user_instances: Number(read('/proc/sys/fs/inotify/max_user_instances')) || null,
    nofile_hard: Number(tryCommand('sh', ['-c', 'ulimit -Hn'])) || null,
  };
}

function machine() {
  return {
    bench: 'machine',
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    memory_bytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    bench_dir: root,
    ...filesystem(root),
    tmpfs: tmpfs.dir
      ? { bench_dir: tmpfs.dir, ...filesystem(tmpfs.dir) }
      : { not_measured: tmpfs.note },
    node: process.version,
    rustc: tryCommand('rustc', ['--version']),
    proper_lockfile: JSON.parse(
      fs.readFileSync(path.join(here, 'node_modules/proper-lockfile/package.json'), 'utf8'),
    ).version,
    liblockfile: tryCommand('dpkg-query', ['-W', '-f', '${Version}', 'liblockfile-dev']),
    commit: tryCommand('git', ['-C', repo, 'describe', '--always', '--dirty']),
    loadavg_start: os.loadavg(),
    limits: limits(),
    plan: PLAN,
  };
}

// The executable of a Rust bench target that `cargo bench --no-run` built.
function rustBenchExecutable(name) {
  const lines = command('cargo', ['bench', '--bench', name, '--no-run', '--message-format=json']);
  for (const line of lines.split('\n')) {
    const message = JSON.parse(line);
    if (
      message.reason === 'compiler-artifact' &&
      message.target?.name === name &&
      message.executable
    ) {
      return message.executable;
    }
  }
  throw new Error(`cargo bench --no-run named no ${name} executable`);
}

const node = (script, ...args) => [
  process.execPath,
  [path.join(here, 'node', script), ...args.map(String)],
];
const cBench = (name) => path.join(here, 'build', name);

// Every cycle implementation, in one directory, recorded as `bench`; each round starts with the
// next one, so that none always runs right after the same neighbour.
async function cycles(dir, bench, rust, { runs, iterations } = PLAN.cycle, names = null) {
  fs.mkdirSync(dir, { recursive: true });
  const all = [
    ['swl', ...node('cycle.mjs', 'swl', iterations, dir)],
    ['ts', ...node('cycle.mjs', 'ts', iterations, dir)],
    ['proper-lockfile', ...node('cycle.mjs', 'proper-lockfile', iterations, dir)],
    ['swl-c', cBench('swl_cycle'), [dir, String(iterations)]],
    ['swl-rust', rust, [dir, String(iterations)]],
    ['liblockfile', cBench('liblockfile_cycle'), [dir, String(iterations)]],
    ['syscall-floor', cBench('syscall_floor_cycle'), [dir, String(iterations)]],
    ['swl-proper-lockfile', ...node('cycle.mjs', 'swl-proper-lockfile', iterations, dir)],
  ];
  const impls = all.filter(([impl]) => (names ? names.includes(impl) : impl !== 'swl-proper-lockfile'));
  for (let run = 1; run <= runs; run += 1) {
    for (let k = 0; k < impls.length; k += 1) {
      const [impl, file, args] = impls[(run - 1 + k) % impls.length];
      await step({ bench, impl, run }, file, args);
    }
  }
}

async function perImpl(bench, script, impls, runs, ...args) {
  for (let run = 1; run <= runs; run += 1) {
    for (const impl of impls) {
      const dir = fs.mkdtempSync(path.join(root, `${bench}-`));
      await step({ bench, impl, run }, ...node(script, impl, ...args, dir));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

// N waiters on N locks in one process, idle and then woken one by one, from Rust and Node (the
// Node benchmark uses the Rust one's small holder processes).
async function waitersAtScale(rustWaiters) {
  const { sizes, samples, idleS } = PLAN.waitersScale;
  process.env.SWL_WAITERS_HOLDER = rustWaiters;
  for (const n of sizes) {
    for (const [impl, file, args] of [
      ['swl-rust', rustWaiters, [String(n), String(samples), String(idleS)]],
      ['swl', ...node('waiters-scale.mjs', n, samples, idleS)],
    ]) {
      const dir = fs.mkdtempSync(path.join(root, 'waiters-scale-'));
      const dirFirst = impl === 'swl-rust' ? [dir, ...args] : [...args, dir];
      await step({ bench: 'waiters-scale', impl, run: n }, file, dirFirst);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

// proper-lockfile's API, the real one and ours (session-write-lock/proper-lockfile), side by
// side: their own records (plf-*), so that a run of this group alone replaces only them.
const PROPER = ['proper-lockfile', 'swl-proper-lockfile'];
const GROUP_BENCHES = [
  'plf-group',
  'plf-handoff',
  'plf-dead-holder',
  'blocked-loop',
  'plf-cycle',
  'plf-cycle-tmpfs',
  'plf-group-end',
];
async function properLockfileGroup() {
  const { cycleRuns, iterations, handoffs, deadHolderRuns, blockedRuns } = PLAN.properLockfile;
  const { date, commit, loadavg_start } = machine();
  record({ bench: 'plf-group', date, commit, loadavg_start, plan: PLAN.properLockfile });
  await perImpl('plf-handoff', 'handoff.mjs', PROPER, 1, handoffs);
  await perImpl('plf-dead-holder', 'dead-holder.mjs', PROPER, 1, deadHolderRuns);
  await perImpl('blocked-loop', 'blocked-loop.mjs', PROPER, 1, blockedRuns);
  const sizes = { runs: cycleRuns, iterations };
  await cycles(path.join(root, 'plf-cycle'), 'plf-cycle', null, sizes, PROPER);
  if (tmpfs.dir) {
    await cycles(path.join(tmpfs.dir, 'plf-cycle'), 'plf-cycle-tmpfs', null, sizes, PROPER);
  }
  record({ bench: 'plf-group-end', loadavg_end: os.loadavg() });
}

// The results file without the proper-lockfile group's records.
function withoutGroup(file) {
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : [];
  return lines.filter((line) => line.trim() && !GROUP_BENCHES.includes(JSON.parse(line).bench));
}

const ALL = ['swl', 'ts', 'proper-lockfile'];
async function fullRun() {
  const facts = machine();
  const rust = rustBenchExecutable('rust_cycle'); // before any timing: cargo may build
  const rustWaiters = rustBenchExecutable('rust_waiters');
  out = fs.createWriteStream(outPath);
  record(facts);
  // The benchmarks that create few files first: the cycles and release-all create and delete
  // hundreds of thousands, which on some filesystems slows file creation for minutes after.
  await perImpl('handoff', 'handoff.mjs', ALL, 1, PLAN.handoff.handoffs);
  await perImpl('dead-holder', 'dead-holder.mjs', ALL, 1, PLAN.deadHolder.runs);
  const { runs: wRuns, waiters, locks } = PLAN.waiters;
  await perImpl('waiters', 'waiters.mjs', ['swl', 'ts'], wRuns, waiters, locks);
  await cycles(path.join(root, 'cycle'), 'cycle', rust);
  const { runs: scRuns, iterations: scIterations } = PLAN.stackCapture;
  await perImpl('stack-capture', 'stack-capture.mjs', ['swl'], scRuns, scIterations);
  if (tmpfs.dir) await cycles(tmpfs.dir, 'cycle-tmpfs', rust);
  const { runs: raRuns, locks: raLocks } = PLAN.releaseAll;
  await perImpl('release-all', 'release-all.mjs', ['swl', 'ts'], raRuns, raLocks);
  const { runs: sRuns, workers, iterations } = PLAN.storm;
  for (let run = 1; run <= sRuns; run += 1) {
    const args = ['--workers', workers, '--iterations', iterations];
    await step({ bench: 'storm', run }, ...node('storm.mjs', ...ALL, ...args));
  }
  await waitersAtScale(rustWaiters);
  await properLockfileGroup();
  record({ bench: 'end', date: new Date().toISOString(), loadavg_end: os.loadavg(), failures });
}

try {
  if (only) {
    const kept = withoutGroup(outPath);
    out = fs.createWriteStream(outPath);
    for (const line of kept) out.write(`${line}\n`);
    await properLockfileGroup();
  } else {
    await fullRun();
  }
} finally {
  if (out) await new Promise((resolve) => out.end(resolve));
  for (const dir of [root, tmpfs.dir].filter(Boolean)) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
say(`results in ${outPath}${failures ? ` (${failures} step(s) failed)` : ''}`);
process.exit(failures ? 1 : 0);

// BENCHMARKS.md, written from the figures of report/figures.mjs. Every number on the page comes
// from the results file, but for those of report/cycle-hops.md; the prose around them is fixed.

import fs from 'node:fs';
import { cycleRatio } from './figures.mjs';

// The one section measured by hand rather than by the suite (an instruction-count profile under
// callgrind, which the suite does not run): kept in its own file, copied in as it is.
const CYCLE_HOPS = fs.readFileSync(new URL('./cycle-hops.md', import.meta.url), 'utf8').trim();

const NAMES = {
  swl: 'session-write-lock (Node)',
  ts: 'TypeScript protocol',
  'proper-lockfile': 'proper-lockfile',
  'swl-proper-lockfile': 'session-write-lock/proper-lockfile',
  'swl-c': 'session-write-lock (C)',
  'swl-rust': 'session-write-lock (Rust)',
  liblockfile: 'liblockfile',
  'syscall-floor': 'syscall floor',
};
const name = (impl) => NAMES[impl] ?? impl;

// Milliseconds with sensible precision: 0.142 ms, 12.3 ms, 2657 ms.
const ms = (v) =>
  v == null ? 'n/a' : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ms`;
const pct = (v) => (v == null ? 'n/a' : `${v.toFixed(v < 1 ? 3 : 2)} %`);
const us = (ns) => (ns == null ? 'n/a' : `${(ns / 1000).toFixed(1)} µs`);
const times = (v) => (v == null ? 'n/a' : `${v.toFixed(v < 10 ? 2 : 1)}×`);
const ratio = (a, b) => (a != null && b != null && b > 0 ? a / b : null);
const spread = (lo, hi, unit) => (lo == null ? 'n/a' : `${unit(lo)} – ${unit(hi)}`);

function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function machineSection(m, end) {
  const gib = m.memory_bytes ? `${(m.memory_bytes / 2 ** 30).toFixed(1)} GiB` : 'n/a';
  const load = (l) => (l ? l.map((x) => x.toFixed(2)).join(' ') : 'n/a');
  return `## Machine

${table(
  ['', ''],
  [
    ['CPU', m.cpu_model],
    ['cores (nproc)', m.nproc],
    ['memory', gib],
    ['kernel', m.kernel],
    [
      'filesystem of the bench directory',
      `${m.fs_type}${journal(m)} (${m.fs_source} on ${m.fs_mount}); a fresh \`mkdtemp\` under \`$TMPDIR\`: \`${m.bench_dir}\``,
    ],
    ['filesystem of the second cycle directory', tmpfsDirectory(m)],
    ['Node / Rust', `${m.node} / ${m.rustc}`],
    ['baselines', `proper-lockfile ${m.proper_lockfile}, liblockfile-dev ${m.liblockfile}`],
    [
      'load average (1, 5, 15 min) at start / end',
      `${load(m.loadavg_start)} / ${load(end.loadavg_end)}`,
    ],
    ['run', `${m.date}, commit ${m.commit}`],
  ],
)}${m.fs_journal === false ? NO_JOURNAL : ''}${loaded(m, end) ? LOADED : ''}`;
}

// Whether the machine was busy with other work during the run (load average above its cores).
const loaded = (m, end) =>
  [m.loadavg_start?.[0], end.loadavg_end?.[0]].some((l) => l != null && l > (m.nproc ?? Infinity));

const LOADED = `

**The machine was loaded during this run** (a load average above its number of cores, from
other work sharing it): every latency and CPU figure here is pessimistic, the tails (p99, max)
most of all.`;

const tmpfsDirectory = ({ tmpfs }) =>
  tmpfs?.bench_dir
    ? `${tmpfs.fs_type} (${tmpfs.fs_source} on ${tmpfs.fs_mount}); a fresh \`mkdtemp\` under \`/dev/shm\`: \`${tmpfs.bench_dir}\``
    : `none, cycles not measured on tmpfs: ${tmpfs?.not_measured ?? 'not in these results'}`;
const journal = (m) =>
  m.fs_journal === true ? ', with journal' : m.fs_journal === false ? ', **without journal**' : '';
const NO_JOURNAL = `

Without a journal, ext4 does not hand out an inode freed less than 60 s ago (up to 6 min while
its inode table block is dirty) when it creates a file (\`recently_deleted()\` in
\`fs/ext4/ialloc.c\`): after many deletions each creation scans past them, so file creation
slows down for minutes. Every implementation here creates a file per acquisition and pays it
alike, but absolute times depend on what deleted files on this filesystem shortly before (the
benchmarks that create few files run first; the cycles run interleaved). The cycles are also
measured on tmpfs in the same run when \`/dev/shm\` is tmpfs (below); to measure everything on
tmpfs: \`TMPDIR=/dev/shm ./scripts/bench.sh\`.`;

// A target's measured value in its unit.
const measured = (t) =>
  t.value == null
    ? 'n/a'
    : { ratio: times, ms, pct, count: (n) => `${n} violations` }[t.unit](t.value);

// A target's note, led by the same ratio on tmpfs for the cycle targets.
const noteOf = (t) =>
  [
    'tmpfs' in t &&
      (t.tmpfs == null ? 'not measured on tmpfs' : `on tmpfs in the same run: ${times(t.tmpfs)}`),
    t.note,
  ]
    .filter(Boolean)
    .join('; ');

function targetsSection(targets) {
  const rows = targets.map((t) => [
    t.name,
    t.goal,
    measured(t),
    t.pass ? '**PASS**' : `**MISS** — ${t.shortfall}`,
    noteOf(t),
  ]);
  return `## Targets

${table(['target', 'asked', 'measured', 'result', 'note'], rows)}`;
}

// The two cycle tables (from Node; native callers) of one cycle directory.
function cycleTables(cycle) {
  const row = (impl, against) => {
    const c = cycle[impl];
    if (!c) return [name(impl), 'n/a', '', '', ''];
    return [
      name(impl),
      us(c.median_ns_per_cycle),
      spread(c.median_ns_per_cycle_min, c.median_ns_per_cycle_max, us),
      us(c.p99_ns),
      against(impl),
    ];
  };
  const overSwl = (impl) => times(cycleRatio(cycle, impl, 'swl'));
  const native = (impl) =>
    `${times(cycleRatio(cycle, impl, 'syscall-floor'))} / ${times(cycleRatio(cycle, impl, 'liblockfile'))}`;
  return `From Node (\`benches/node/cycle.mjs\`):

${table(
  ['implementation', 'median cycle', 'runs range', 'p99', 'time ÷ session-write-lock'],
  ['swl', 'ts', 'proper-lockfile'].map((impl) => row(impl, overSwl)),
)}

Native callers (\`benches/c/*_cycle.c\` through one driver, \`benches/rust_cycle.rs\`):

${table(
  ['implementation', 'median cycle', 'runs range', 'p99', 'time ÷ syscall floor / ÷ liblockfile'],
  ['swl-rust', 'swl-c', 'liblockfile', 'syscall-floor'].map((impl) => row(impl, native)),
)}`;
}

function cycleSection({ cycle, machine }) {
  const { runs, iterations } = machine.plan?.cycle ?? {};
  return `## Uncontended acquire + release cycle

One process takes and releases \`<dir>/s.jsonl\`'s lock in a loop, all implementations in the same
directory, in ${runs} rounds: each round runs every implementation once, one after the other (a
different one first each round). Each run is ${iterations} timed cycles after a warm-up; its
figure is its median cycle. Shown: the median of the runs' medians, their range, and the median
of the runs' p99. Ratios are taken round by round (the two runs were seconds apart) and the
median of those is shown.

${cycleTables(cycle)}`;
}

function cycleTmpfsSection({ cycleTmpfs, machine: m }) {
  return `## Uncontended cycle on tmpfs (/dev/shm)

${
  Object.keys(cycleTmpfs).length
    ? `The same rounds, right after the ones above, in a fresh directory on tmpfs (see Machine). They
are here because of the filesystem of the bench directory (${m.fs_type}${journal(m)}): ext4
without a journal slows file creation for minutes after many deletions, by an amount that varies
from run to run, while tmpfs has no such allocator effect, so these figures isolate what the
libraries cost.

${cycleTables(cycleTmpfs)}`
    : `Not measured: ${m.tmpfs?.not_measured ?? 'no tmpfs cycles in these results'}.`
}`;
}

function handoffSection({ handoff, machine }) {
  const swl = handoff.swl?.p50_ms;
  const rows = ['swl', 'ts', 'proper-lockfile'].map((impl) => {
    const h = handoff[impl];
    return h
      ? [name(impl), ms(h.p50_ms), ms(h.p99_ms), ms(h.max_ms), times(ratio(h.p50_ms, swl))]
      : [name(impl), 'n/a', '', '', ''];
  });
  return `## Hand-off to a waiter in another process

A holder process releases while a waiter process waits (${machine.plan?.handoff?.handoffs} hand-offs; the holder
keeps the lock 10–30 ms after the waiter starts waiting). Latency: the waiter's
\`process.hrtime.bigint()\` right after its acquire resolved minus the holder's just before
\`release()\` (CLOCK_MONOTONIC, one clock for all processes).

${table(['implementation', 'p50', 'p99', 'max', 'p50 ÷ session-write-lock'], rows)}`;
}

function deadHolderSection({ deadHolder, machine }) {
  const swl = deadHolder.swl?.median_ms;
  const how = {
    swl: "the flock is gone with the process; the kernel's close of its descriptor wakes the waiter (inotify)",
    ts: 'dead pid, seen at its next poll (backoff 50 ms, 100 ms, …)',
    'proper-lockfile':
      `lock directory's mtime older than its stale threshold (${deadHolder['proper-lockfile']?.all[0]?.stale_ms ?? 'n/a'} ms, ` +
      "its minimum); a process's first lock gets an mtime up to 1 s ahead (its mtime-precision probe)",
  };
  const rows = ['swl', 'ts', 'proper-lockfile'].map((impl) => {
    const d = deadHolder[impl];
    return d
      ? [
          name(impl),
          ms(d.median_ms),
          spread(d.min_ms_min, d.max_ms_max, ms),
          times(ratio(d.median_ms, swl)),
          how[impl],
        ]
      : [name(impl), 'n/a', '', '', how[impl]];
  });
  return `## Dead holder

The holder process is SIGKILLed while a waiter in another process waits
(${machine.plan?.deadHolder?.runs} runs, killed 50, 100, … ms after the waiter started waiting). Time: from just before
\`kill()\` to the waiter holding the lock.

${table(['implementation', 'median', 'range', 'median ÷ session-write-lock', 'how it tells'], rows)}`;
}

// The real proper-lockfile and ours side by side: the group of benches/run.mjs of that name.
function properLockfileSection({ properLockfile: p }) {
  const [real, ours] = ['proper-lockfile', 'swl-proper-lockfile'];
  const pick = (byImpl, key) => [byImpl[real]?.[key], byImpl[ours]?.[key]];
  const row = (what, [a, b], fmt, over = ratio(a, b)) => [what, fmt(a), fmt(b), times(over)];
  const blocked = (impl) => {
    const b = p.blockedLoop[impl]?.all[0];
    if (!b) return 'n/a';
    const after = b.taken_runs ? `, after ${ms(b.taken_after_ms)} (median)` : '';
    return `taken in ${b.taken_runs} of ${b.runs} runs${after}; holder told ECOMPROMISED in ${b.compromised_runs}`;
  };
  const b = p.blockedLoop[real]?.all[0] ?? p.blockedLoop[ours]?.all[0];
  const stale = p.deadHolder[real]?.all[0]?.stale_ms ?? 'n/a';
  const rows = [
    row('acquire + release cycle, median', pick(p.cycle, 'median_ns_per_cycle'), us, cycleRatio(p.cycle, real, ours)),
    ...(Object.keys(p.cycleTmpfs).length
      ? [row('the same cycle on tmpfs', pick(p.cycleTmpfs, 'median_ns_per_cycle'), us, cycleRatio(p.cycleTmpfs, real, ours))]
      : []),
    row('hand-off to another process, p50', pick(p.handoff, 'p50_ms'), ms),
    row(`holder SIGKILLed → waiter holds the lock, median (stale ${stale} ms)`, pick(p.deadHolder, 'median_ms'), ms),
    [
      `holder's event loop blocked ${b?.block_ms ?? 'n/a'} ms (stale ${b?.stale_ms ?? 'n/a'} ms), a proper-lockfile waiter polling`,
      blocked(real),
      blocked(ours),
      '',
    ],
  ];
  const g = p.group;
  const title = "## proper-lockfile's API: the real one and ours";
  if (!g) return `${title}\n\nNot measured in these results: run \`./scripts/bench.sh --only proper-lockfile\`.`;
  const load = (values) => values?.map((v) => v.toFixed(2)).join(' ') ?? 'n/a';
  const when = `Measured ${g.date} at commit ${g.commit}, load average ${load(g.loadavg_start)} at its start / ${load(p.groupEnd?.loadavg_end)} at its end (\`./scripts/bench.sh --only proper-lockfile\` re-measures this group alone).`;
  const { cycleRuns, iterations, handoffs, deadHolderRuns, blockedRuns } = g.plan;
  return `${title}

\`session-write-lock/proper-lockfile\` (docs/PROTOCOL.md, "proper-lockfile's lock") beside
proper-lockfile itself, with the same options (polling 5–100 ms), by the programs of the sections
above: ${cycleRuns} interleaved rounds of ${iterations} cycles (in the bench directory, then on tmpfs: see Machine
and the cycle sections for why), ${handoffs} hand-offs, ${deadHolderRuns} killed holders; and
\`benches/node/blocked-loop.mjs\` (${blockedRuns} runs): a holder busy-waits its event loop for twice \`stale\`
while a real proper-lockfile waiter in another process tries to take the lock. ${when}

${table(['measure', 'proper-lockfile', 'session-write-lock/proper-lockfile', 'proper-lockfile ÷ ours'], rows)}`;
}

function releaseAllSection({ releaseAll, machine }) {
  const swl = releaseAll.swl?.release_all_ms;
  const rows = ['swl', 'ts'].map((impl) => {
    const r = releaseAll[impl];
    if (!r) return [name(impl), 'n/a', '', '', '', '', ''];
    return [
      name(impl),
      ms(r.release_all_ms),
      spread(r.release_all_ms_min, r.release_all_ms_max, ms),
      times(ratio(r.release_all_ms, swl)),
      `${r.released} of ${r.locks}`,
      r.left,
      ms(r.acquire_all_ms),
    ];
  });
  const { runs, locks } = machine.plan?.releaseAll ?? {};
  return `## Release-all with ${locks} held locks

One process holds ${locks} locks (distinct session files in one directory) and calls
\`releaseAllSessionWriteLocks()\` (the TypeScript baseline: its \`releaseAll()\`). Median of ${runs} runs.

${table(['implementation', 'release-all', 'runs range', '÷ session-write-lock', 'released (all runs)', 'lock files left', `taking the ${locks} locks before`], rows)}`;
}

function waitersSection({ waiters, machine }) {
  const { runs, waiters: n, locks } = machine.plan?.waiters ?? {};
  const rows = ['swl', 'ts'].map((impl) => {
    const w = waiters[impl];
    if (!w) return [name(impl), 'n/a', '', '', '', '', '', '', ''];
    return [
      name(impl),
      `${w.served} of ${w.offered}`,
      w.timeouts,
      w.violations,
      ms(w.wait_p50_ms),
      ms(w.wait_max_ms_max),
      ms(w.elapsed_ms),
      ms(w.loop_delay_p99_ms),
      ms(w.loop_delay_max_ms_max),
    ];
  });
  return `## ${n} concurrent waiters on ${locks} locks in one process

${n} acquires start at once, ${n / locks} per lock, \`allowReentrant: false\` so that they contend; each
holds its lock ~1 ms, then releases. Counts summed over ${runs} runs; times are the median of the
runs, except the "worst" columns (the highest of all runs). Event loop delay:
\`perf_hooks.monitorEventLoopDelay\` (1 ms resolution) over the run.

${table(['implementation', 'served', 'timeouts', 'violations', 'wait p50', 'wait max (worst)', 'all served after', 'loop delay p99', 'loop delay max (worst)'], rows)}`;
}

function waitersScaleSection({ waitersScale, machine }) {
  const { sizes = [], samples, idleS } = machine.plan?.waitersScale ?? {};
  const cells = (r) =>
    r ? [pct(r.idle_cpu_pct), `${ms(r.kill_p50_ms)} / ${ms(r.kill_p99_ms)} / ${ms(r.kill_max_ms)}`] : ['n/a', 'n/a'];
  const rows = sizes.map((n) => [
    n.toLocaleString('en-US'),
    ...cells(waitersScale['swl-rust']?.[n]),
    ...cells(waitersScale.swl?.[n]),
  ]);
  const unsettled = Object.values(waitersScale)
    .flatMap((byN) => Object.values(byN))
    .filter((r) => r.settled === false)
    .map((r) => `${name(r.impl)} at ${r.waiters}`);
  const l = machine.limits ?? {};
  return `## Waiters at scale: idle cost and a dead holder among N waiters

N waiters in one process on N locks, each in its own directory, all held by other (small)
processes: \`benches/rust_waiters.rs\` (Rust) and \`benches/node/waiters-scale.mjs\` (Node).
**Idle CPU**: user + system time of the waiting process (every thread) over ${idleS} s in which
nothing happens, from the moment every waiter is settled (watched, its lock file kept open), as
a percentage of one core. **Kill → acquire**: ${samples} of the N holders are SIGKILLed one at a
time; time from just before \`kill()\` to the waiter holding the lock (Node: its promise
resolved), p50 / p99 / max. Limits here: inotify \`max_user_watches\` ${l.inotify_max_user_watches ?? 'n/a'}
(two watches per waited-on lock), hard \`RLIMIT_NOFILE\` ${l.nofile_hard ?? 'n/a'} (one descriptor per
waited-on lock; both benchmarks raise the soft limit to it).${unsettled.length ? ` Not seen settled (window opened anyway): ${unsettled.join(', ')}.` : ''}

${table(['waiters', 'Rust: idle CPU', 'Rust: kill → acquire p50 / p99 / max', 'Node: idle CPU', 'Node: kill → acquire p50 / p99 / max'], rows)}`;
}

function stormSection({ storm, machine }) {
  const { runs, workers, iterations } = machine.plan?.storm ?? {};
  const rows = ['swl', 'ts', 'proper-lockfile'].map((impl) => {
    const s = storm[impl];
    if (!s) return [name(impl), 'n/a', '', '', '', ''];
    return [name(impl), s.violations, s.acquisitions, s.stalePlanted, s.timeouts, s.compromised];
  });
  return `## Mutual exclusion under a stale-lock storm

\`benches/node/storm.mjs\`: ${workers} processes take one lock ${iterations} times each; inside, each checks it is
alone (a marker file created with \`O_EXCL\`). Every 5th time, after releasing, a worker leaves a
crashed holder's lock behind if the lock is free, so the others must reclaim it. Counts summed
over ${runs} runs.

${table(['implementation', 'violations (two holders at once)', 'acquisitions', 'stale locks planted', 'timeouts', 'compromised releases'], rows)}`;
}

const METHOD = `## What is compared

- **session-write-lock**: this project, release build; from Node through the npm package
  (\`npm/\`, copied with the release addon to \`target/bench/npm\` so that a debug rebuild cannot
  change what is measured), from C through \`libsession_write_lock.so\`, from Rust directly.
- **TypeScript protocol** (\`benches/baselines/ts-protocol.mjs\`): the gateway's lock module as it
  is today, reproduced: \`O_EXCL\` create then write, staleness by pid/age, polling backoff.
- **proper-lockfile**: npm's most used lock library (\`mkdir\` lock, mtime refresh, staleness by
  mtime only), polling 5–100 ms.
- **liblockfile**: Debian's \`lockfile_create\`/\`lockfile_remove\` (link-based dot-lock).
- **syscall floor** (\`benches/c/syscall_floor_cycle.c\`): exactly the system calls
  session-write-lock makes for one cycle, in a C loop, nothing else.

Options are the gateway's defaults (10 s timeout, 30 min stale) unless a section says otherwise.
Raw results: \`benches/results.jsonl\`; sizes of every benchmark: \`benches/run.mjs\`.`;

export function page(f) {
  const errors = f.errors.length
    ? `\n\n## Failed steps\n\n${f.errors.map((e) => `- ${e}`).join('\n')}`
    : '';
  return `# Benchmarks

<!-- Generated by ./scripts/bench.sh (benches/report.mjs) from benches/results.jsonl. Do not edit: re-run the command. -->

How session-write-lock compares with what a user would otherwise use, measured side by side in
one run of

    ./scripts/bench.sh

${targetsSection(f.targets)}

${machineSection(f.machine, f.end)}

${cycleSection(f)}

${cycleTmpfsSection(f)}

${CYCLE_HOPS}

${handoffSection(f)}

${deadHolderSection(f)}

${properLockfileSection(f)}

${releaseAllSection(f)}

${waitersSection(f)}

${stormSection(f)}

${waitersScaleSection(f)}

${METHOD}${errors}
`;
}

// The proper-lockfile group in a few lines: each figure of the real one and ours, and the ratio.
function properLockfileSummary({ properLockfile: p }) {
  if (!p.group) return [];
  const [real, ours] = ['proper-lockfile', 'swl-proper-lockfile'];
  const line = (what, byImpl, key, fmt, over) => {
    const [a, b] = [byImpl[real]?.[key], byImpl[ours]?.[key]];
    return `proper-lockfile vs ours, ${what}: ${fmt(a)} vs ${fmt(b)} (${times(over ?? ratio(a, b))})`;
  };
  const blocked = (impl) => {
    const b = p.blockedLoop[impl]?.all[0];
    return b ? `waiter got in ${b.taken_runs}/${b.runs}, ECOMPROMISED ${b.compromised_runs}/${b.runs}` : 'n/a';
  };
  return [
    line('cycle', p.cycle, 'median_ns_per_cycle', us, cycleRatio(p.cycle, real, ours)),
    line('cycle on tmpfs', p.cycleTmpfs, 'median_ns_per_cycle', us, cycleRatio(p.cycleTmpfs, real, ours)),
    line('hand-off p50', p.handoff, 'p50_ms', ms),
    line('dead holder median', p.deadHolder, 'median_ms', ms),
    `proper-lockfile vs ours, event loop blocked past stale: ${blocked(real)} vs ${blocked(ours)}`,
  ];
}

// The few lines scripts/bench.sh prints at the end.
export function summary(f) {
  const lines = f.targets.map((t) => {
    const note = noteOf(t);
    return (
      `${t.pass ? 'PASS' : 'MISS'}  ${t.name}: ${t.goal}; measured ${measured(t)}` +
      `${t.pass ? '' : ` (${t.shortfall})`}${note ? `; ${note}` : ''}`
    );
  });
  return [...lines, ...properLockfileSummary(f)].join('\n');
}

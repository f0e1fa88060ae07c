#!/usr/bin/env node
// Kernel overhead of the sensor on a tight openat+close loop (a C program
// built here with cc), in alternating rounds within one run:
//
//   untraced   no sensor attached
//   delivered  `peregrine run` with the default rules: every openat goes to
//              the agent and through the rules (and every close, in builds
//              before the fd table followed every descriptor-making syscall:
//              there a rule on openat made the kernel send the closes of
//              files too; now only a rule on close does)
//   filtered   `peregrine run` with a rule that needs only unlinkat: the
//              kernel filter drops every openat and every close (the fd
//              table needs no close; with per-syscall tracepoints neither
//              runs a program)
//   bpftrace   peer reference: bpftrace counting sys_enter_openat in the
//              kernel (if bpftrace is installed)
//   kernel     the loader alone asked for openat and close (ids 2,69, as
//              the default rules' filter has them), its output to
//              /dev/null: the kernel-side cost without the agent's CPU
//              competing with the loop for the machine's cores (every
//              openat; closes as the build's policy says, see delivered)
//   kernel filtered
//              the loader alone with the filtered scenario's syscall set
//              (nothing sent): the kernel side of "filtered" without the
//              agent (the default raw tp_btf program, which every syscall
//              runs)
//   kernel filtered tracepoints
//              the same with --attach tracepoints: a program only on the
//              syscalls the filter needs (syscalls:sys_exit_<name>); with
//              no rule on close, none runs for the loop at all
//   noop both  the floor: do-nothing tp_btf programs on sys_enter and
//              sys_exit (bpf/bench/noop.bpf.c, never part of Peregrine):
//              the syscall-tracepoint slow path plus one empty program call
//              per hit; what any tp_btf syscall sensor pays on this kernel
//   noop exit  the same with a sys_exit program only
//
// For the attached scenarios it also reads the loader's and the agent's CPU
// time (/proc/<pid>/stat) over the loop, the records sent and lost (from
// /metrics), and the agent's RSS; and once, two loops in parallel under the
// delivered scenario, the drop percentage. ns/pair is the loop's CPU time
// (CLOCK_PROCESS_CPUTIME_ID); wall-clock figures are printed for the noise.
//
// With --baseline DIR (another checkout, built: `npm ci && npm run build &&
// make -C bpf` there), the build-dependent scenarios (kernel filtered,
// kernel only, delivered, filtered) also run with that checkout's loader and
// agent, in the same rounds right after this tree's, and the summary prints
// both side by side.
//
//   npm run build && sudo node bench/kernel-overhead.mjs [--baseline DIR]
//   (PAIRS=1000000 ROUNDS=3 LOOP=read ATTACH=tracepoints)
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { kernelFilter } from "../dist/sensor/event-filter.js";
import { cpuTicks, drained, metric, statusBytes } from "./process-stats.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PAIRS = Number(process.env.PAIRS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
const baselineArg = process.argv.indexOf("--baseline");
/** Another checkout to compare with, in the same rounds (undefined: none). */
const BASELINE = baselineArg > 0 ? resolve(process.argv[baselineArg + 1] ?? "") : undefined;
// LOOP=read: the loop does one-byte reads of /dev/zero instead (a "pair" is then one read):
// what the sensor costs a syscall it does not watch, most of a machine's.
const LOOP_ARGS = process.env.LOOP === "read" ? ["read"] : [];
// ATTACH=tracepoints|raw: how this tree's loader and agent attach the syscall exit program
// (--attach, sensor.attach) where a scenario does not say; unset: their default (raw).
const ATTACH = process.env.ATTACH;

const LOOP_C = String.raw`
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	long n = atol(argv[1]);
	struct timespec a, b, ca, cb;
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
	if (argc > 2) { /* "read": one-byte reads of /dev/zero, a syscall no rule watches */
		char b;
		int fd = open("/dev/zero", O_RDONLY);
		for (long i = 0; i < n; i++)
			read(fd, &b, 1);
	} else {
		for (long i = 0; i < n; i++)
			close(open("/etc/hostname", O_RDONLY));
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f %.1f\n", ((cb.tv_sec - ca.tv_sec) * 1e9 + (cb.tv_nsec - ca.tv_nsec)) / n,
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
	return 0;
}
`;

const work = mkdtempSync(join(tmpdir(), "pg-kbench-"));
const loopBin = join(work, "openclose");
writeFileSync(`${loopBin}.c`, LOOP_C);
execFileSync("cc", ["-O2", "-o", loopBin, `${loopBin}.c`]);
const filterRules = join(work, "unlink-only.yaml");
writeFileSync(
  filterRules,
  `- rule: Unlink of a bench marker
  desc: needs only unlinkat, so the kernel filters openat out
  condition: evt.type = unlinkat and evt.arg.name = /nonexistent/pg-bench
  output: "unlink %evt.arg.name"
  priority: NOTICE
`,
);

/** Wall-clock ns per pair of every loop run, for the noise report. */
const walls = [];

// Syscall tracers of other users of this machine (another agent's loader, a bpftrace) add their cost to
// every scenario of this run: they are counted before each loop and reported, never subtracted.
const TRACER_COMMS = new Set(["peregrine-loade", "bpftrace", "noop-loader", "opensnoop", "execsnoop"]);
/** Most foreign tracer processes seen before a loop in the current round. */
let foreignInRound = 0;
function noteForeignTracers() {
  const n = countForeignTracers();
  foreignInRound = Math.max(foreignInRound, n);
}
function countForeignTracers() {
  let n = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      if (!TRACER_COMMS.has(comm)) continue;
      // Ours: children of this process or of the agent it started.
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
      if (ppid === process.pid || ownAgents.has(ppid)) continue;
      n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}
/** Before a round: waits (up to QUIET_WAIT_S, default 120) for foreign tracers to go. */
async function waitQuiet() {
  const limit = Date.now() + 1000 * Number(process.env.QUIET_WAIT_S ?? 120);
  while (countForeignTracers() > 0 && Date.now() < limit) await new Promise((r) => setTimeout(r, 1000));
}
/** Pids of the agents this bench started (their loaders are ours). */
const ownAgents = new Set();

/**
 * CPU ns per pair (the loop's own CPU time: its syscalls and the BPF programs
 * that run in its context) of each loop run in parallel. CPU time rather than
 * wall time: this machine is shared, and time spent waiting for a core is not
 * overhead the sensor adds to the traced process.
 */
function runLoops(parallel) {
  noteForeignTracers();
  return Promise.all(
    Array.from({ length: parallel }, () => {
      const child = spawn(loopBin, [String(PAIRS), ...LOOP_ARGS], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
      });
      return new Promise((resolve) =>
        child.once("close", () => {
          const [cpu, wall] = out.trim().split(" ").map(Number);
          walls.push(wall);
          resolve(cpu);
        }),
      );
    }),
  );
}

const rssBytes = (pid) => statusBytes(pid, "VmRSS");

async function startAgent(rulesArgs, dir = root) {
  const agent = spawn(
    process.execPath,
    [
      join(dir, "bin/peregrine.js"),
      "run",
      ...rulesArgs,
      ...(ATTACH && dir === root ? ["-o", `sensor.attach=${ATTACH}`] : []),
      "--output",
      "json",
      "--metrics-address",
      "127.0.0.1:0",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  ownAgents.add(agent.pid);
  let stderr = "";
  await new Promise((resolve, reject) => {
    agent.stderr.setEncoding("utf8").on("data", (t) => {
      stderr += t;
      if (/ready/.test(stderr)) resolve();
    });
    agent.once("exit", (code) => reject(new Error(`agent exited ${code}: ${stderr}`)));
  });
  const url = /metrics on (http:\/\/\S+)\/metrics/.exec(stderr)?.[1];
  const loaderPid = Number(/loader pid (\d+)/.exec(stderr)?.[1]);
  await settled(agent.pid);
  return { agent, url, loaderPid };
}

/**
 * Waits until the agent's start-up work (the /proc seeding, rules compile,
 * export workers, JIT warm-up) is over: at least 1 s, then until its threads
 * together use under 2 ms of CPU in 200 ms (at most 8 s). On 2 vCPUs that
 * work otherwise runs beside the loop and shows in its ns/pair as overhead
 * of the sensor, which it is not: the figure is the steady state's.
 */
async function settled(pid) {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const threadsNs = () => {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`))
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    return ns;
  };
  await sleep(1000);
  for (let i = 0; i < 35; i++) {
    const before = threadsNs();
    await sleep(200);
    if (threadsNs() - before < 2e6) return;
  }
}

async function stopAgent(a) {
  a.agent.kill("SIGTERM");
  await new Promise((r) => a.agent.once("exit", r));
}

/** One attached measurement: ns/pair and what it cost the sensor. */
async function attached(rulesArgs, parallel = 1, dir = root) {
  const a = await startAgent(rulesArgs, dir);
  const sent0 = await metric(a.url, "peregrine_kernel_events_total");
  const drops0 = await metric(a.url, "peregrine_kernel_drops_total");
  const agent0 = cpuTicks(a.agent.pid);
  const loader0 = cpuNs(a.loaderPid); // single-threaded: its main thread's schedstat is all of it
  const ns = await runLoops(parallel);
  // The agent catches up on what the loop produced; the loader reports its counts once a second.
  const sent = await drained(a.url);
  const events = (await metric(a.url, "peregrine_events_total")) || 0;
  const agentCpu = (cpuTicks(a.agent.pid) - agent0) / CLK_TCK;
  const loaderCpu = (cpuNs(a.loaderPid) - loader0) / 1e9;
  const cpu = agentCpu + loaderCpu;
  const drops = (await metric(a.url, "peregrine_kernel_drops_total")) - drops0;
  const filtered = await metric(a.url, "peregrine_kernel_events_filtered_total");
  const rss = rssBytes(a.agent.pid);
  await stopAgent(a);
  return { ns, sent: sent - sent0, drops, cpu, agentCpu, loaderCpu, rss, events, filtered };
}

/** CPU time of a process in ns (/proc/<pid>/schedstat: ns resolution, unlike stat's ticks). */
function cpuNs(pid) {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
}

// struct pg_stats: 24-byte header, then u64 counters (enum pg_counter).
const STATS_BYTES = 24 + 8 * 16;
const CNT_EMITTED = 1;
const CNT_RINGBUF_FULL = 2;

// What `peregrine run` asks the kernel for with the filtered scenario's rule (unlinkat + the state tables').
const FILTERED_IDS = kernelFilter(new Set(["unlinkat"])).ids.join(",");

/**
 * The loader alone, asked for openat and close (or, with extra arguments,
 * what they say), its output read and discarded by this process: the kernel
 * side and the loader's own cost per record (its CPU over the records it
 * wrote, from its final stats record).
 */
async function kernelOnly(args = ["--syscalls", "2,69"] /* PG_SYS_OPENAT, PG_SYS_CLOSE */, dir = root) {
  const attach = ATTACH && dir === root && !args.includes("--attach") ? ["--attach", ATTACH] : [];
  const loader = spawn(
    join(dir, "bpf/.output/peregrine-loader"),
    [...args, ...attach, "--stats-interval-ms", "0"],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  let bytes = 0;
  let tail = Buffer.alloc(0);
  await new Promise((resolve) => loader.stdout.once("data", resolve));
  loader.stdout.on("data", (d) => {
    bytes += d.length;
    tail = Buffer.concat([tail, d]).subarray(-STATS_BYTES);
  });
  const cpu0 = cpuNs(loader.pid);
  const ns = (await runLoops(1))[0];
  const cpu = (cpuNs(loader.pid) - cpu0) / 1e9;
  loader.stdin.end();
  await new Promise((r) => loader.once("exit", r));
  // Totals since load, so they include the second before the loop: close enough for a per-record cost.
  const records = Number(tail.readBigUInt64LE(24 + 8 * CNT_EMITTED));
  const lost = Number(tail.readBigUInt64LE(24 + 8 * CNT_RINGBUF_FULL));
  return { ns, bytes, cpu, records, lost };
}

/** The floor: do-nothing tp_btf programs ("enter,exit" or "exit"), nothing else. */
async function noop(which) {
  const p = spawn(join(root, "bpf/.output/noop-loader"), [which], { stdio: ["pipe", "pipe", "inherit"] });
  const ok = await new Promise((resolve) => {
    p.stdout.setEncoding("utf8").once("data", (t) => resolve(t.includes("ready")));
    p.once("exit", () => resolve(false));
  });
  if (!ok) return Number.NaN;
  const ns = (await runLoops(1))[0];
  p.stdin.end();
  await new Promise((r) => p.once("exit", r));
  return ns;
}

const HAS_BPFTRACE = (() => {
  try {
    execFileSync("bpftrace", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** bpftrace counting the openat tracepoint in the kernel, as a peer reference. */
async function bpftrace() {
  const bt = spawn("bpftrace", ["-e", "tracepoint:syscalls:sys_enter_openat { @n = count(); }"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const attachedOk = await new Promise((resolve) => {
    bt.stdout.setEncoding("utf8").on("data", (t) => {
      if (t.includes("Attaching")) setTimeout(() => resolve(true), 300);
    });
    bt.once("exit", () => resolve(false));
    // A bpftrace that neither attaches nor exits (seen here once after its RLIMIT_MEMLOCK
    // warning) must not stall the run.
    setTimeout(() => resolve(false), 15_000);
  });
  if (!attachedOk) {
    // e.g. tracefs not mounted
    if (bt.exitCode === null && bt.signalCode === null) {
      bt.kill("SIGKILL");
      await new Promise((r) => bt.once("exit", r));
    }
    return Number.NaN;
  }
  const ns = (await runLoops(1))[0];
  bt.kill("SIGINT");
  await new Promise((r) => bt.once("exit", r));
  return ns;
}

const DEFAULT_RULES = [];
const FILTER_RULES = ["--rules", filterRules];
const fmt = (n) => n.toLocaleString("en-US", { maximumFractionDigits: 1 });

console.log(
  `${LOOP_ARGS.length > 0 ? "one-byte reads of /dev/zero" : "openat+close pairs"} per loop: ${fmt(PAIRS)}, rounds: ${ROUNDS}, cores: ${execFileSync("nproc", { encoding: "utf8" }).trim()}`,
);
const rows = [];
for (let round = 1; round <= ROUNDS; round++) {
  // Alternate the order so drift (other jobs on the machine) hits every scenario.
  const order =
    round % 2 === 1
      ? [
          "untraced",
          "noopBoth",
          "noopExit",
          "kfilt",
          "kfiltTp",
          "bpftrace",
          "kernel",
          "delivered",
          "filtered",
        ]
      : [
          "filtered",
          "delivered",
          "kernel",
          "bpftrace",
          "kfiltTp",
          "kfilt",
          "noopExit",
          "noopBoth",
          "untraced",
        ];
  if (BASELINE) {
    // Each build-dependent scenario's baseline run right after it, so both see the same machine.
    const withBase = [];
    for (const s of order) {
      withBase.push(s);
      if (["kfilt", "kernel", "delivered", "filtered"].includes(s)) withBase.push(`${s}B`);
    }
    order.splice(0, order.length, ...withBase);
  }
  await waitQuiet();
  const row = { round };
  foreignInRound = 0;
  for (const s of order) {
    if (s === "untraced") row.untraced = (await runLoops(1))[0];
    else if (s === "kernel") row.kernel = await kernelOnly();
    else if (s === "bpftrace") row.bpftrace = HAS_BPFTRACE ? await bpftrace() : Number.NaN;
    else if (s === "noopBoth") row.noopBoth = await noop("enter,exit");
    else if (s === "noopExit") row.noopExit = await noop("exit");
    else if (s === "kfilt") row.kfilt = (await kernelOnly(["--syscalls", FILTERED_IDS])).ns;
    else if (s === "kfiltTp")
      row.kfiltTp = (await kernelOnly(["--syscalls", FILTERED_IDS, "--attach", "tracepoints"])).ns;
    else if (s === "kfiltB") row.kfiltB = (await kernelOnly(["--syscalls", FILTERED_IDS], BASELINE)).ns;
    else if (s === "kernelB") row.kernelB = await kernelOnly(undefined, BASELINE);
    else if (s === "deliveredB") row.deliveredB = await attached(DEFAULT_RULES, 1, BASELINE);
    else if (s === "filteredB") row.filteredB = await attached(FILTER_RULES, 1, BASELINE);
    else row[s] = await attached(s === "delivered" ? DEFAULT_RULES : FILTER_RULES);
  }
  row.foreign = foreignInRound;
  rows.push(row);
  const d = row.delivered;
  const f = row.filtered;
  console.log(
    `round ${round}${foreignInRound ? ` (${foreignInRound} foreign tracer(s) running: figures inflated)` : ""}: untraced ${fmt(row.untraced)} ns/pair | noop enter+exit ${fmt(row.noopBoth)} ns (${(row.noopBoth / row.untraced).toFixed(2)}x) | noop exit ${fmt(row.noopExit)} ns (${(row.noopExit / row.untraced).toFixed(2)}x) | kernel filtered ${fmt(row.kfilt)} ns (${(row.kfilt / row.untraced).toFixed(2)}x), tracepoints ${fmt(row.kfiltTp)} ns (${(row.kfiltTp / row.untraced).toFixed(2)}x) | bpftrace ${fmt(row.bpftrace)} ns (${(row.bpftrace / row.untraced).toFixed(2)}x) | kernel only ${fmt(row.kernel.ns)} ns (${(row.kernel.ns / row.untraced).toFixed(2)}x, loader ${row.kernel.cpu.toFixed(2)} s CPU = ${fmt((row.kernel.cpu * 1e9) / row.kernel.records)} ns/record, ${fmt(row.kernel.records)} records, ${row.kernel.lost} lost) | delivered ${fmt(d.ns[0])} ns (${(d.ns[0] / row.untraced).toFixed(2)}x), ` +
      `${fmt(d.sent)} records sent (${(d.sent / PAIRS).toFixed(2)} per pair), ${d.drops} lost, ${fmt(d.sent / d.cpu)} events/CPU-s (loader ${d.loaderCpu.toFixed(3)} s + agent ${d.agentCpu.toFixed(2)} s), agent RSS ${(d.rss / 2 ** 20).toFixed(0)} MB | ` +
      `filtered ${fmt(f.ns[0])} ns (${(f.ns[0] / row.untraced).toFixed(2)}x), ${fmt(f.sent)} sent, ${f.drops} lost`,
  );
  if (BASELINE) {
    const x = (n) => `${fmt(n)} ns (${(n / row.untraced).toFixed(2)}x)`;
    console.log(
      `  baseline: kernel filtered ${x(row.kfiltB)} | kernel only ${x(row.kernelB.ns)} | delivered ${x(row.deliveredB.ns[0])}, ${fmt(row.deliveredB.sent)} sent (${(row.deliveredB.sent / PAIRS).toFixed(2)} per pair), ${row.deliveredB.drops} lost | filtered ${x(row.filteredB.ns[0])}, ${fmt(row.filteredB.sent)} sent`,
    );
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// Ratios from the rounds no other tracer ran in, when there are such rounds: the others' are inflated.
const clean = rows.filter((r) => !r.foreign);
const basis = clean.length > 0 ? clean : rows;
const span = (pick) => {
  const xs = basis.map((r) => pick(r) / r.untraced);
  return `${med(xs).toFixed(2)}x (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
};
console.log(
  `ratios over ${clean.length > 0 ? `the ${clean.length} round(s) without foreign tracers` : `all ${rows.length} rounds (every one had foreign tracers)`}, median (min-max): ` +
    `noop exit ${span((r) => r.noopExit)}, noop enter+exit ${span((r) => r.noopBoth)}, ` +
    `kernel filtered ${span((r) => r.kfilt)}, tracepoints ${span((r) => r.kfiltTp)}, filtered ${span((r) => r.filtered.ns[0])}, ` +
    `bpftrace ${span((r) => r.bpftrace)}, kernel only ${span((r) => r.kernel.ns)}, delivered ${span((r) => r.delivered.ns[0])}`,
);
if (BASELINE) {
  console.log(
    `baseline (${BASELINE}), same rounds: kernel filtered ${span((r) => r.kfiltB)}, filtered ${span((r) => r.filteredB.ns[0])}, kernel only ${span((r) => r.kernelB.ns)}, delivered ${span((r) => r.deliveredB.ns[0])}`,
  );
  const addedSpan = (pick) => {
    const xs = basis.map((r) => pick(r) - r.untraced);
    return `${fmt(med(xs))} (${fmt(Math.min(...xs))} to ${fmt(Math.max(...xs))})`;
  };
  console.log(
    `ns added per pair, median (min to max), this tree vs baseline: kernel filtered ${addedSpan((r) => r.kfilt)} (tracepoints ${addedSpan((r) => r.kfiltTp)}) vs ${addedSpan((r) => r.kfiltB)}; filtered ${addedSpan((r) => r.filtered.ns[0])} vs ${addedSpan((r) => r.filteredB.ns[0])}; ` +
      `kernel only ${addedSpan((r) => r.kernel.ns)} vs ${addedSpan((r) => r.kernelB.ns)}; delivered ${addedSpan((r) => r.delivered.ns[0])} vs ${addedSpan((r) => r.deliveredB.ns[0])}; noop exit ${addedSpan((r) => r.noopExit)}`,
  );
}
const nbRatio = med(rows.map((r) => r.noopBoth / r.untraced));
const neRatio = med(rows.map((r) => r.noopExit / r.untraced));
const kfRatio = med(rows.map((r) => r.kfilt / r.untraced));
const loaderNs = med(rows.map((r) => (r.kernel.cpu * 1e9) / r.kernel.records));
const dRatio = med(rows.map((r) => r.delivered.ns[0] / r.untraced));
const fRatio = med(rows.map((r) => r.filtered.ns[0] / r.untraced));
const kRatio = med(rows.map((r) => r.kernel.ns / r.untraced));
const btRatio = med(rows.map((r) => r.bpftrace / r.untraced));
const added = (pick) => fmt(med(rows.map((r) => pick(r) - r.untraced)));
const perCpu = med(rows.map((r) => r.delivered.sent / r.delivered.cpu));
console.log(
  `median: noop enter+exit ${nbRatio.toFixed(2)}x, noop exit ${neRatio.toFixed(2)}x, kernel filtered ${kfRatio.toFixed(2)}x, bpftrace ${btRatio.toFixed(2)}x, kernel only ${kRatio.toFixed(2)}x, delivered ${dRatio.toFixed(2)}x, filtered ${fRatio.toFixed(2)}x of untraced; ` +
    `rounds with foreign tracers running: ${rows.filter((r) => r.foreign > 0).length} of ${ROUNDS}; ` +
    `${fmt(perCpu)} events per CPU-second (loader+agent); loader alone ${fmt(loaderNs)} CPU ns per record (kernel scenario); drops ${rows.reduce((n, r) => n + r.delivered.drops, 0)}; ` +
    `max agent RSS ${(Math.max(...rows.map((r) => r.delivered.rss)) / 2 ** 20).toFixed(0)} MB`,
);
console.log(
  `median ns added per pair: noop enter+exit ${added((r) => r.noopBoth)}, noop exit ${added((r) => r.noopExit)}, kernel filtered ${added((r) => r.kfilt)}, kernel only ${added((r) => r.kernel.ns)}, delivered ${added((r) => r.delivered.ns[0])}, filtered ${added((r) => r.filtered.ns[0])}; ` +
    `untraced CPU min ${fmt(Math.min(...rows.map((r) => r.untraced)))} max ${fmt(Math.max(...rows.map((r) => r.untraced)))} ns/pair; ` +
    `wall-clock ns/pair of all runs min ${fmt(Math.min(...walls))} max ${fmt(Math.max(...walls))} (machine noise)`,
);

// The least disturbed run of each scenario is the closest to its real cost on a shared machine.
const best = (pick) => Math.min(...rows.map(pick));
const bu = best((r) => r.untraced);
console.log(
  `best of ${ROUNDS}: untraced ${fmt(bu)}, kernel only ${fmt(best((r) => r.kernel.ns))} (${(best((r) => r.kernel.ns) / bu).toFixed(2)}x), ` +
    `delivered ${fmt(best((r) => r.delivered.ns[0]))} (${(best((r) => r.delivered.ns[0]) / bu).toFixed(2)}x), ` +
    `filtered ${fmt(best((r) => r.filtered.ns[0]))} (${(best((r) => r.filtered.ns[0]) / bu).toFixed(2)}x) CPU ns/pair`,
);

const two = await attached(DEFAULT_RULES, 2);
const lost = two.drops / (two.sent + two.drops);
console.log(
  `two loops in parallel, delivered: ${two.ns.map((n) => `${fmt(n)} ns/pair`).join(", ")}; ${fmt(two.sent)} sent, ${two.drops} lost = ${(lost * 100).toFixed(2)}% dropped; ${fmt(two.sent / two.cpu)} events/CPU-s`,
);
rmSync(work, { recursive: true, force: true });

#!/usr/bin/env node
// Per-program cost of Peregrine's kernel programs, from the kernel's own BPF
// run-time statistics (kernel.bpf_stats_enabled: run_time_ns and run_cnt of
// each program), while a tight openat+close loop runs. Much less noisy than
// timing the loop: it counts only the time spent inside the programs.
//
// Scenarios, each the loader alone (its output read and discarded):
//   filtered   the syscall set of rules that need only unlinkat: every
//              openat and every close dropped in the kernel (with
//              per-syscall tracepoints, neither runs the program)
//   delivered  the syscall set of rules that need openat (and no close):
//              every openat sent, and the closes as the build's loader
//              decides (before the fd table followed every descriptor-making
//              syscall, every close with the opens; then sockets' only;
//              now none)
//   … tracepoints  this tree's loader with --attach tracepoints (its
//              pg_sys_exit_tp, run only by the syscalls the filter needs)
//              rather than the default tp_btf program every syscall runs
//              (pg_sys_exit). The statistics count only the time inside a
//              program: what a tracepoint costs around it (the kernel's
//              perf_syscall_exit) shows in kernel-overhead.mjs
//   noop exit  a do-nothing tp_btf sys_exit program (bpf/bench/noop.bpf.c):
//              what the statistics themselves and an empty program cost
//   pg_sched_exec/fork/exit  EXECS (2000) fork+exec of /bin/true from a
//              process whose stdio are files: the sched programs (in
//              builds with the kernel's socket set, its fd-table walks at
//              fork, exec and exit); "per pair" is per fork+exec
//
// For each scenario and build (this tree, and with --baseline DIR another
// checkout's bpf/.output loader, alternated within each round) it prints
// the sys_exit program's ns per run (over every syscall exit of the machine
// during the loop: most are the loop's, the rest of the machine's exits
// leave after the number table and pull the average down) and its ns per
// openat+close pair (run time over the loop's pairs: the figure that adds to
// a traced pair), medians and ranges over the rounds.
//
// The statistics are switched on only while a loop runs, and back off at
// exit: they cost every BPF program of the machine two clock reads per run.
//
//   make -C bpf && npm run build && sudo node bench/kernel-progstats.mjs [--baseline DIR]
//   (PAIRS=500000 ROUNDS=5 ONLY=<regex of scenario names>)
import { execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { kernelFilter } from "../dist/sensor/event-filter.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PAIRS = Number(process.env.PAIRS ?? 500_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
// --baseline DIR (or DIR,DIR2,… to compare several builds, named by their folder).
const bIdx = process.argv.indexOf("--baseline");
const BASELINE = bIdx > 0 ? (process.argv[bIdx + 1] ?? "") : undefined;
const builds = [{ name: "current", dir: root }];
const baselines = BASELINE ? BASELINE.split(",").map((d) => resolve(d)) : [];
for (const dir of baselines)
  builds.push({ name: baselines.length === 1 ? "baseline" : (dir.split("/").at(-1) ?? dir), dir });

const LOOP_C = String.raw`
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	long n = atol(argv[1]);
	struct timespec ca, cb;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
	if (argc > 2 && argv[2][0] == 'e') /* "exec": n fork+exec of /bin/true */
		for (long i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0) {
				execl("/bin/true", "true", (char *)0);
				_exit(127);
			}
			waitpid(p, 0, 0);
		}
	else
		for (long i = 0; i < n; i++)
			close(open("/etc/hostname", O_RDONLY));
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
	printf("%.1f\n", ((cb.tv_sec - ca.tv_sec) * 1e9 + (cb.tv_nsec - ca.tv_nsec)) / n);
	return 0;
}
`;
const work = mkdtempSync(join(tmpdir(), "pg-kstats-"));
const loopBin = join(work, "openclose");
writeFileSync(`${loopBin}.c`, LOOP_C);
execFileSync("cc", ["-O2", "-o", loopBin, `${loopBin}.c`]);

const STATS = "/proc/sys/kernel/bpf_stats_enabled";
const statsWas = readFileSync(STATS, "utf8").trim();
const setStats = (on) => writeFileSync(STATS, on ? "1" : statsWas);
process.on("exit", () => setStats(false));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

const FILTERED = kernelFilter(new Set(["unlinkat"])).ids.join(",");
const DELIVERED = kernelFilter(new Set(["openat"])).ids.join(",");

/** The ids of the BPF programs a process holds open (/proc/<pid>/fdinfo prog_id). */
function progIds(pid) {
  const ids = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (!readlinkSync(`/proc/${pid}/fd/${fd}`).includes("bpf-prog")) continue;
      const m = /^prog_id:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
      if (m) ids.push(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return ids;
}

/** name -> { ns, cnt } of the given program ids. */
function progStats(ids) {
  const all = JSON.parse(execFileSync("bpftool", ["prog", "show", "--json"], { encoding: "utf8" }));
  const out = {};
  for (const p of all) {
    if (ids.includes(p.id)) out[p.name] = { ns: p.run_time_ns ?? 0, cnt: p.run_cnt ?? 0 };
  }
  return out;
}

const EXECS = Number(process.env.EXECS ?? 2000);
function runLoop(mode) {
  const n = mode === "exec" ? EXECS : PAIRS;
  if (mode === "exec") {
    // Through sh with files as stdio: a child of node gets sockets as stdio (libuv's
    // socketpairs), so its fd table would have socket entries; most processes have none.
    const out = join(work, "exec.out");
    execFileSync("/bin/sh", ["-c", `exec "$0" "$1" exec </dev/null >"$2" 2>&1`, loopBin, String(n), out]);
    return Number(readFileSync(out, "utf8").trim());
  }
  return Number(execFileSync(loopBin, [String(n), ...(mode ? [mode] : [])], { encoding: "utf8" }).trim());
}

/** Starts a program, waits for its first output (ready), measures one loop. */
async function measure(cmd, args, progName, mode = undefined) {
  // Output to a file, not a pipe to this process: the loop runs synchronously here, so a pipe
  // would not be read meanwhile, the loader would block on it and the ring buffer fill — and a
  // lost record costs the program less than a sent one.
  const outPath = join(work, "loader.out");
  const outFd = openSync(outPath, "w");
  const p = spawn(cmd, args, { stdio: ["pipe", outFd, "inherit"] });
  closeSync(outFd);
  let exited = false;
  p.once("exit", () => {
    exited = true;
  });
  // Ready: its first output (the stream header, or noop-loader's "ready").
  while (statSync(outPath).size === 0) {
    if (exited) throw new Error(`${cmd} exited before it was ready`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const ids = progIds(p.pid);
  setStats(true);
  const a = progStats(ids);
  const loopNs = runLoop(mode);
  const b = progStats(ids);
  setStats(false);
  p.stdin.end();
  while (!exited) await new Promise((r) => setTimeout(r, 20));
  // The first of the names the process has (a build before per-syscall tracepoints has only
  // pg_sys_exit; with them the unattached one of the two exit programs runs 0 times).
  const names = [progName].flat();
  const name = names.find((n) => (b[n]?.cnt ?? 0) > (a[n]?.cnt ?? 0)) ?? names.find((n) => b[n]);
  const x = name && a[name];
  const y = name && b[name];
  if (!x || !y) throw new Error(`${names.join(" or ")} not found among ${cmd}'s programs`);
  const ns = y.ns - x.ns;
  const cnt = y.cnt - x.cnt;
  const n = mode === "exec" ? EXECS : PAIRS;
  // The loader's last record (at exit) is its stats: records the ring buffer had no room for.
  const out = readFileSync(outPath);
  const tail = out.subarray(-STATS_BYTES);
  rmSync(outPath);
  const lost =
    names[0]?.startsWith("pg_") && tail.length === STATS_BYTES ? Number(tail.readBigUInt64LE(24 + 8 * 2)) : 0;
  if (lost > 0)
    console.log(
      `  (${cmd}: ${lost} records lost to a full ring buffer: that run is cheaper than it should be)`,
    );
  return { perRun: ns / cnt, perPair: ns / n, runsPerPair: cnt / n, loopNs, lost };
}

const loader = (dir) => join(dir, "bpf/.output/peregrine-loader");
// struct pg_stats: 24-byte header, then u64 counters (enum pg_counter; 2 = PG_CNT_RINGBUF_FULL).
const STATS_BYTES = 24 + 8 * 16;
const scenarios = [];
// The syscall exit program: the raw one, or per-syscall tracepoints', whichever runs.
const EXIT = ["pg_sys_exit_tp", "pg_sys_exit"];
for (const b of builds) {
  scenarios.push({
    key: `filtered ${b.name}`,
    run: () => measure(loader(b.dir), ["--syscalls", FILTERED, "--stats-interval-ms", "0"], EXIT),
  });
  // EXECS fork+exec of /bin/true: the sched programs (with a baseline's fd-table walks).
  for (const prog of ["pg_sched_exec", "pg_sched_fork", "pg_sched_exit"])
    scenarios.push({
      key: `${prog} ${b.name}`,
      run: () => measure(loader(b.dir), ["--syscalls", FILTERED, "--stats-interval-ms", "0"], prog, "exec"),
    });
  scenarios.push({
    key: `delivered ${b.name}`,
    run: () => measure(loader(b.dir), ["--syscalls", DELIVERED, "--stats-interval-ms", "0"], EXIT),
  });
}
for (const set of ["filtered", "delivered"]) {
  const args = ["--syscalls", set === "filtered" ? FILTERED : DELIVERED, "--stats-interval-ms", "0"];
  scenarios.push({
    key: `${set} tracepoints current`,
    run: () => measure(loader(root), [...args, "--attach", "tracepoints"], "pg_sys_exit_tp"),
  });
}
scenarios.push({
  key: "noop exit",
  run: () => measure(join(root, "bpf/.output/noop-loader"), ["exit"], "noop_sys_exit"),
});

// ONLY=<regex>: the scenarios whose name matches (e.g. ONLY=filtered).
if (process.env.ONLY) {
  const only = new RegExp(process.env.ONLY);
  scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => only.test(s.key)));
}
const results = Object.fromEntries(scenarios.map((s) => [s.key, []]));
console.log(
  `openat+close pairs per loop: ${PAIRS}, rounds: ${ROUNDS}${BASELINE ? `, baseline ${BASELINE}` : ""}`,
);
for (let round = 1; round <= ROUNDS; round++) {
  // Alternate the order so drift on the shared machine hits every scenario.
  const order = round % 2 ? scenarios : [...scenarios].reverse();
  const line = [];
  for (const s of order) {
    const r = await s.run();
    results[s.key].push(r);
    line.push(
      `${s.key} ${r.perRun.toFixed(1)} ns/run ${r.perPair.toFixed(1)} ns/pair (loop ${r.loopNs.toFixed(0)})`,
    );
  }
  console.log(`round ${round}: ${line.join(" | ")}`);
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const span = (xs) => `${med(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`;
console.log("median (min-max) over the rounds:");
for (const [key, rs] of Object.entries(results)) {
  console.log(
    `  ${key.padEnd(24)} ns/run ${span(rs.map((r) => r.perRun))}  ns/pair ${span(rs.map((r) => r.perPair))}  runs/pair ${span(rs.map((r) => r.runsPerPair))}  loop CPU ns/pair ${span(rs.map((r) => r.loopNs))}`,
  );
}
rmSync(work, { recursive: true, force: true });

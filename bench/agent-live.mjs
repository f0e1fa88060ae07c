#!/usr/bin/env node
// The live agent under a tight openat+close loop (a C program built here):
// `peregrine run` with the default rules, as kernel-overhead.mjs's
// "delivered" scenario runs it, for this checkout and optionally a baseline
// checkout, alternated round by round so drift on a shared machine hits
// both. Per run: records sent by the kernel and lost at the ring buffer
// (from /metrics), loader and agent CPU time over the loop (/proc/<pid>/stat),
// events per CPU-second across both, the agent's RSS; then once per build
// two loops in parallel for the drop percentage at double the load.
//
// RATE (pairs per second per loop; default 0 = as fast as the loop goes)
// paces the loop: issue 3 states its targets for the loop as it runs on the
// reference machine (~570K pairs/s), while here an untraced loop runs about
// 2.5x faster. RATE=570000 reproduces the stated load; the doubled run is
// then two such loops. Both figures belong in a report: the paced one answers
// the issue's question, the unpaced one shows where this machine saturates.
//
// WARM_PAIRS (default 200000) pairs run first, unmeasured: the JIT compiles the
// hot path on background threads during the first few hundred thousand
// events, which a long-running agent pays once (WARM_PAIRS=0 measures that
// too, as kernel-overhead.mjs does).
//
//   npm run build && sudo node bench/agent-live.mjs                 (PAIRS=500000 ROUNDS=3 WARM_PAIRS=200000)
//   sudo node bench/agent-live.mjs --baseline DIR                   DIR: a built checkout (bin/, dist/, bpf/.output/)
//
// Prints figures; asserts nothing.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cpuTicks, drained, metric, statusBytes } from "./process-stats.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { baseline: { type: "string" }, "no-double": { type: "boolean" } } });
const PAIRS = Number(process.env.PAIRS ?? 500_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WARM_PAIRS = Number(process.env.WARM_PAIRS ?? 200_000);
const RATE = Number(process.env.RATE ?? 0);
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

// argv: pairs [pairs per second]. Paced in steps of 1 ms against an absolute
// schedule, so a late step is caught up rather than lost: the mean rate holds
// as long as the machine can run it.
const LOOP_C = `
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	long n = atol(argv[1]);
	long rate = argc > 2 ? atol(argv[2]) : 0;
	long step = rate > 0 ? (rate + 999) / 1000 : n;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; i < n;) {
		for (long j = 0; j < step && i < n; j++, i++)
			close(open("/etc/hostname", O_RDONLY));
		if (rate <= 0)
			continue;
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return 0;
}
`;
const work = mkdtempSync(join(tmpdir(), "pg-agent-live-"));
const loopBin = join(work, "openclose");
writeFileSync(`${loopBin}.c`, LOOP_C);
execFileSync("cc", ["-O2", "-o", loopBin, `${loopBin}.c`]);

const maxRssBytes = (pid) => statusBytes(pid, "VmHWM");

/** Runs the loops; resolves with the achieved pairs per second of each (wall clock). */
function runLoops(parallel, pairs = PAIRS, rate = RATE) {
  const args = rate > 0 ? [String(pairs), String(rate)] : [String(pairs)];
  return Promise.all(
    Array.from({ length: parallel }, () => {
      const start = process.hrtime.bigint();
      return new Promise((r) =>
        spawn(loopBin, args, { stdio: "ignore" }).once("close", () =>
          r(pairs / (Number(process.hrtime.bigint() - start) / 1e9)),
        ),
      );
    }),
  );
}

async function measure(checkout, parallel) {
  const agent = spawn(
    process.execPath,
    [join(checkout, "bin/peregrine.js"), "run", "--output", "json", "--metrics-address", "127.0.0.1:0"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  await new Promise((ok, fail) => {
    agent.stderr.setEncoding("utf8").on("data", (t) => {
      stderr += t;
      if (/ready/.test(stderr)) ok();
    });
    agent.once("exit", (code) => fail(new Error(`agent exited ${code}: ${stderr}`)));
  });
  const url = /metrics on (http:\/\/\S+)\/metrics/.exec(stderr)?.[1];
  const loaderPid = Number(/loader pid (\d+)/.exec(stderr)?.[1]);
  await new Promise((r) => setTimeout(r, 1000));
  if (WARM_PAIRS > 0) {
    await runLoops(1, WARM_PAIRS, 0);
    await drained(url);
  }
  const sent0 = await metric(url, "peregrine_kernel_events_total");
  const drops0 = await metric(url, "peregrine_kernel_drops_total");
  const agent0 = cpuTicks(agent.pid);
  const loader0 = cpuTicks(loaderPid);
  const rates = await runLoops(parallel);
  let sent = await drained(url);
  const agentCpu = (cpuTicks(agent.pid) - agent0) / CLK_TCK;
  const loaderCpu = (cpuTicks(loaderPid) - loader0) / CLK_TCK;
  const drops = (await metric(url, "peregrine_kernel_drops_total")) - drops0;
  const rss = maxRssBytes(agent.pid);
  agent.kill("SIGTERM");
  await new Promise((r) => agent.once("exit", r));
  sent -= sent0;
  // Events per CPU-second both ways: per record the kernel sent (what the
  // agent handled), and per syscall of the loop (openat and close each count;
  // the kernel drops the closes of files the rules do not need).
  const syscalls = 2 * parallel * PAIRS;
  return {
    sent,
    drops,
    agentCpu,
    loaderCpu,
    perCpuS: sent / (agentCpu + loaderCpu),
    syscallsPerCpuS: syscalls / (agentCpu + loaderCpu),
    pairsPerS: rates.reduce((a, b) => a + b, 0),
    rss,
  };
}

const fmt = (n) => Math.round(n).toLocaleString("en-US");
const show = (name, r) =>
  `${name}: ${fmt(r.pairsPerS)} pairs/s, ${fmt(r.sent)} sent, ${fmt(r.drops)} lost (${((100 * r.drops) / (r.sent + r.drops)).toFixed(1)}%), ` +
  `CPU loader ${r.loaderCpu.toFixed(2)} s + agent ${r.agentCpu.toFixed(2)} s = ${fmt(r.perCpuS)} records/CPU-s ` +
  `(${fmt(r.syscallsPerCpuS)} loop syscalls/CPU-s), peak RSS ${(r.rss / 2 ** 20).toFixed(0)} MB`;

const checkouts = [["this", root]];
if (values.baseline !== undefined) checkouts.push(["baseline", resolve(values.baseline)]);
console.log(
  `openat+close pairs per loop: ${fmt(PAIRS)}, ${RATE > 0 ? `paced at ${fmt(RATE)} pairs/s per loop` : "unpaced"}, rounds: ${ROUNDS}, unmeasured warm-up pairs: ${fmt(WARM_PAIRS)}`,
);
const all = new Map(checkouts.map(([n]) => [n, []]));
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 === 1 ? checkouts : [...checkouts].reverse();
  for (const [name, dir] of order) {
    const r = await measure(dir, 1);
    all.get(name).push(r);
    console.log(`round ${round} ${show(name, r)}`);
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, rs] of all) {
  console.log(
    `${name} median: ${fmt(med(rs.map((r) => r.perCpuS)))} records/CPU-s (${fmt(med(rs.map((r) => r.syscallsPerCpuS)))} loop syscalls/CPU-s), ${med(rs.map((r) => (100 * r.drops) / (r.sent + r.drops))).toFixed(1)}% lost, peak RSS max ${(Math.max(...rs.map((r) => r.rss)) / 2 ** 20).toFixed(0)} MB`,
  );
}
if (!values["no-double"]) {
  for (const [name, dir] of checkouts) console.log(`two loops ${show(name, await measure(dir, 2))}`);
}
rmSync(work, { recursive: true, force: true });

#!/usr/bin/env node
// Events/s through the state tables alone (Enricher.enrich + afterRules: the
// process table, the fd table, containers), on a synthetic mix shaped like a
// shell-heavy host: a long-lived shell forks a child, the child execs,
// opens and reads files, dup2s, makes a socket and connects, closes what it
// opened, exits. No /proc (replay mode), so it measures the tables, not the
// file system. Baseline in the same run: the same loop calling a no-op.
//
//   npm run build && node bench/enrich-state.mjs [--processes N] [--rounds R]
//
// Prints figures; asserts nothing.
import { parseArgs } from "node:util";
import { Enricher } from "../dist/enrich/enricher.js";
import { ProcessTable } from "../dist/enrich/process-table.js";

const { values } = parseArgs({
  options: { processes: { type: "string", default: "20000" }, rounds: { type: "string", default: "5" } },
});
const PROCESSES = Number(values.processes);
const ROUNDS = Number(values.rounds);

// Literal objects, one shape per kind, as the decoder builds them (object spread would give
// every event its own hidden class and make the loop measure V8's slow path instead).
const TS = 1_700_000_000_000_000_000n;
const SHELL = 1000;

function lifecycle(pid) {
  const ev = [];
  const sys = (evtType, ret, args, tuple) => ({
    recordFlags: 0,
    tsNs: TS,
    kind: "syscall",
    evtType,
    tgid: pid,
    tid: pid,
    ret,
    args,
    tuple,
    uid: 0,
    gid: 0,
    euid: 0,
    egid: 0,
  });
  ev.push({
    recordFlags: 0,
    tsNs: TS,
    kind: "fork",
    evtType: "clone",
    tgid: SHELL,
    tid: SHELL,
    childTgid: pid,
    childTid: pid,
    childStartNs: 1n,
    isThread: false,
    cloneFlags: 17,
  });
  ev.push({
    recordFlags: 0,
    tsNs: TS,
    kind: "exec",
    evtType: "execve",
    tgid: pid,
    tid: pid,
    ppid: SHELL,
    uid: 0,
    gid: 0,
    euid: 0,
    egid: 0,
    loginuid: 0,
    cgroupId: 0n,
    startNs: 1n,
    comm: "cat",
    filename: "/usr/bin/cat",
    argv: ["cat", "/etc/hostname"],
  });
  for (let fd = 3; fd < 9; fd++) {
    ev.push({
      recordFlags: 0,
      tsNs: TS,
      kind: "open",
      evtType: "openat",
      tgid: pid,
      tid: pid,
      ret: fd,
      openFlags: 0o2000000,
      mode: 0,
      dirfd: -100,
      path: `/usr/lib/x86_64-linux-gnu/lib${fd}.so`,
    });
  }
  ev.push(sys("dup2", 1, { oldfd: 3, newfd: 1 }));
  ev.push(sys("socket", 9, { domain: 2, type: 1, proto: 0 }));
  ev.push({
    recordFlags: 0,
    tsNs: TS,
    kind: "connect",
    evtType: "connect",
    tgid: pid,
    tid: pid,
    ret: 0,
    fd: 9,
    family: 2,
    daddr: "10.0.0.1",
    dport: 443,
    saddr: "10.0.0.2",
    sport: 40000 + (pid % 20000),
    sockType: 1,
    protocol: 6,
  });
  for (let fd = 3; fd < 10; fd++) ev.push(sys("close", 0, { fd }));
  ev.push({ recordFlags: 0, tsNs: TS, kind: "exit", evtType: "procexit", tgid: pid, tid: pid, exitCode: 0 });
  return ev;
}

const events = [];
for (let i = 0; i < PROCESSES; i++) events.push(...lifecycle(2000 + (i % 30000)));

function run(handle) {
  const start = process.hrtime.bigint();
  for (let r = 0; r < ROUNDS; r++) for (const e of events) handle(e);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

let sink = 0;
const baseline = run((e) => {
  sink = (sink + e.tgid) | 0;
});
const table = new ProcessTable({ bootTimeNs: 0n, readProc: false, exitedRetentionNs: 1n });
const enricher = new Enricher(table, { userName: () => "root", groupName: () => "root" }, "bench");
const stateSeconds = run((e) => {
  const x = enricher.enrich(e);
  sink = (sink + (x.fd === undefined ? 0 : 1)) | 0;
  enricher.afterRules(e);
});
const n = events.length * ROUNDS;
const fmt = (v) => Math.round(v).toLocaleString("en-US");
console.log(`${fmt(events.length)} events per round (${PROCESSES} process lifecycles), ${ROUNDS} rounds`);
console.log(`no-op loop                ${fmt(n / baseline)} events/s`);
console.log(
  `state tables              ${fmt(n / stateSeconds)} events/s = ${((stateSeconds / n) * 1e9).toFixed(0)} ns/event`,
);
console.log(`tables after: ${table.size} processes, ${enricher.fds.size} fds (sink ${sink % 7})`);

// The kernel-overhead benchmark's loop, as the agent sees it: one process, openat + close of one file.
const loop = [];
for (let i = 0; i < 100_000; i++) {
  loop.push({
    recordFlags: 0,
    tsNs: TS,
    kind: "open",
    evtType: "openat",
    tgid: 7777,
    tid: 7777,
    ret: 3,
    openFlags: 0,
    mode: 0,
    dirfd: -100,
    path: "/dev/null",
  });
  loop.push({
    recordFlags: 0,
    tsNs: TS,
    kind: "syscall",
    evtType: "close",
    tgid: 7777,
    tid: 7777,
    ret: 0,
    args: { fd: 3 },
    tuple: undefined,
    uid: 0,
    gid: 0,
    euid: 0,
    egid: 0,
  });
}
function runLoop(handle) {
  const start = process.hrtime.bigint();
  for (let r = 0; r < ROUNDS * 4; r++) for (const e of loop) handle(e);
  return Number(process.hrtime.bigint() - start) / 1e9;
}
const loopBase = runLoop((e) => {
  sink = (sink + e.tgid) | 0;
});
const loopState = runLoop((e) => {
  const x = enricher.enrich(e);
  sink = (sink + (x.fd === undefined ? 0 : 1)) | 0;
  enricher.afterRules(e);
});
const m = loop.length * ROUNDS * 4;
console.log(
  `openat+close loop: no-op ${fmt(m / loopBase)} events/s, state tables ${fmt(m / loopState)} events/s = ${((loopState / m) * 1e9).toFixed(0)} ns/event`,
);

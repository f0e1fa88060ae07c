/**
 * Small builders for Detection fixtures, shared by every stage's tests:
 * events with plausible defaults, a process table and a user database over
 * Maps, rules. Override only what a test is about.
 */
import type { ConnectEvent, ExecEvent, OpenEvent, SensorEvent } from "../../src/decode/events.js";
import type { EnrichedEvent } from "../../src/enrich/enriched-event.js";
import { blankFd, type FdInfo, type FdLookup } from "../../src/enrich/fd-info.js";
import {
  HOST_CONTAINER,
  type ProcessInfo,
  type ProcessLookup,
  type UserLookup,
} from "../../src/enrich/process-info.js";
import type { Detection, FieldValue, RuleInfo } from "../../src/rules/detection.js";

/** 2026-11-28T17:42:04.123456789Z: nanoseconds that a double could not carry. */
export const FIXTURE_TS_NS = 1_795_887_724_123_456_789n;

export function fakeProcesses(
  processes: Iterable<ProcessInfo> = [],
): ProcessLookup & { map: Map<number, ProcessInfo> } {
  const map = new Map<number, ProcessInfo>();
  for (const p of processes) map.set(p.pid, p);
  return { map, get: (pid) => map.get(pid) };
}

/** An fd table over a Map keyed by "pid:fd". */
export function fakeFds(fds: Iterable<readonly [pid: number, fd: FdInfo]> = []): FdLookup {
  const map = new Map<string, FdInfo>();
  for (const [pid, fd] of fds) map.set(`${pid}:${fd.num}`, fd);
  return { get: (pid, fd) => map.get(`${pid}:${fd}`) };
}

/** A regular file's fd entry with nothing else known. */
export function fileFd(num: number, name: string, openFlags = 0): FdInfo {
  return { ...blankFd(num, "file"), name, openFlags };
}

export function fakeUsers(
  users: Readonly<Record<number, string>> = { 0: "root", 1000: "alice" },
  groups: Readonly<Record<number, string>> = { 0: "root", 1000: "alice" },
): UserLookup {
  const u = new Map(Object.entries(users).map(([id, name]) => [Number(id), name] as const));
  const g = new Map(Object.entries(groups).map(([id, name]) => [Number(id), name] as const));
  return { userName: (uid) => u.get(uid), groupName: (gid) => g.get(gid) };
}

export function makeProcess(overrides: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    pid: 4242,
    ppid: 4200,
    name: "cat",
    exePath: "/usr/bin/cat",
    argv: ["cat", "/etc/shadow"],
    uid: 1000,
    gid: 1000,
    euid: 1000,
    egid: 1000,
    loginuid: 1000,
    cwd: "/home/alice",
    startNs: FIXTURE_TS_NS - 5_000_000n,
    cgroupId: 0n,
    tty: 0,
    sid: 0,
    pgid: 0,
    vpid: overrides.pid ?? 4242,
    capEffective: 0n,
    capPermitted: 0n,
    capInheritable: 0n,
    exeIno: 0,
    exeCtimeNs: 0n,
    exeMtimeNs: 0n,
    exeUpperLayer: false,
    exeFromMemfd: false,
    container: HOST_CONTAINER,
    env: new Map(),
    source: "exec",
    ...overrides,
  };
}

export function makeRule(overrides: Partial<RuleInfo> = {}): RuleInfo {
  return {
    name: "Read sensitive file untrusted",
    desc: "An attempt to read a sensitive file by a program not trusted to",
    priority: "WARNING",
    source: "syscall",
    tags: ["maturity_stable", "host", "filesystem", "mitre_credential_access", "T1555"],
    rulesetName: "peregrine_rules.yaml",
    ...overrides,
  };
}

const COMMON = { tsNs: FIXTURE_TS_NS, tgid: 4242, tid: 4242, recordFlags: 0 } as const;

export function openEvent(overrides: Partial<OpenEvent> = {}): OpenEvent {
  return {
    ...COMMON,
    kind: "open",
    evtType: "openat",
    ret: 3,
    openFlags: 0,
    mode: 0,
    dirfd: -100,
    path: "/etc/shadow",
    ...overrides,
  };
}

export function connectEvent(overrides: Partial<ConnectEvent> = {}): ConnectEvent {
  return {
    ...COMMON,
    kind: "connect",
    evtType: "connect",
    ret: 0,
    fd: 5,
    family: 2,
    daddr: "203.0.113.7",
    dport: 443,
    saddr: "10.0.0.2",
    sport: 51234,
    sockType: 1,
    protocol: 6,
    ...overrides,
  };
}

export function execEvent(overrides: Partial<ExecEvent> = {}): ExecEvent {
  return {
    ...COMMON,
    kind: "exec",
    evtType: "execve",
    ppid: 4200,
    uid: 1000,
    gid: 1000,
    euid: 1000,
    egid: 1000,
    loginuid: 1000,
    cgroupId: 0n,
    startNs: FIXTURE_TS_NS,
    comm: "cat",
    filename: "/usr/bin/cat",
    argv: ["cat", "/etc/shadow"],
    ...overrides,
  };
}

export interface DetectionFixture {
  rule?: RuleInfo;
  event?: SensorEvent;
  /** The event's process; null for "the table never heard of it". Default makeProcess() with the event's pid. */
  process?: ProcessInfo | null;
  processes?: ProcessLookup;
  /** The event's fd, as the fd table would give it. */
  fd?: FdInfo;
  users?: UserLookup;
  hostname?: string;
  output?: string;
  outputFields?: Readonly<Record<string, FieldValue>>;
}

export function makeDetection(fixture: DetectionFixture = {}): Detection {
  const event = fixture.event ?? openEvent();
  const process =
    fixture.process === null ? undefined : (fixture.process ?? makeProcess({ pid: event.tgid }));
  const enriched: EnrichedEvent = {
    event,
    process,
    fd: fixture.fd,
    fds: fakeFds(fixture.fd === undefined ? [] : [[event.tgid, fixture.fd]]),
    processes: fixture.processes ?? fakeProcesses(process === undefined ? [] : [process]),
    users: fixture.users ?? fakeUsers(),
    hostname: fixture.hostname ?? "sensor-host",
  };
  return {
    rule: fixture.rule ?? makeRule(),
    event: enriched,
    output:
      fixture.output ??
      "Sensitive file opened for reading by non-trusted program (user=alice command=cat /etc/shadow file=/etc/shadow)",
    outputFields: fixture.outputFields ?? {
      "user.name": "alice",
      "proc.cmdline": "cat /etc/shadow",
      "fd.name": "/etc/shadow",
      "proc.pid": 4242,
    },
  };
}

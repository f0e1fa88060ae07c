/**
 * Fixtures for rules tests: small builders for decoded events and process
 * state, fake lookups over Maps, and shortcuts to load rules and see what fires.
 */
import type {
  ConnectEvent,
  ExecEvent,
  ExitEvent,
  ForkEvent,
  OpenEvent,
  SensorEvent,
} from "../../src/decode/events.js";
import type { EnrichedEvent } from "../../src/enrich/enriched-event.js";
import type { FdInfo } from "../../src/enrich/fd-info.js";
import type { ProcessInfo, UserLookup } from "../../src/enrich/process-info.js";
import type { Detection } from "../../src/rules/detection.js";
import { loadRulesFromText, type Ruleset, type RulesetOptions } from "../../src/rules/ruleset.js";
import { fakeFds, fakeProcesses, fakeUsers, makeProcess } from "../support/detection-fixtures.js";

export const TS = 1_700_000_000_123_456_789n;

/** A process with rules-test defaults (pid 100 under init); see makeProcess for the rest. */
export function proc(overrides: Partial<ProcessInfo> = {}): ProcessInfo {
  return makeProcess({ pid: 100, ppid: 1, vpid: 100, startNs: TS - 5_000_000_000n, ...overrides });
}

export { fakeProcesses, fakeUsers };

const common = { tsNs: TS, tgid: 100, tid: 101, recordFlags: 0 };

export function openEvent(overrides: Partial<OpenEvent> = {}): OpenEvent {
  return {
    ...common,
    kind: "open",
    evtType: "openat",
    ret: 3,
    openFlags: 0o2000000, // O_RDONLY | O_CLOEXEC
    mode: 0,
    dirfd: -100,
    path: "/etc/shadow",
    ...overrides,
  };
}

export function connectEvent(overrides: Partial<ConnectEvent> = {}): ConnectEvent {
  return {
    ...common,
    kind: "connect",
    evtType: "connect",
    ret: 0,
    fd: 5,
    family: 2,
    daddr: "93.184.216.34",
    dport: 443,
    saddr: "10.0.0.5",
    sport: 41000,
    sockType: 1,
    protocol: 6,
    ...overrides,
  };
}

export function execEvent(overrides: Partial<ExecEvent> = {}): ExecEvent {
  return {
    ...common,
    kind: "exec",
    evtType: "execve",
    ppid: 1,
    uid: 1000,
    gid: 1000,
    euid: 1000,
    egid: 1000,
    loginuid: 1000,
    cgroupId: 0n,
    startNs: TS,
    comm: "cat",
    filename: "/usr/bin/cat",
    argv: ["cat", "/etc/shadow"],
    ...overrides,
  };
}

export function forkEvent(overrides: Partial<ForkEvent> = {}): ForkEvent {
  return {
    ...common,
    kind: "fork",
    evtType: "clone",
    childTgid: 200,
    childTid: 200,
    childStartNs: TS,
    isThread: false,
    ...overrides,
  };
}

export function exitEvent(overrides: Partial<ExitEvent> = {}): ExitEvent {
  return { ...common, kind: "exit", evtType: "procexit", exitCode: 0, ...overrides };
}

export interface Scene {
  /** The process of the event (pid 100 unless overridden); null for "unknown process". */
  readonly process?: ProcessInfo | null;
  /** Other processes (ancestors). */
  readonly others?: readonly ProcessInfo[];
  readonly users?: UserLookup;
  /** The event's fd, as the fd table would give it. */
  readonly fd?: FdInfo;
}

/** A parent (bash, pid 1) for the default process. */
export const DEFAULT_PARENT = proc({
  pid: 1,
  ppid: 0,
  name: "bash",
  exePath: "/usr/bin/bash",
  argv: ["-bash"],
  uid: 0,
  euid: 0,
  gid: 0,
});

export function enriched(event: SensorEvent = openEvent(), scene: Scene = {}): EnrichedEvent {
  const process = scene.process === null ? undefined : (scene.process ?? proc());
  const others = scene.others ?? [DEFAULT_PARENT];
  return {
    event,
    process,
    fd: scene.fd,
    fds: fakeFds(scene.fd === undefined ? [] : [[event.tgid, scene.fd]]),
    processes: fakeProcesses(process === undefined ? others : [process, ...others]),
    users: scene.users ?? fakeUsers(),
    hostname: "testhost",
  };
}

export function load(text: string, options: RulesetOptions = {}, name = "test_rules.yaml"): Ruleset {
  return loadRulesFromText([{ name, text }], options);
}

export function fire(ruleset: Ruleset, e: EnrichedEvent): Detection[] {
  const out: Detection[] = [];
  ruleset.evaluate(e, (d) => out.push(d));
  return out;
}

/** A one-rule file for `condition` (and `output`), as YAML text. */
export function ruleText(condition: string, output = "hit", extra = ""): string {
  return namedRule("r", condition, extra, output);
}

/** One rule named `name` as YAML text; several joined with "\n" make a rules file. */
export function namedRule(name: string, condition: string, extra = "", output = "hit"): string {
  return [
    `- rule: ${name}`,
    "  desc: test rule",
    `  condition: ${JSON.stringify(condition)}`,
    `  output: ${JSON.stringify(output)}`,
    "  priority: WARNING",
    extra,
  ].join("\n");
}

/** Does `condition` match the event? Loads it as the only rule of a file with `prelude` (lists, macros). */
export function matches(condition: string, e: EnrichedEvent, prelude = ""): boolean {
  return fire(load(`${prelude}\n${ruleText(condition)}`), e).length > 0;
}

/**
 * proc.env / proc.env[NAME]: the environment is read from /proc/<pid>/environ
 * through the process table's source the first time a rule asks, checked to
 * belong to the same image (comm, start time), kept with the process entry,
 * and bounded.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { EnrichedEvent } from "../../src/enrich/enriched-event.js";
import { readEnviron } from "../../src/enrich/proc-reader.js";
import type { ProcessEnviron, ProcessInfo, ProcessLookup } from "../../src/enrich/process-info.js";
import { ALL_EVENT_TYPES } from "../../src/rules/event-types.js";
import { DEFAULT_FIELDS } from "../../src/rules/fields.js";
import { enriched, execEvent, fire, load, proc, ruleText } from "./helpers.js";

function withSource(p: ProcessInfo, read: (pid: number) => ProcessEnviron | undefined): EnrichedEvent {
  const base = enriched(execEvent({ tgid: p.pid }), { process: p });
  const processes: ProcessLookup = { get: (pid) => base.processes.get(pid), source: { readEnviron: read } };
  return { ...base, processes };
}

function field(name: string, arg: string | undefined, e: EnrichedEvent) {
  const bound = DEFAULT_FIELDS.bind(name, arg, { eventTypes: ALL_EVENT_TYPES });
  if (typeof bound === "string") throw new Error(bound);
  return bound.extract(e);
}

const ENV = ["HOME=/home/alice", "HTTP_PROXY=http://evil:3128", "EMPTY=", "A=1", "A=2"];

describe("proc.env", () => {
  it("is the environment joined by spaces, and [NAME] one value", () => {
    const p = proc();
    const e = withSource(p, () => ({ entries: ENV, comm: p.name, startNs: p.startNs }));
    expect(field("proc.env", undefined, e)).toBe(
      "HOME=/home/alice HTTP_PROXY=http://evil:3128 EMPTY= A=1 A=2",
    );
    expect(field("proc.env", "HOME", e)).toBe("/home/alice");
    expect(field("proc.env", "EMPTY", e)).toBe("");
    expect(field("proc.env", "A", e)).toBe("1");
    expect(field("proc.env", "NOPE", e)).toBeUndefined();
  });

  it("reads once per process entry, and again for a new entry (an exec)", () => {
    const p = proc();
    let reads = 0;
    const read = () => {
      reads++;
      return { entries: ENV, comm: p.name, startNs: p.startNs };
    };
    const e = withSource(p, read);
    field("proc.env", undefined, e);
    field("proc.env", "HOME", { ...e });
    expect(reads).toBe(1);
    const execd = { ...p };
    field("proc.env", "HOME", withSource(execd, read));
    expect(reads).toBe(2);
  });

  it.each<[string, { comm?: string; startSkew?: bigint }]>([
    ["another comm (the pid exec'd again, or was reused)", { comm: "other" }],
    ["a start time 3 s off (a reused pid)", { startSkew: 3_000_000_000n }],
  ])("is missing when /proc shows %s", (_what, change) => {
    const p = proc();
    const e = withSource(p, () => ({
      entries: ENV,
      comm: change.comm ?? p.name,
      startNs: p.startNs + (change.startSkew ?? 0n),
    }));
    expect(field("proc.env", undefined, e)).toBeUndefined();
  });

  it("accepts a start time within the rounding of /proc's ticks and boot second", () => {
    const p = proc();
    const e = withSource(p, () => ({ entries: ENV, comm: p.name, startNs: p.startNs - 900_000_000n }));
    expect(field("proc.env", "A", e)).toBe("1");
  });

  it("is missing without a source that may read /proc (replays, the NO_PROC source)", () => {
    expect(field("proc.env", undefined, enriched(execEvent()))).toBeUndefined();
  });

  it("matches upstream's HTTP_PROXY rule shape, and is no longer reported as unsupported", () => {
    const rs = load(ruleText("evt.type = execve and proc.env icontains HTTP_PROXY", "env=%proc.env"));
    expect(rs.unsupportedFields).toEqual([]);
    const p = proc();
    const hits = fire(
      rs,
      withSource(p, () => ({ entries: ENV, comm: p.name, startNs: p.startNs })),
    );
    expect(hits.map((d) => d.output)).toEqual([`env=${ENV.join(" ")}`]);
  });
});

describe("readEnviron (/proc/<pid>/environ)", () => {
  const root = mkdtempSync(join(tmpdir(), "peregrine-environ-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const stat = "42 (cat) S 1 42 42 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 250 0 0";

  function fakeProc(pid: number, environ: string): void {
    mkdirSync(join(root, String(pid)), { recursive: true });
    writeFileSync(join(root, String(pid), "environ"), environ, "latin1");
    writeFileSync(join(root, String(pid), "stat"), stat);
  }

  it("splits the block and takes comm and start time from stat", () => {
    fakeProc(42, "A=1\0B=two words\0");
    expect(readEnviron(42, 1_000_000_000n, root)).toEqual({
      entries: ["A=1", "B=two words"],
      comm: "cat",
      startNs: 1_000_000_000n + 250n * 10_000_000n,
    });
  });

  it("cuts a huge environment at the bound and drops the partial entry", () => {
    fakeProc(43, `A=1\0B=${"x".repeat(100)}\0C=3\0`);
    expect(readEnviron(43, 0n, root, 20)?.entries).toEqual(["A=1"]);
    // Cut exactly after an entry's NUL: nothing partial to drop.
    expect(readEnviron(43, 0n, root, 4)?.entries).toEqual(["A=1"]);
  });

  it("is undefined for a process that is gone", () => {
    expect(readEnviron(44, 0n, root)).toBeUndefined();
  });
});

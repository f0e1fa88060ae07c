import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CaptureFormatError,
  CaptureWriter,
  openCapture,
  SECTION_STREAM,
} from "../../src/capture/capture-format.js";
import {
  processFromJson,
  processToJson,
  RecordingProcSource,
  ReplayProcSource,
} from "../../src/capture/proc-journal.js";
import { NO_PROC, type ProcSource } from "../../src/enrich/proc-source.js";
import { ProcessTable } from "../../src/enrich/process-table.js";
import { makeProcess } from "../support/detection-fixtures.js";

describe("capture file sections", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pg-capfmt-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("round-trips META, STREAM (in order) and PROC sections", () => {
    const path = join(dir, "c.pgcap");
    const w = new CaptureWriter(path);
    w.meta({
      version: 1,
      startedAt: "2026-11-29T00:00:00Z",
      hostname: "h1",
      users: [[0, "root"]],
      groups: [[0, "root"]],
    });
    w.proc([[0, "pids", [1, 2]]]);
    w.stream([Buffer.from("abc"), Buffer.from("de")]);
    w.proc([[1, "tgid:5", 5]]);
    w.stream([Buffer.from("fghij")]);
    w.close();
    const c = openCapture(path);
    expect(c.meta?.hostname).toBe("h1");
    expect(c.journal).toEqual([
      [0, "pids", [1, 2]],
      [1, "tgid:5", 5],
    ]);
    const chunks: string[] = [];
    c.streamChunks((b) => chunks.push(b.toString()));
    expect(chunks).toEqual(["abcde", "fghij"]);
  });

  it("names the byte offset of a cut file, and a wrong version", () => {
    const path = join(dir, "cut.pgcap");
    const w = new CaptureWriter(path);
    w.section(SECTION_STREAM, Buffer.alloc(100));
    w.close();
    writeFileSync(path, readFileSync(path).subarray(0, 60));
    expect(() => openCapture(path)).toThrow(CaptureFormatError);
    expect(() => openCapture(path)).toThrow(/section at byte 8 claims 100 bytes but the file ends at 60/);
    const bytes = readFileSync(path);
    bytes[7] = 9;
    writeFileSync(path, bytes);
    expect(() => openCapture(path)).toThrow(/format version 9/);
  });

  it("names the section and entry of a malformed /proc answer", () => {
    const path = join(dir, "bad.pgcap");
    const w = new CaptureWriter(path);
    w.section(3, Buffer.from(JSON.stringify([[0, "pids", []], ["x"]])));
    w.close();
    expect(() => openCapture(path)).toThrow(
      /PROC section at byte 8, entry 1: expected \[record, question, answer\], got \["x"\]/,
    );
  });

  it("treats any other file as a bare wire stream", () => {
    const path = join(dir, "bare.bin");
    writeFileSync(path, "PRGN....");
    const c = openCapture(path);
    expect(c.meta).toBeUndefined();
    const chunks: Buffer[] = [];
    c.streamChunks((b) => chunks.push(b));
    expect(Buffer.concat(chunks).toString()).toBe("PRGN....");
  });
});

describe("/proc journal", () => {
  it("serializes a process with bigints, maps and its container", () => {
    const p = makeProcess({
      capEffective: 0x1ffffffffffn,
      env: new Map([["OTEL_SERVICE_NAME", "web"]]),
      container: {
        id: "abcdefabcdef",
        fullId: `${"abcdef".repeat(10)}abcd`,
        runtime: "docker",
        name: "",
        image: "",
        labels: new Map(),
        k8s: { podUid: "u", podName: "", namespace: "", containerName: "", podLabels: new Map([["a", "b"]]) },
      },
    });
    const back = processFromJson(JSON.parse(JSON.stringify(processToJson(p))));
    expect(back).toEqual(p);
  });

  it("replays answers by record position: what /proc said then, not later", () => {
    let now = "first";
    const live: ProcSource = { ...NO_PROC, tgidOf: () => (now === "first" ? 10 : 20) };
    const rec = new RecordingProcSource(live);
    rec.seq = 1;
    rec.tgidOf(7);
    rec.tgidOf(7);
    now = "second";
    rec.seq = 5;
    rec.tgidOf(7);
    const journal = JSON.parse(JSON.stringify(rec.take()));
    const replay = new ReplayProcSource();
    replay.add(journal);
    // A question the capture did not ask at record 0 gets the first answer recorded.
    replay.seq = 0;
    expect(replay.tgidOf(7)).toBe(10);
    replay.seq = 1;
    expect(replay.tgidOf(7)).toBe(10);
    expect(replay.tgidOf(7)).toBe(10);
    replay.seq = 3;
    expect(replay.tgidOf(7)).toBe(10);
    replay.seq = 5;
    expect(replay.tgidOf(7)).toBe(20);
    replay.seq = 9;
    expect(replay.tgidOf(7)).toBe(20);
    expect(replay.tgidOf(8)).toBeUndefined();
    expect(replay.unanswered).toBe(1);
  });

  it("a process table over a replayed journal rebuilds the captured table", () => {
    const procs = [
      makeProcess({ pid: 1, ppid: 0, name: "init" }),
      makeProcess({ pid: 50, ppid: 1, name: "sshd" }),
    ];
    const live: ProcSource = {
      ...NO_PROC,
      listPids: () => procs.map((p) => p.pid),
      readProcess: (pid) => procs.find((p) => p.pid === pid),
    };
    const rec = new RecordingProcSource(live);
    new ProcessTable({ bootTimeNs: 0n, source: rec }).seedFromProc();
    const replay = new ReplayProcSource();
    replay.add(JSON.parse(JSON.stringify(rec.take())));
    const table = new ProcessTable({ bootTimeNs: 0n, source: replay });
    expect(table.seedFromProc()).toBe(2);
    expect(table.get(50)?.name).toBe("sshd");
    expect(table.ancestors(50).map((p) => p.name)).toEqual(["init"]);
  });
});

/**
 * Replay without a kernel: a capture file built here (wire records from the
 * decoder tests' builder, /proc answers and users as `peregrine capture`
 * records them) replays through enrichment and rules, and every fact the
 * rule uses came from the file: the parent (a process that existed before
 * the capture), the cwd that resolves the relative open, the exe path, the
 * user name.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CaptureWriter } from "../../src/capture/capture-format.js";
import { processToJson } from "../../src/capture/proc-journal.js";
import { replayCapture } from "../../src/capture/replay.js";
import { encodeStreamHeader } from "../../src/decode/stream-header.js";
import { HOST_CONTAINER } from "../../src/enrich/process-info.js";
import type { DetectionSink } from "../../src/export/sink.js";
import type { Detection } from "../../src/rules/detection.js";
import { loadRulesFromText } from "../../src/rules/ruleset.js";
import { argsOf, buildExec, buildOpen } from "../decode/wire-builder.js";
import { fileFd, makeProcess } from "../support/detection-fixtures.js";

const RULES = `
- rule: Shadow read from an ssh session
  desc: test
  condition: evt.type = openat and fd.name = /etc/shadow and proc.pname = sshd
  output: "%user.name ran %proc.exepath in %proc.cwd (parent %proc.pname, pid %proc.ppid)"
  priority: WARNING
`;

function collect(): DetectionSink & { got: Detection[] } {
  const got: Detection[] = [];
  return { name: "test", got, emit: (d) => got.push(d), shutdown: async () => {} };
}

describe("replayCapture", () => {
  const dir = mkdtempSync(join(tmpdir(), "pg-replay-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const header = encodeStreamHeader({
    bootTimeNs: 1_700_000_000_000_000_000n,
    loaderPid: 9,
    hostname: "captured-host",
  });
  const exec = buildExec({
    tgid: 60,
    ppid: 50,
    uid: 1000,
    euid: 1000,
    comm: "cat",
    filename: "cat",
    args: argsOf(["cat", "shadow"]),
  });
  const open = buildOpen({ tgid: 60, path: "shadow", ret: 3n });
  const sshd = makeProcess({
    pid: 50,
    ppid: 1,
    name: "sshd",
    exePath: "/usr/sbin/sshd",
    argv: ["sshd: mallory"],
  });
  // What /proc said about pid 60 right after its exec (record 1): cwd /etc, exe resolved by the kernel.
  const cat = makeProcess({
    pid: 60,
    ppid: 50,
    name: "cat",
    exePath: "/usr/bin/cat",
    cwd: "/etc",
    argv: ["cat", "shadow"],
  });

  it("answers every /proc question from the file, and the rule fires as it did live", async () => {
    const path = join(dir, "c.pgcap");
    const w = new CaptureWriter(path);
    w.meta({ version: 1, startedAt: "", hostname: "captured-host", users: [[1000, "mallory"]], groups: [] });
    w.proc([
      [0, "pids", [50]],
      [0, "proc:50", processToJson(sshd)],
    ]);
    w.stream([header, exec, open]);
    w.proc([
      [1, "proc:60", processToJson(cat)],
      // A schema-2 exec record carries the kernel's facts: the exec then asks /proc only for these.
      [
        1,
        "exec:60",
        {
          comm: "cat",
          exePath: "/usr/bin/cat",
          cwd: "/etc",
          env: [],
          container: { ...HOST_CONTAINER, labels: [], k8s: null },
        },
      ],
      [2, "fds:60", ["0", [0, 1, 2]]],
      ...[0, 1, 2].map((n) => [2, `fd:60:${n}`, { ...fileFd(n, "/dev/pts/0", 2), ino: 3 }] as const),
    ]);
    w.close();
    const sink = collect();
    const ruleset = loadRulesFromText([{ name: "t.yaml", text: RULES }]);
    const result = replayCapture(path, { ruleset, sink });
    expect(result).toMatchObject({ events: 2, detections: 1, hadSnapshot: true, hostname: "captured-host" });
    expect(sink.got[0]?.output).toBe("mallory ran /usr/bin/cat in /etc (parent sshd, pid 50)");
    expect(sink.got[0]?.event.fd?.name).toBe("/etc/shadow");
    expect(result.unansweredSample).toEqual([]);
    // The descriptors the open's process already had came from the file too.
    expect(result.enricher.fds.get(60, 1)?.name).toBe("/dev/pts/0");
  });

  it("a bare stream replays with what the events alone say: no parent, no cwd, no user name", async () => {
    const path = join(dir, "bare.bin");
    writeFileSync(path, Buffer.concat([header, exec, open]));
    const sink = collect();
    const ruleset = loadRulesFromText([{ name: "t.yaml", text: RULES }]);
    const result = replayCapture(path, { ruleset, sink });
    expect(result).toMatchObject({ events: 2, detections: 0, hadSnapshot: false, hostname: "captured-host" });
    expect(result.enricher.processes.get(60)?.exePath).toBe("/cat");
    expect(result.unanswered).toBeGreaterThan(0);
  });
});

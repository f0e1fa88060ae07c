/**
 * A real capture from the live loader on the development VM (kernel 6.18):
 * `sh -c '/bin/true; cat /etc/hostname >/dev/null; exit 3'` spawned by the
 * agent, with the shell's descendants' records and the final counters kept
 * (test/integration/record-fixture.test.ts wrote it, filtered in the kernel
 * to process lifecycle, open/openat, dup2 and close).
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { DecodedRecord } from "../../src/decode/events.js";
import { readCaptureFile } from "../../src/sensor/capture-file.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/true-and-cat.pgcap", import.meta.url));
const BOOT = 1795887533768368737n;
const SH = 26256;
const TRUE = 26257;
const CAT = 26258;

async function readAll(chunkBytes?: number): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = [];
  await readCaptureFile(FIXTURE, (r) => out.push(r), { chunkBytes });
  return out;
}

describe("real capture: true-and-cat.pgcap", () => {
  it("has the loader's stream header", async () => {
    const summary = await readCaptureFile(FIXTURE, () => {});
    expect(summary.header).toEqual({
      schemaVersion: 2,
      headerSize: 88,
      bootTimeNs: BOOT,
      loaderPid: 26255,
      hostname: "vm",
    });
    expect(summary.stats).toMatchObject({
      records: 37,
      decoded: 37,
      unknownKinds: 0,
      framingErrors: 0,
      bytes: 4336,
    });
  });

  it("decodes every record to the exact values recorded", async () => {
    const recs = await readAll();
    const kinds = recs.map((r) => (r.kind === "stats" ? "stats" : `${r.evtType}:${r.tgid}`));
    // The shell's life: its exec, a vfork+exec per command, each child's exit, its own.
    expect(
      kinds.filter((k) => !k.startsWith("close") && !k.startsWith("openat") && !k.startsWith("dup2")),
    ).toEqual([
      `execve:${SH}`,
      `vfork:${SH}`,
      `execve:${TRUE}`,
      `procexit:${TRUE}`,
      `vfork:${SH}`,
      `execve:${CAT}`,
      `procexit:${CAT}`,
      `procexit:${SH}`,
      "stats",
    ]);
    // The forked child, before exec: libuv closes its pipe ends and points stdin at /dev/null.
    expect(recs[0]).toEqual({
      kind: "syscall",
      evtType: "close",
      tsNs: 1795922978860520461n,
      tgid: SH,
      tid: SH,
      recordFlags: 0,
      ret: 0,
      args: { fd: 5 },
      tuple: undefined,
      uid: 0,
      gid: 0,
      euid: 0,
      egid: 0,
    });
    expect(recs[3]).toMatchObject({ kind: "open", evtType: "openat", tgid: SH, ret: 0, path: "/dev/null" });
    expect(recs[4]).toMatchObject({
      kind: "syscall",
      evtType: "dup2",
      ret: 1,
      args: { oldfd: 22, newfd: 1 },
    });
    expect(recs[6]).toEqual({
      kind: "exec",
      evtType: "execve",
      tsNs: 1795922978860909278n,
      tgid: SH,
      tid: SH,
      recordFlags: 0,
      ppid: 26184,
      uid: 0,
      gid: 0,
      euid: 0,
      egid: 0,
      loginuid: 4294967295,
      cgroupId: 1n,
      startNs: 1795922978857990212n,
      comm: "sh",
      filename: "/bin/sh",
      argv: ["/bin/sh", "-c", "/bin/true; cat /etc/hostname >/dev/null; exit 3"],
      tty: 0,
      sid: 31204,
      pgid: 26153,
      vpid: SH,
      capEffective: 2199006478335n,
      capPermitted: 2199006478335n,
      capInheritable: 0n,
      exeIno: 260180,
      exeCtimeNs: 1672924848000000000n,
      exeMtimeNs: 1672924848000000000n,
      exeUpperLayer: false,
      exeFromMemfd: false,
    });
    // dash forks with vfork: CLONE_VM | CLONE_VFORK | SIGCHLD.
    expect(recs[11]).toEqual({
      kind: "fork",
      evtType: "vfork",
      tsNs: 1795922978861559697n,
      tgid: SH,
      tid: SH,
      recordFlags: 0,
      childTgid: TRUE,
      childTid: TRUE,
      childStartNs: 1795922978861555128n,
      isThread: false,
      cloneFlags: 0x4111,
    });
    expect(recs[12]).toMatchObject({ kind: "exec", tgid: TRUE, ppid: SH, comm: "true", argv: ["/bin/true"] });
    expect(recs[23]).toMatchObject({
      kind: "exec",
      tgid: CAT,
      ppid: SH,
      comm: "cat",
      filename: "/usr/bin/cat",
      argv: ["cat", "/etc/hostname"],
    });
    expect(recs[28]).toMatchObject({ kind: "open", tgid: CAT, ret: 3, openFlags: 0, path: "/etc/hostname" });
    // The shell's `>/dev/null` redirection is undone: the saved stdout (10) goes back to 1.
    expect(recs[33]).toMatchObject({
      kind: "syscall",
      evtType: "dup2",
      tgid: SH,
      args: { oldfd: 10, newfd: 1 },
    });
    expect(recs[35]).toMatchObject({ kind: "exit", tgid: SH, exitCode: 3 << 8 });
    expect(recs[36]).toEqual({
      kind: "stats",
      tsNs: 1795922978869695875n,
      eventsSeen: 120,
      eventsEmitted: 106,
      ringbufFull: 0,
      truncated: 0,
      readFailed: 0,
      filtered: 12,
      ringbufFullByFamily: { file: 0, process: 0, network: 0, other: 0 },
    });
  });

  it("decodes the same whatever the read size", async () => {
    const whole = await readAll();
    for (const chunkBytes of [1, 7, 24, 100]) expect(await readAll(chunkBytes)).toEqual(whole);
  });
});

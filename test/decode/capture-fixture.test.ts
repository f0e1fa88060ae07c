/**
 * A real capture from the live loader on the development VM (kernel 6.18):
 * `sh -c '/bin/true; cat /etc/hostname >/dev/null; exit 3'` spawned by the
 * agent (pid 8164), with the shell's descendants' records and the final
 * counters kept (test/integration/record-fixture.test.ts wrote it).
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { DecodedRecord } from "../../src/decode/events.js";
import { readCaptureFile } from "../../src/sensor/capture-file.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/true-and-cat.pgcap", import.meta.url));
const BOOT = 1795887533768368755n;
const O_CLOEXEC = 0o2000000;
const RDONLY_CLOEXEC = {
  evtType: "openat",
  dirfd: -100,
  openFlags: O_CLOEXEC,
  mode: 0,
  ret: 3,
  recordFlags: 0,
};

async function readAll(chunkBytes?: number): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = [];
  await readCaptureFile(FIXTURE, (r) => out.push(r), { chunkBytes });
  return out;
}

describe("real capture: true-and-cat.pgcap", () => {
  it("has the loader's stream header", async () => {
    const summary = await readCaptureFile(FIXTURE, () => {});
    expect(summary.header).toEqual({
      schemaVersion: 1,
      headerSize: 88,
      bootTimeNs: BOOT,
      loaderPid: 8175,
      hostname: "vm",
    });
    expect(summary.stats).toMatchObject({
      records: 18,
      decoded: 18,
      unknownKinds: 0,
      framingErrors: 0,
      bytes: 1464,
    });
  });

  it("decodes every record to the exact values recorded", async () => {
    const recs = await readAll();
    expect(recs.map((r) => (r.kind === "stats" ? "stats" : `${r.kind}:${r.tgid}`))).toEqual([
      "open:8176",
      "exec:8176",
      "open:8176",
      "open:8176",
      "fork:8176",
      "exec:8177",
      "open:8177",
      "open:8177",
      "exit:8177",
      "open:8176",
      "fork:8176",
      "exec:8178",
      "open:8178",
      "open:8178",
      "open:8178",
      "exit:8178",
      "exit:8176",
      "stats",
    ]);
    // The forked child, before exec: libuv points its stdin at /dev/null.
    expect(recs[0]).toEqual({
      kind: "open",
      evtType: "openat",
      tsNs: BOOT + 1147479993946n,
      tgid: 8176,
      tid: 8176,
      recordFlags: 0,
      ret: 0,
      openFlags: 0,
      mode: 0,
      dirfd: -100,
      path: "/dev/null",
    });
    expect(recs[1]).toEqual({
      kind: "exec",
      evtType: "execve",
      tsNs: BOOT + 1147480366437n,
      tgid: 8176,
      tid: 8176,
      recordFlags: 0,
      ppid: 8164,
      uid: 0,
      gid: 0,
      euid: 0,
      egid: 0,
      loginuid: 4294967295,
      cgroupId: 1n,
      startNs: BOOT + 1147479829860n,
      comm: "sh",
      filename: "/bin/sh",
      argv: ["/bin/sh", "-c", "/bin/true; cat /etc/hostname >/dev/null; exit 3"],
    });
    expect(recs[2]).toMatchObject({ ...RDONLY_CLOEXEC, tgid: 8176, path: "/etc/ld.so.cache" });
    expect(recs[3]).toMatchObject({ ...RDONLY_CLOEXEC, tgid: 8176, path: "/lib/x86_64-linux-gnu/libc.so.6" });
    expect(recs[4]).toEqual({
      kind: "fork",
      evtType: "clone",
      tsNs: BOOT + 1147481045364n,
      tgid: 8176,
      tid: 8176,
      recordFlags: 0,
      childTgid: 8177,
      childTid: 8177,
      childStartNs: BOOT + 1147481041238n,
      isThread: false,
    });
    expect(recs[5]).toMatchObject({
      kind: "exec",
      tgid: 8177,
      ppid: 8176,
      comm: "true",
      filename: "/bin/true",
      argv: ["/bin/true"],
      startNs: BOOT + 1147481041238n,
    });
    expect(recs[8]).toMatchObject({ kind: "exit", tgid: 8177, exitCode: 0 });
    // `>/dev/null` in the shell: O_WRONLY|O_CREAT|O_TRUNC, mode 0666.
    expect(recs[9]).toMatchObject({
      kind: "open",
      evtType: "openat",
      tgid: 8176,
      ret: 3,
      openFlags: 0o1101,
      mode: 0o666,
      path: "/dev/null",
    });
    expect(recs[10]).toMatchObject({ kind: "fork", childTgid: 8178, isThread: false });
    expect(recs[11]).toMatchObject({
      kind: "exec",
      tgid: 8178,
      ppid: 8176,
      comm: "cat",
      filename: "/usr/bin/cat",
      argv: ["cat", "/etc/hostname"],
    });
    expect(recs[14]).toMatchObject({ kind: "open", tgid: 8178, ret: 3, openFlags: 0, path: "/etc/hostname" });
    expect(recs[15]).toMatchObject({ kind: "exit", tgid: 8178, exitCode: 0 });
    expect(recs[16]).toMatchObject({ kind: "exit", tgid: 8176, exitCode: 3 << 8 });
    expect(recs[17]).toEqual({
      kind: "stats",
      tsNs: BOOT + 1147485090578n,
      eventsSeen: 17,
      eventsEmitted: 17,
      ringbufFull: 0,
      truncated: 0,
      readFailed: 0,
    });
  });

  it("decodes the same whatever the read size", async () => {
    const whole = await readAll();
    for (const chunkBytes of [1, 7, 24, 100]) expect(await readAll(chunkBytes)).toEqual(whole);
  });
});

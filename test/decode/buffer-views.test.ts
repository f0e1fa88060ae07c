/**
 * The decoder reads fixed offsets through a DataView cached per buffer
 * (record-decoder.ts) and the framer sizes records through one per chunk:
 * these tests pin that a record decodes the same wherever its bytes sit —
 * at an odd byte offset of a shared ArrayBuffer (Node's pooled buffers),
 * after the decoder has read another buffer, or in a buffer that is
 * rewritten in place between two records (the framer's carry buffer).
 */
import { describe, expect, it } from "vitest";
import { PG_SYSCALL } from "../../src/decode/layout.generated.js";
import { RecordDecoder } from "../../src/decode/record-decoder.js";
import { StreamDecoder } from "../../src/decode/stream-decoder.js";
import { encodeStreamHeader } from "../../src/decode/stream-header.js";
import { buildExit, buildFork, buildOpen, buildSyscall } from "./wire-builder.js";

const BOOT = 1_700_000_000_000_000_000n;

/** The same bytes placed `at` bytes into a larger ArrayBuffer filled with junk. */
function placedAt(rec: Buffer, at: number): Buffer {
  const backing = Buffer.alloc(at + rec.length + 5, 0xa5);
  rec.copy(backing, at);
  return backing.subarray(at, at + rec.length);
}

const RECORDS = [
  buildOpen({ tsNs: 77n, tgid: 10, tid: 11, ret: 5n, openFlags: 0o2000001n, dirfd: 4, path: "/tmp/ä x" }),
  buildSyscall({ syscall: PG_SYSCALL.PG_SYS_CLOSE, tsNs: 78n, tgid: 10, tid: 11, ret: -9n, args: [5n] }),
  buildSyscall({
    syscall: PG_SYSCALL.PG_SYS_CAPSET,
    tsNs: 79n,
    tgid: 12,
    tid: 12,
    aux: [0x1ffffffffffn, 0x3n, 0x8000000000000000n],
  }),
  buildFork({ tsNs: 80n, tgid: 10, tid: 10, childTgid: 13, childTid: 13, childStartNs: 81n }),
  buildExit({ tsNs: 82n, tgid: 13, tid: 13, exitCode: 256 }),
];

describe("RecordDecoder: reads do not depend on where the bytes sit", () => {
  it("decodes each record the same at every byte offset of a shared ArrayBuffer", () => {
    for (const rec of RECORDS) {
      const expected = new RecordDecoder({ bootTimeNs: BOOT }).decode(rec, 0);
      expect(expected).toBeDefined();
      for (const at of [1, 3, 5, 7, 8, 13]) {
        expect(new RecordDecoder({ bootTimeNs: BOOT }).decode(placedAt(rec, at), 0)).toEqual(expected);
      }
    }
  });

  it("one decoder moving between buffers, and back, reads each buffer's own bytes", () => {
    const d = new RecordDecoder({ bootTimeNs: BOOT });
    const a = Buffer.concat(RECORDS);
    const b = placedAt(Buffer.concat([...RECORDS].reverse()), 3);
    const offsetsA: number[] = [];
    let at = 0;
    for (const r of RECORDS) {
      offsetsA.push(at);
      at += r.length;
    }
    const fromA = offsetsA.map((o) => d.decode(a, o));
    const fromB = d.decode(b, 0);
    const againA = d.decode(a, offsetsA[1] ?? 0);
    expect(fromA.map((r) => r?.kind)).toEqual(["open", "syscall", "syscall", "fork", "exit"]);
    expect(fromB).toMatchObject({ kind: "exit", exitCode: 256 });
    expect(againA).toEqual(fromA[1]);
    expect(fromA[0]).toMatchObject({
      ret: 5,
      openFlags: 0o2000001,
      dirfd: 4,
      path: "/tmp/ä x",
      tsNs: BOOT + 77n,
    });
    expect(fromA[1]).toMatchObject({ evtType: "close", ret: -9, args: { fd: 5 } });
    expect(fromA[2]).toMatchObject({
      evtType: "capset",
      args: { cap_effective: 0x1ffffffffffn, cap_permitted: 0x3n, cap_inheritable: 0x8000000000000000n },
    });
  });

  it("sees a buffer rewritten in place between two records", () => {
    const d = new RecordDecoder({ bootTimeNs: BOOT });
    const first = buildOpen({ tgid: 1, path: "/a" });
    const second = buildOpen({ tgid: 2, path: "/b" });
    const buf = Buffer.alloc(Math.max(first.length, second.length));
    first.copy(buf);
    expect(d.decode(buf, 0)).toMatchObject({ tgid: 1, path: "/a" });
    second.copy(buf);
    expect(d.decode(buf, 0)).toMatchObject({ tgid: 2, path: "/b" });
  });

  it("an empty or NUL-only path is the empty string", () => {
    const d = new RecordDecoder({ bootTimeNs: BOOT });
    expect(d.decode(buildOpen({ path: "" }), 0)).toMatchObject({ path: "" });
    expect(
      d.decode(buildSyscall({ syscall: PG_SYSCALL.PG_SYS_UNLINK, path: "", args: [0n] }), 0),
    ).toMatchObject({ args: { path: "" } });
  });
});

describe("StreamDecoder: chunks at odd offsets of pooled memory", () => {
  it("frames and decodes a stream cut into chunks that each start at an odd byte offset", () => {
    const head = encodeStreamHeader({ bootTimeNs: BOOT, loaderPid: 1, hostname: "h" });
    const stream = Buffer.concat([head, ...RECORDS, ...RECORDS]);
    const decode = (chunkBytes: number): unknown[] => {
      const out: unknown[] = [];
      const d = new StreamDecoder({ onRecord: (r) => out.push(r) });
      for (let at = 0; at < stream.length; at += chunkBytes) {
        d.push(placedAt(stream.subarray(at, at + chunkBytes), 1 + (at % 7)));
      }
      d.end();
      return out;
    };
    const whole = decode(stream.length);
    expect(whole).toHaveLength(2 * RECORDS.length);
    for (const n of [1, 3, 24, 61, 100]) expect(decode(n)).toEqual(whole);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PG_EXEC, PG_HDR, PG_OPEN, PG_RECORD_FLAGS, PG_SYSCALL } from "../../src/decode/layout.generated.js";
import { formatIpv6, RecordDecoder } from "../../src/decode/record-decoder.js";
import {
  argsOf,
  buildConnect,
  buildExec,
  buildExit,
  buildFork,
  buildOpen,
  buildRaw,
  buildStats,
} from "./wire-builder.js";

const BOOT = 1_700_000_000_000_000_000n;

function decoder(): RecordDecoder {
  return new RecordDecoder({ bootTimeNs: BOOT });
}

describe("RecordDecoder: golden records built from the generated layout", () => {
  it("decodes an exec", () => {
    const buf = buildExec({
      tsNs: 123_456_789n,
      tgid: 4242,
      tid: 4242,
      ppid: 4000,
      uid: 1000,
      gid: 1001,
      euid: 0,
      egid: 1002,
      loginuid: 1000,
      cgroupId: 9876543210n,
      startNs: 123_000_000n,
      comm: "cat",
      filename: "/usr/bin/cat",
      args: argsOf(["cat", "", "/etc/höstname"]),
      tty: 34816,
      sid: 4000,
      pgid: 4242,
      vpid: 7,
      capEffective: 0x1ffffffffffn,
      capPermitted: 0x1ffffffffffn,
      exeIno: 123456n,
      exeCtimeNs: 1_700_000_000_000_000_001n,
      exeMtimeNs: 1_600_000_000_000_000_002n,
    });
    expect(buf.length % 8).toBe(0);
    expect(decoder().decode(buf, 0)).toEqual({
      kind: "exec",
      evtType: "execve",
      tsNs: BOOT + 123_456_789n,
      tgid: 4242,
      tid: 4242,
      recordFlags: 0,
      ppid: 4000,
      uid: 1000,
      gid: 1001,
      euid: 0,
      egid: 1002,
      loginuid: 1000,
      cgroupId: 9876543210n,
      startNs: BOOT + 123_000_000n,
      comm: "cat",
      filename: "/usr/bin/cat",
      argv: ["cat", "", "/etc/höstname"],
      tty: 34816,
      sid: 4000,
      pgid: 4242,
      vpid: 7,
      capEffective: 0x1ffffffffffn,
      capPermitted: 0x1ffffffffffn,
      capInheritable: 0n,
      exeIno: 123456,
      exeCtimeNs: 1_700_000_000_000_000_001n,
      exeMtimeNs: 1_600_000_000_000_000_002n,
      exeUpperLayer: false,
      exeFromMemfd: false,
    });
  });

  it("decodes execveat, and the upper-layer and memfd flags of an exec", () => {
    const rec = buildExec({
      syscall: PG_SYSCALL.PG_SYS_EXECVEAT,
      flags: PG_RECORD_FLAGS.PG_F_EXE_UPPER | PG_RECORD_FLAGS.PG_F_EXE_MEMFD,
    });
    expect(decoder().decode(rec, 0)).toMatchObject({
      evtType: "execveat",
      exeUpperLayer: true,
      exeFromMemfd: true,
    });
    const d = decoder();
    expect(d.decode(buildExec({ syscall: PG_SYSCALL.PG_SYS_OPEN }), 0)).toBeUndefined();
    expect(d.stats.malformed["bad-value"]).toBe(1);
  });

  it("keeps a cut last argument of a truncated exec, and an empty argv", () => {
    const cut = buildExec({ flags: PG_RECORD_FLAGS.PG_F_TRUNCATED, args: Buffer.from("sh\0-c\0echo abc") });
    expect(decoder().decode(cut, 0)).toMatchObject({
      recordFlags: PG_RECORD_FLAGS.PG_F_TRUNCATED,
      argv: ["sh", "-c", "echo abc"],
    });
    expect(decoder().decode(buildExec({ args: Buffer.alloc(0) }), 0)).toMatchObject({ argv: [] });
  });

  it("decodes fork (process and thread) and exit", () => {
    const d = decoder();
    expect(d.decode(buildFork({ tgid: 10, tid: 11, childTgid: 12, childStartNs: 5n }), 0)).toEqual({
      kind: "fork",
      evtType: "clone",
      tsNs: BOOT + 1_000_000n,
      tgid: 10,
      tid: 11,
      recordFlags: 0,
      childTgid: 12,
      childTid: 12,
      childStartNs: BOOT + 5n,
      isThread: false,
      cloneFlags: 17,
    });
    expect(
      d.decode(buildFork({ syscall: PG_SYSCALL.PG_SYS_CLONE3, cloneFlags: 0x10000n | 0x100n }), 0),
    ).toMatchObject({ evtType: "clone3", cloneFlags: 0x10100 });
    expect(d.decode(buildFork({ syscall: PG_SYSCALL.PG_SYS_VFORK }), 0)).toMatchObject({ evtType: "vfork" });
    expect(d.decode(buildFork({ syscall: PG_SYSCALL.PG_SYS_UNKNOWN }), 0)).toMatchObject({
      evtType: "clone",
    });
    expect(
      d.decode(buildFork({ flags: PG_RECORD_FLAGS.PG_F_THREAD, tgid: 10, childTgid: 10, childTid: 13 }), 0),
    ).toMatchObject({ childTgid: 10, childTid: 13, isThread: true });
    expect(d.decode(buildExit({ tgid: 12, exitCode: 3 << 8 }), 0)).toEqual({
      kind: "exit",
      evtType: "procexit",
      tsNs: BOOT + 1_000_000n,
      tgid: 12,
      tid: 12,
      recordFlags: 0,
      exitCode: 768,
    });
    expect(d.decode(buildExit({ exitCode: 9 }), 0)).toMatchObject({ exitCode: 9 });
  });

  it("decodes each open syscall with ret, flags, mode, dirfd and path", () => {
    const d = decoder();
    expect(
      d.decode(
        buildOpen({
          ret: -2n,
          openFlags: 0o2000000n,
          dirfd: -100,
          syscall: PG_SYSCALL.PG_SYS_OPENAT,
          path: "/nope",
        }),
        0,
      ),
    ).toEqual({
      kind: "open",
      evtType: "openat",
      tsNs: BOOT + 1_000_000n,
      tgid: 100,
      tid: 100,
      recordFlags: 0,
      ret: -2,
      openFlags: 0o2000000,
      mode: 0,
      dirfd: -100,
      path: "/nope",
    });
    const names = [
      [PG_SYSCALL.PG_SYS_OPEN, "open"],
      [PG_SYSCALL.PG_SYS_OPENAT2, "openat2"],
      [PG_SYSCALL.PG_SYS_CREAT, "creat"],
    ] as const;
    for (const [syscall, evtType] of names) {
      expect(
        d.decode(buildOpen({ syscall, ret: 5n, mode: 0o640, openFlags: 0o1101n, dirfd: 7 }), 0),
      ).toMatchObject({ evtType, ret: 5, mode: 0o640, openFlags: 0o1101, dirfd: 7 });
    }
    expect(d.decode(buildOpen({ path: "" }), 0)).toMatchObject({ path: "" });
  });

  it("decodes connect for IPv4, IPv6 and unix sockets", () => {
    const d = decoder();
    expect(
      d.decode(
        buildConnect({
          ret: -115n,
          fd: 4,
          family: 2,
          dport: 8080,
          daddr: [10, 1, 2, 3],
          saddr: [192, 168, 0, 7],
          sport: 40000,
        }),
        0,
      ),
    ).toEqual({
      kind: "connect",
      evtType: "connect",
      tsNs: BOOT + 1_000_000n,
      tgid: 100,
      tid: 100,
      recordFlags: 0,
      ret: -115,
      fd: 4,
      family: 2,
      daddr: "10.1.2.3",
      dport: 8080,
      saddr: "192.168.0.7",
      sport: 40000,
      sockType: 1,
      protocol: 6,
    });
    const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    expect(d.decode(buildConnect({ family: 10, daddr: v6, saddr: [], dport: 443 }), 0)).toMatchObject({
      daddr: "2001:db8::1",
      saddr: "",
      dport: 443,
    });
    expect(d.decode(buildConnect({ family: 1, daddr: [], sockType: 1, protocol: 0 }), 0)).toMatchObject({
      family: 1,
      daddr: "",
      saddr: "",
      protocol: 0,
    });
  });

  it("decodes stats counters", () => {
    expect(
      decoder().decode(buildStats([10n, 8n, 2n, 1n, 3n, 40n, 1n, 0n, 1n, 0n], { tsNs: 99n }), 0),
    ).toEqual({
      kind: "stats",
      tsNs: BOOT + 99n,
      eventsSeen: 10,
      eventsEmitted: 8,
      ringbufFull: 2,
      truncated: 1,
      readFailed: 3,
      filtered: 40,
      ringbufFullByFamily: { file: 1, process: 0, network: 1, other: 0 },
    });
  });

  it("decodes a record at an offset inside a larger buffer", () => {
    const buf = Buffer.concat([buildExit({ exitCode: 1 }), buildOpen({ path: "/x" })]);
    const d = decoder();
    expect(d.decode(buf, buf.readUInt32LE(PG_HDR.size))).toMatchObject({ kind: "open", path: "/x" });
  });
});

describe("RecordDecoder: malformed input is counted, never thrown", () => {
  it("counts a record shorter than its kind's fixed part", () => {
    const d = decoder();
    expect(d.decode(buildRaw(1, PG_EXEC.sizeof - 8), 0)).toBeUndefined();
    expect(d.stats.malformed["short-record"]).toBe(1);
  });

  it("counts string lengths that run past hdr.size", () => {
    const d = decoder();
    const exec = buildExec();
    exec.writeUInt16LE(exec.length, PG_EXEC.args_len);
    expect(d.decode(exec, 0)).toBeUndefined();
    const open = buildOpen();
    open.writeUInt16LE(open.length - PG_OPEN.sizeof + 1, PG_OPEN.path_len);
    expect(d.decode(open, 0)).toBeUndefined();
    expect(d.stats.malformed["length-past-size"]).toBe(2);
  });

  it("counts sizes that are impossible or beyond the buffer", () => {
    const d = decoder();
    const odd = buildExit();
    odd.writeUInt32LE(33, PG_HDR.size);
    expect(d.decode(odd, 0)).toBeUndefined();
    const tiny = buildExit();
    tiny.writeUInt32LE(16, PG_HDR.size);
    expect(d.decode(tiny, 0)).toBeUndefined();
    expect(d.decode(buildExit().subarray(0, 24), 0)).toBeUndefined();
    expect(d.decode(Buffer.alloc(10), 0)).toBeUndefined();
    expect(d.stats.malformed).toMatchObject({ "bad-size": 2, "past-buffer": 2 });
  });

  it("counts an unknown syscall as a bad value and an unknown kind separately", () => {
    const d = decoder();
    expect(d.decode(buildOpen({ syscall: 77 }), 0)).toBeUndefined();
    expect(d.decode(buildRaw(42, 64), 0)).toBeUndefined();
    expect(d.decode(buildExit(), 0)).toBeDefined();
    expect(d.stats).toEqual({
      decoded: 1,
      unknownKinds: 1,
      malformed: {
        "bad-size": 0,
        "past-buffer": 0,
        "short-record": 0,
        "length-past-size": 0,
        "bad-value": 1,
      },
    });
  });
});

describe("formatIpv6 (RFC 5952)", () => {
  const cases: [string, number[]][] = [
    ["::", [0, 0, 0, 0, 0, 0, 0, 0]],
    ["::1", [0, 0, 0, 0, 0, 0, 0, 1]],
    ["2001:db8::1", [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
    // A single zero group is not shortened.
    ["2001:db8:0:1:1:1:1:1", [0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]],
    // The longest run wins; the first of equal runs wins.
    ["2001:0:0:1::1", [0x2001, 0, 0, 1, 0, 0, 0, 1]],
    ["2001:db8::1:0:0:1", [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]],
    ["fe80::", [0xfe80, 0, 0, 0, 0, 0, 0, 0]],
    ["2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", [0x2001, 0xdb8, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd, 0xeeee, 1]],
    ["::ffff:127.0.0.1", [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]],
    // Not IPv4-mapped (::ffff:0:0/96 only): plain hex.
    ["::fffe:7f00:1", [0, 0, 0, 0, 0, 0xfffe, 0x7f00, 1]],
    ["1::ffff:7f00:1", [1, 0, 0, 0, 0, 0xffff, 0x7f00, 1]],
  ];
  for (const [text, groups] of cases) {
    it(text, () => {
      const buf = Buffer.alloc(16);
      groups.forEach((g, i) => {
        buf.writeUInt16BE(g, 2 * i);
      });
      expect(formatIpv6(buf, 0)).toBe(text);
    });
  }
});

describe("formatIpv6 agrees with the WHATWG URL serializer", () => {
  it("for any address outside ::ffff:0:0/96", () => {
    // WHATWG host serialization compresses like RFC 5952 (first longest run
    // of two or more zero groups) but never uses the dotted IPv4 form.
    const group = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const buf = Buffer.alloc(16);
        groups.forEach((g, i) => {
          buf.writeUInt16BE(g, 2 * i);
        });
        const text = formatIpv6(buf, 0);
        if (text.startsWith("::ffff:") && text.includes(".")) return;
        expect(new URL(`http://[${text}]/`).hostname).toBe(`[${text}]`);
      }),
    );
  });
});

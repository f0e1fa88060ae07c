import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SENSOR_EVENT_TYPES, SYSCALL_ARG_NAMES, SYSCALL_STATE_ARG_NAMES } from "../../src/decode/events.js";
import { PG_SYSCALL, PG_SYSCALL_EXIT } from "../../src/decode/layout.generated.js";
import { decodeSockaddr, RecordDecoder } from "../../src/decode/record-decoder.js";
import { SYSCALL_IDS, SYSCALL_SPECS } from "../../src/decode/syscall-args.js";
import { buildSyscall, sockaddrIn, sockaddrIn6, sockaddrUn } from "./wire-builder.js";

const BOOT = 1_700_000_000_000_000_000n;
const decoder = () => new RecordDecoder({ bootTimeNs: BOOT });
const S = PG_SYSCALL;

describe("PG_REC_SYSCALL records", () => {
  it("decodes a file syscall: ret, dirfd, path, flags, creds", () => {
    const buf = buildSyscall({
      syscall: S.PG_SYS_UNLINKAT,
      tgid: 50,
      tid: 51,
      ret: -2n,
      args: [-100n, 0x7ffd0000n, 0x200n],
      path: "gone.txt",
      uid: 1000,
      gid: 1001,
      euid: 0,
      egid: 1002,
    });
    expect(decoder().decode(buf, 0)).toEqual({
      kind: "syscall",
      evtType: "unlinkat",
      tsNs: BOOT + 1_000_000n,
      tgid: 50,
      tid: 51,
      recordFlags: 0,
      ret: -2,
      args: { dirfd: -100, name: "gone.txt", flags: 0x200 },
      tuple: undefined,
      uid: 1000,
      gid: 1001,
      euid: 0,
      egid: 1002,
    });
  });

  it("keeps two and three strings apart (renameat2, mount)", () => {
    const d = decoder();
    expect(
      d.decode(
        buildSyscall({
          syscall: S.PG_SYS_RENAMEAT2,
          args: [3n, 0n, -100n, 0n, 1n],
          path: "a",
          path2: "/tmp/b",
        }),
        0,
      ),
    ).toMatchObject({ args: { olddirfd: 3, oldpath: "a", newdirfd: -100, newpath: "/tmp/b", flags: 1 } });
    expect(
      d.decode(
        buildSyscall({
          syscall: S.PG_SYS_MOUNT,
          args: [0n, 0n, 0n, 0x1000n],
          path: "none",
          path2: "/mnt",
          path3: "tmpfs",
        }),
        0,
      ),
    ).toMatchObject({ evtType: "mount", args: { dev: "none", dir: "/mnt", type: "tmpfs", flags: 0x1000 } });
  });

  it("decodes accept4 with the new socket's tuple and the peer sockaddr", () => {
    const rec = decoder().decode(
      buildSyscall({
        syscall: S.PG_SYS_ACCEPT4,
        ret: 7n,
        args: [3n, 0n, 0n, 0x80000n],
        aux: [16n],
        tuple: { family: 2, laddr: [127, 0, 0, 1], lport: 8080, raddr: [127, 0, 0, 1], rport: 40000 },
        addr: sockaddrIn([127, 0, 0, 1], 40000),
      }),
      0,
    );
    expect(rec).toMatchObject({
      evtType: "accept4",
      ret: 7,
      args: { fd: 3, flags: 0x80000, addr: { family: 2, addr: "127.0.0.1", port: 40000, path: "" } },
      tuple: {
        family: 2,
        sockType: 1,
        protocol: 6,
        localAddr: "127.0.0.1",
        localPort: 8080,
        remoteAddr: "127.0.0.1",
        remotePort: 40000,
      },
    });
  });

  it("decodes IPv6 and unix (path and abstract) sockaddrs", () => {
    const v6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
    expect(decodeSockaddr(sockaddrIn6(v6, 443), 0, 28)).toEqual({
      family: 10,
      addr: "2001:db8::1",
      port: 443,
      path: "",
    });
    expect(decodeSockaddr(sockaddrUn("/run/x.sock"), 0, 14)).toMatchObject({
      family: 1,
      path: "/run/x.sock",
    });
    const abs = sockaddrUn("@peregrine");
    expect(decodeSockaddr(abs, 0, abs.length)).toMatchObject({ family: 1, path: "@peregrine" });
    expect(decodeSockaddr(Buffer.from([2]), 0, 1)).toBeUndefined();
    // Too short for its family: family known, no address.
    expect(decodeSockaddr(sockaddrIn([1, 2, 3, 4], 1), 0, 4)).toEqual({
      family: 2,
      addr: "",
      port: 0,
      path: "",
    });
  });

  it("decodes aux values: socketpair fds, capset sets", () => {
    const d = decoder();
    expect(
      d.decode(buildSyscall({ syscall: S.PG_SYS_SOCKETPAIR, args: [1n, 1n, 0n], aux: [5n, 6n] }), 0),
    ).toMatchObject({ args: { domain: 1, type: 1, proto: 0, fd1: 5, fd2: 6 } });
    expect(d.decode(buildSyscall({ syscall: S.PG_SYS_CAPSET, aux: [1n << 40n, 3n, 0n] }), 0)).toMatchObject({
      args: { cap_effective: 1n << 40n, cap_permitted: 3n, cap_inheritable: 0n },
    });
  });

  it("types fd, pid and id arguments from the low 32 bits", () => {
    const d = decoder();
    expect(
      d.decode(buildSyscall({ syscall: S.PG_SYS_DUP3, ret: 10n, args: [4n, 10n, 0x80000n] }), 0),
    ).toMatchObject({
      args: { oldfd: 4, newfd: 10, flags: 0x80000 },
    });
    expect(d.decode(buildSyscall({ syscall: S.PG_SYS_KILL, args: [-1n, 9n] }), 0)).toMatchObject({
      args: { pid: -1, sig: 9 },
    });
    expect(
      d.decode(buildSyscall({ syscall: S.PG_SYS_SETRESUID, args: [0xffffffffn, 0n, 0xffffffffn] }), 0),
    ).toMatchObject({
      args: { ruid: 4294967295, euid: 0, suid: 4294967295 },
    });
  });

  it("counts malformed records instead of decoding them", () => {
    const d = decoder();
    expect(
      d.decode(buildSyscall({ syscall: S.PG_SYS_CHDIR, path: "/x", lens: { path: 200 } }), 0),
    ).toBeUndefined();
    expect(d.stats.malformed["length-past-size"]).toBe(1);
    expect(d.decode(buildSyscall({ syscall: S.PG_SYS_CLOSE, lens: { tuple: 8 } }), 0)).toBeUndefined();
    expect(d.decode(buildSyscall({ syscall: S.PG_SYS_BIND, lens: { addr: 129 } }), 0)).toBeUndefined();
    // Open and connect have records of their own; 200 is no syscall at all.
    expect(d.decode(buildSyscall({ syscall: S.PG_SYS_OPENAT }), 0)).toBeUndefined();
    expect(d.decode(buildSyscall({ syscall: 200 }), 0)).toBeUndefined();
    expect(d.stats.malformed["bad-value"]).toBe(4);
    const short = buildSyscall({ syscall: S.PG_SYS_CLOSE }).subarray(0, 64);
    short.writeUInt32LE(64, 8);
    expect(d.decode(short, 0)).toBeUndefined();
    expect(d.stats.malformed["short-record"]).toBe(1);
  });

  it("never throws on arbitrary bytes after a valid header", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: PG_SYSCALL_EXIT.sizeof, maxLength: 512 }), (bytes) => {
        const buf = Buffer.from(bytes);
        const size = buf.length & ~7;
        buf.writeUInt32LE(size, 8);
        buf.writeUInt16LE(6, 12);
        decoder().decode(buf, 0);
      }),
    );
  });
});

describe("descriptor syscalls (schema 4)", () => {
  /** Two s32 in one aux word, low half first. */
  const pair = (lo: number, hi: number): bigint => BigInt(lo >>> 0) | (BigInt(hi >>> 0) << 32n);

  it("pipe2: the two fds and the inode from aux, the flags from the register", () => {
    const rec = decoder().decode(
      buildSyscall({ syscall: S.PG_SYS_PIPE2, args: [0x7ffd0000n, 0o2004000n], aux: [5n, 6n, 123456789n] }),
      0,
    );
    expect(rec).toMatchObject({
      evtType: "pipe2",
      args: { fd1: 5, fd2: 6, ino: 123456789, flags: 0o2004000 },
    });
  });

  it("recvmsg: the SCM_RIGHTS fds packed in aux with their count; none in an older record (count 0)", () => {
    const three = decoder().decode(
      buildSyscall({ syscall: S.PG_SYS_RECVMSG, args: [4n], aux: [pair(7, 8), pair(9, -1), pair(-1, 3)] }),
      0,
    );
    expect(three).toMatchObject({ args: { fd: 4, fds: [7, 8, 9] } });
    const five = decoder().decode(
      buildSyscall({ syscall: S.PG_SYS_RECVMSG, args: [4n], aux: [pair(10, 11), pair(12, 13), pair(14, 8)] }),
      0,
    );
    // The kernel reads up to 8 and sends 5: a count above 5 reads as 5.
    expect(five).toMatchObject({ args: { fds: [10, 11, 12, 13, 14] } });
    const v3 = decoder().decode(
      buildSyscall({ syscall: S.PG_SYS_RECVMSG, args: [4n], aux: [0n, 0n, 0n] }),
      0,
    );
    expect(v3).toMatchObject({ args: { fds: [] } });
  });

  it("io_uring_setup: the six u32 the kernel wrote back, two per aux word", () => {
    const rec = decoder().decode(
      buildSyscall({
        syscall: S.PG_SYS_IO_URING_SETUP,
        ret: 7n,
        args: [4n],
        aux: [pair(4, 8), pair(2, 1), pair(1000, 0x3fff)],
      }),
      0,
    );
    expect(rec).toMatchObject({
      ret: 7,
      args: {
        entries: 4,
        sq_entries: 4,
        cq_entries: 8,
        flags: 2,
        sq_thread_cpu: 1,
        sq_thread_idle: 1000,
        features: 0x3fff,
      },
    });
  });

  it("close_range and fcntl: the registers", () => {
    expect(
      decoder().decode(buildSyscall({ syscall: S.PG_SYS_CLOSE_RANGE, args: [3n, 0xffffffffn, 4n] }), 0),
    ).toMatchObject({ evtType: "close_range", args: { first: 3, last: 0xffffffff, flags: 4 } });
    expect(
      decoder().decode(buildSyscall({ syscall: S.PG_SYS_FCNTL, ret: 300n, args: [5n, 1030n, 300n] }), 0),
    ).toMatchObject({ evtType: "fcntl", ret: 300, args: { fd: 5, cmd: 1030 } });
  });
});

describe("syscall tables", () => {
  it("has a spec for every SyscallEvent type, named after the enum, with the documented args", () => {
    const specced = SYSCALL_SPECS.filter((s) => s !== undefined).map((s) => s.evtType);
    expect(new Set(specced)).toEqual(new Set(Object.keys(SYSCALL_ARG_NAMES)));
    for (const spec of SYSCALL_SPECS) {
      if (spec === undefined) continue;
      const id = SYSCALL_IDS.get(spec.evtType);
      const rec = decoder().decode(buildSyscall({ syscall: id ?? 0 }), 0);
      expect(rec?.kind === "syscall" && Object.keys(rec.args).sort()).toEqual(
        [...SYSCALL_ARG_NAMES[spec.evtType], ...(SYSCALL_STATE_ARG_NAMES[spec.evtType] ?? [])].sort(),
      );
    }
  });

  it("maps every event type the sensor produces to a filter id", () => {
    for (const t of SENSOR_EVENT_TYPES) expect(SYSCALL_IDS.get(t), t).toBeGreaterThan(0);
    expect(SYSCALL_IDS.get("openat")).toBe(S.PG_SYS_OPENAT);
    expect(SYSCALL_IDS.get("procexit")).toBe(S.PG_SYS_PROCEXIT);
    expect(SYSCALL_IDS.has("max")).toBe(false);
  });
});

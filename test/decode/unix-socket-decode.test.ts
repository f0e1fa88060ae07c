/**
 * Schema 3's unix socket addresses: the connect destination after
 * pg_connect's fixed part, and the two paths after a syscall record's
 * strings (the socket's own and its peer's), including abstract names and
 * lengths that do not fit. A version 2 stream header still reads (its
 * records had zero where these lengths now are).
 */
import { describe, expect, it } from "vitest";
import { PG_LIMITS, PG_SCHEMA, PG_STREAM_HEADER, PG_SYSCALL } from "../../src/decode/layout.generated.js";
import { RecordDecoder } from "../../src/decode/record-decoder.js";
import { encodeStreamHeader, parseStreamHeader, StreamHeaderError } from "../../src/decode/stream-header.js";
import { buildConnect, buildSyscall, sockaddrIn, sockaddrUn } from "./wire-builder.js";

const BOOT = 1_700_000_000_000_000_000n;
const decoder = () => new RecordDecoder({ bootTimeNs: BOOT });
const S = PG_SYSCALL;
const UNIX_STREAM = { family: 1, sockType: 1, protocol: 0 };

describe("unix socket addresses (schema 3)", () => {
  it("connect: the destination path from the sockaddr, and an abstract one with '@'", () => {
    const path = buildConnect({ family: 1, daddr: [], dport: 0, addr: sockaddrUn("/run/docker.sock") });
    expect(decoder().decode(path, 0)).toMatchObject({
      kind: "connect",
      family: 1,
      daddr: "/run/docker.sock",
    });
    const abs = buildConnect({ family: 1, daddr: [], dport: 0, addr: sockaddrUn("@/tmp/.X11-unix/X0") });
    expect(decoder().decode(abs, 0)).toMatchObject({ daddr: "@/tmp/.X11-unix/X0" });
    // No sockaddr bytes (a version 2 record): no path.
    expect(decoder().decode(buildConnect({ family: 1, daddr: [] }), 0)).toMatchObject({ daddr: "" });
    // An IP connect ignores nothing it did before.
    expect(decoder().decode(buildConnect({ daddr: [10, 0, 0, 1], dport: 443 }), 0)).toMatchObject({
      daddr: "10.0.0.1",
      dport: 443,
    });
  });

  it("accept4: own end is the listener's path, the peer unbound", () => {
    const d = decoder();
    const ev = d.decode(
      buildSyscall({
        syscall: S.PG_SYS_ACCEPT4,
        ret: 5n,
        args: [3n, 0n, 0n, 0x80000n],
        tuple: UNIX_STREAM,
        unixLocal: sockaddrUn("/run/app.sock"),
      }),
      0,
    );
    expect(ev).toMatchObject({
      evtType: "accept4",
      tuple: {
        family: 1,
        sockType: 1,
        localAddr: "/run/app.sock",
        localPort: 0,
        remoteAddr: "",
        remotePort: 0,
      },
    });
  });

  it("both paths after the other strings, the sockaddr argument included", () => {
    const ev = decoder().decode(
      buildSyscall({
        syscall: S.PG_SYS_SENDTO,
        ret: 4n,
        args: [7n],
        tuple: { ...UNIX_STREAM, sockType: 2 },
        addr: sockaddrUn("/run/dest.sock"),
        unixLocal: sockaddrUn("@client"),
        unixPeer: sockaddrUn("/run/peer.sock"),
      }),
      0,
    );
    expect(ev).toMatchObject({
      args: { fd: 7, addr: { family: 1, path: "/run/dest.sock" } },
      tuple: { family: 1, sockType: 2, localAddr: "@client", remoteAddr: "/run/peer.sock" },
    });
  });

  it("an IP tuple is not read as unix paths", () => {
    const ev = decoder().decode(
      buildSyscall({
        syscall: S.PG_SYS_BIND,
        args: [3n],
        tuple: { family: 2, laddr: [127, 0, 0, 1], lport: 8080 },
        addr: sockaddrIn([127, 0, 0, 1], 8080),
      }),
      0,
    );
    expect(ev).toMatchObject({
      tuple: { family: 2, localAddr: "127.0.0.1", localPort: 8080, remoteAddr: "" },
    });
  });

  it("skips and counts lengths that do not fit", () => {
    const d = decoder();
    const tooLong = buildSyscall({
      syscall: S.PG_SYS_ACCEPT,
      tuple: UNIX_STREAM,
      unixLocal: sockaddrUn("/x"),
      lens: { unixLocal: PG_LIMITS.PG_SOCKADDR_MAX + 1 },
    });
    expect(d.decode(tooLong, 0)).toBeUndefined();
    const pastSize = buildSyscall({
      syscall: S.PG_SYS_ACCEPT,
      tuple: UNIX_STREAM,
      unixPeer: sockaddrUn("/x"),
      lens: { unixPeer: 100 },
    });
    expect(d.decode(pastSize, 0)).toBeUndefined();
    const connectPast = buildConnect({ family: 1, addr: sockaddrUn("/x"), addrLen: 120 });
    expect(d.decode(connectPast, 0)).toBeUndefined();
    const connectTooLong = buildConnect({ family: 1, addr: sockaddrUn("/x"), addrLen: 200 });
    expect(d.decode(connectTooLong, 0)).toBeUndefined();
    expect(d.stats.malformed).toMatchObject({ "bad-value": 2, "length-past-size": 2 });
  });

  it("reads a version 2 stream header, refuses older and newer ones", () => {
    const buf = encodeStreamHeader({ bootTimeNs: BOOT, loaderPid: 1, hostname: "h" });
    expect(parseStreamHeader(buf).schemaVersion).toBe(PG_SCHEMA.PG_SCHEMA_VERSION);
    buf.writeUInt16LE(PG_SCHEMA.PG_SCHEMA_OLDEST_READABLE, PG_STREAM_HEADER.schema_version);
    expect(parseStreamHeader(buf).schemaVersion).toBe(PG_SCHEMA.PG_SCHEMA_OLDEST_READABLE);
    buf.writeUInt16LE(PG_SCHEMA.PG_SCHEMA_OLDEST_READABLE - 1, PG_STREAM_HEADER.schema_version);
    expect(() => parseStreamHeader(buf)).toThrow(StreamHeaderError);
    buf.writeUInt16LE(PG_SCHEMA.PG_SCHEMA_VERSION + 1, PG_STREAM_HEADER.schema_version);
    expect(() => parseStreamHeader(buf)).toThrow(/schema version mismatch/);
  });
});

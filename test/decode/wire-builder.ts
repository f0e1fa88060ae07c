/**
 * Builds wire records byte by byte from the generated layout, for decoder
 * tests. Mirrors what the kernel writes: fixed part, strings, zero padding to
 * a multiple of 8, hdr.size = the padded size.
 */
import {
  PG_CONNECT,
  PG_EXEC,
  PG_EXIT,
  PG_FORK,
  PG_HDR,
  PG_OPEN,
  PG_RECORD_KIND,
  PG_STATS,
} from "../../src/decode/layout.generated.js";

export interface HdrFields {
  tsNs?: bigint;
  flags?: number;
  tgid?: number;
  tid?: number;
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/** A record of `fixed` bytes plus `tail`, header filled, size padded. */
function record(kind: number, fixed: number, tail: Buffer, h: HdrFields): Buffer {
  const buf = Buffer.alloc(pad8(fixed + tail.length));
  buf.writeBigUInt64LE(h.tsNs ?? 1_000_000n, PG_HDR.ts_ns);
  buf.writeUInt32LE(buf.length, PG_HDR.size);
  buf.writeUInt16LE(kind, PG_HDR.kind);
  buf.writeUInt16LE(h.flags ?? 0, PG_HDR.flags);
  buf.writeUInt32LE(h.tgid ?? 100, PG_HDR.tgid);
  buf.writeUInt32LE(h.tid ?? h.tgid ?? 100, PG_HDR.tid);
  tail.copy(buf, fixed);
  return buf;
}

export interface ExecFields extends HdrFields {
  ppid?: number;
  uid?: number;
  gid?: number;
  euid?: number;
  egid?: number;
  loginuid?: number;
  cgroupId?: bigint;
  startNs?: bigint;
  comm?: string;
  filename?: string;
  /** argv joined by NUL, trailing NUL included, as the kernel sends it. */
  args?: Buffer;
}

export function argsOf(argv: readonly string[]): Buffer {
  return Buffer.from(argv.map((a) => `${a}\0`).join(""));
}

export function buildExec(f: ExecFields = {}): Buffer {
  const filename = Buffer.from(`${f.filename ?? "/bin/true"}\0`);
  const args = f.args ?? argsOf(["/bin/true"]);
  const buf = record(PG_RECORD_KIND.PG_REC_EXEC, PG_EXEC.sizeof, Buffer.concat([filename, args]), f);
  buf.writeUInt32LE(f.ppid ?? 1, PG_EXEC.ppid);
  buf.writeUInt32LE(f.uid ?? 0, PG_EXEC.uid);
  buf.writeUInt32LE(f.gid ?? 0, PG_EXEC.gid);
  buf.writeUInt32LE(f.euid ?? 0, PG_EXEC.euid);
  buf.writeUInt32LE(f.egid ?? 0, PG_EXEC.egid);
  buf.writeUInt32LE(f.loginuid ?? 0xffffffff, PG_EXEC.loginuid);
  buf.writeBigUInt64LE(f.cgroupId ?? 1n, PG_EXEC.cgroup_id);
  buf.writeBigUInt64LE(f.startNs ?? 500n, PG_EXEC.start_ns);
  buf.write(f.comm ?? "true", PG_EXEC.comm, 15, "utf8");
  buf.writeUInt16LE(filename.length, PG_EXEC.filename_len);
  buf.writeUInt16LE(args.length, PG_EXEC.args_len);
  return buf;
}

export function buildFork(
  f: HdrFields & { childTgid?: number; childTid?: number; childStartNs?: bigint } = {},
): Buffer {
  const buf = record(PG_RECORD_KIND.PG_REC_FORK, PG_FORK.sizeof, Buffer.alloc(0), f);
  buf.writeUInt32LE(f.childTgid ?? 101, PG_FORK.child_tgid);
  buf.writeUInt32LE(f.childTid ?? f.childTgid ?? 101, PG_FORK.child_tid);
  buf.writeBigUInt64LE(f.childStartNs ?? 700n, PG_FORK.child_start_ns);
  return buf;
}

export function buildExit(f: HdrFields & { exitCode?: number } = {}): Buffer {
  const buf = record(PG_RECORD_KIND.PG_REC_EXIT, PG_EXIT.sizeof, Buffer.alloc(0), f);
  buf.writeInt32LE(f.exitCode ?? 0, PG_EXIT.exit_code);
  return buf;
}

export interface OpenFields extends HdrFields {
  ret?: bigint;
  openFlags?: bigint;
  mode?: number;
  dirfd?: number;
  syscall?: number;
  path?: string;
}

export function buildOpen(f: OpenFields = {}): Buffer {
  const path = Buffer.from(`${f.path ?? "/etc/hostname"}\0`);
  const buf = record(PG_RECORD_KIND.PG_REC_OPEN, PG_OPEN.sizeof, path, f);
  buf.writeBigInt64LE(f.ret ?? 3n, PG_OPEN.ret);
  buf.writeBigUInt64LE(f.openFlags ?? 0n, PG_OPEN.flags);
  buf.writeUInt32LE(f.mode ?? 0, PG_OPEN.mode);
  buf.writeInt32LE(f.dirfd ?? -100, PG_OPEN.dirfd);
  buf.writeUInt16LE(f.syscall ?? 2, PG_OPEN.syscall);
  buf.writeUInt16LE(path.length, PG_OPEN.path_len);
  return buf;
}

export interface ConnectFields extends HdrFields {
  ret?: bigint;
  fd?: number;
  family?: number;
  dport?: number;
  daddr?: readonly number[];
  saddr?: readonly number[];
  sport?: number;
  sockType?: number;
  protocol?: number;
}

export function buildConnect(f: ConnectFields = {}): Buffer {
  const buf = record(PG_RECORD_KIND.PG_REC_CONNECT, PG_CONNECT.sizeof, Buffer.alloc(0), f);
  buf.writeBigInt64LE(f.ret ?? 0n, PG_CONNECT.ret);
  buf.writeInt32LE(f.fd ?? 3, PG_CONNECT.fd);
  buf.writeUInt16LE(f.family ?? 2, PG_CONNECT.family);
  buf.writeUInt16LE(f.dport ?? 80, PG_CONNECT.dport);
  Buffer.from(f.daddr ?? [127, 0, 0, 1]).copy(buf, PG_CONNECT.daddr);
  Buffer.from(f.saddr ?? []).copy(buf, PG_CONNECT.saddr);
  buf.writeUInt16LE(f.sport ?? 0, PG_CONNECT.sport);
  buf.writeUInt16LE(f.sockType ?? 1, PG_CONNECT.sock_type);
  buf.writeUInt16LE(f.protocol ?? 6, PG_CONNECT.protocol);
  return buf;
}

export function buildStats(counters: readonly bigint[], h: HdrFields = {}): Buffer {
  const buf = record(PG_RECORD_KIND.PG_REC_STATS, PG_STATS.sizeof, Buffer.alloc(0), h);
  counters.forEach((v, i) => {
    buf.writeBigUInt64LE(v, PG_STATS.counters + 8 * i);
  });
  return buf;
}

/** A record of an arbitrary kind and size (for unknown-kind and malformed cases). */
export function buildRaw(kind: number, size: number, h: HdrFields = {}): Buffer {
  const buf = record(kind, size, Buffer.alloc(0), h);
  buf.writeUInt32LE(size, PG_HDR.size);
  return buf;
}

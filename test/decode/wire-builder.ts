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
  PG_SYSCALL,
  PG_SYSCALL_EXIT,
  PG_TUPLE,
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
  syscall?: number;
  tty?: number;
  sid?: number;
  pgid?: number;
  vpid?: number;
  capEffective?: bigint;
  capPermitted?: bigint;
  capInheritable?: bigint;
  exeIno?: bigint;
  exeCtimeNs?: bigint;
  exeMtimeNs?: bigint;
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
  buf.writeUInt16LE(f.syscall ?? PG_SYSCALL.PG_SYS_EXECVE, PG_EXEC.syscall);
  buf.writeUInt32LE(f.tty ?? 0, PG_EXEC.tty);
  buf.writeUInt32LE(f.sid ?? 0, PG_EXEC.sid);
  buf.writeUInt32LE(f.pgid ?? 0, PG_EXEC.pgid);
  buf.writeUInt32LE(f.vpid ?? 0, PG_EXEC.vpid);
  buf.writeBigUInt64LE(f.capEffective ?? 0n, PG_EXEC.cap_effective);
  buf.writeBigUInt64LE(f.capPermitted ?? 0n, PG_EXEC.cap_permitted);
  buf.writeBigUInt64LE(f.capInheritable ?? 0n, PG_EXEC.cap_inheritable);
  buf.writeBigUInt64LE(f.exeIno ?? 0n, PG_EXEC.exe_ino);
  buf.writeBigUInt64LE(f.exeCtimeNs ?? 0n, PG_EXEC.exe_ctime_ns);
  buf.writeBigUInt64LE(f.exeMtimeNs ?? 0n, PG_EXEC.exe_mtime_ns);
  return buf;
}

export function buildFork(
  f: HdrFields & {
    childTgid?: number;
    childTid?: number;
    childStartNs?: bigint;
    cloneFlags?: bigint;
    syscall?: number;
  } = {},
): Buffer {
  const buf = record(PG_RECORD_KIND.PG_REC_FORK, PG_FORK.sizeof, Buffer.alloc(0), f);
  buf.writeUInt32LE(f.childTgid ?? 101, PG_FORK.child_tgid);
  buf.writeUInt32LE(f.childTid ?? f.childTgid ?? 101, PG_FORK.child_tid);
  buf.writeBigUInt64LE(f.childStartNs ?? 700n, PG_FORK.child_start_ns);
  buf.writeBigUInt64LE(f.cloneFlags ?? 17n, PG_FORK.clone_flags);
  buf.writeUInt16LE(f.syscall ?? PG_SYSCALL.PG_SYS_CLONE, PG_FORK.syscall);
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
  /** AF_UNIX: the raw destination sockaddr (the variable part). */
  addr?: Buffer;
  /** Override of addr_len (malformed cases). */
  addrLen?: number;
}

export function buildConnect(f: ConnectFields = {}): Buffer {
  const addr = f.addr ?? Buffer.alloc(0);
  const buf = record(PG_RECORD_KIND.PG_REC_CONNECT, PG_CONNECT.sizeof, addr, f);
  buf.writeUInt16LE(f.addrLen ?? addr.length, PG_CONNECT.addr_len);
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

export interface TupleFields {
  family: number;
  sockType?: number;
  protocol?: number;
  laddr?: readonly number[];
  lport?: number;
  raddr?: readonly number[];
  rport?: number;
}

export interface SyscallFields extends HdrFields {
  syscall: number;
  ret?: bigint;
  args?: readonly bigint[];
  aux?: readonly bigint[];
  uid?: number;
  gid?: number;
  euid?: number;
  egid?: number;
  tuple?: TupleFields;
  path?: string;
  path2?: string;
  path3?: string;
  /** Raw sockaddr bytes. */
  addr?: Buffer;
  /** AF_UNIX tuple: the socket's own and its peer's raw sockaddr_un bytes. */
  unixLocal?: Buffer;
  unixPeer?: Buffer;
  /** Overrides of the *_len fields (for malformed cases). */
  lens?: {
    tuple?: number;
    path?: number;
    path2?: number;
    path3?: number;
    addr?: number;
    unixLocal?: number;
    unixPeer?: number;
  };
}

const cstr = (s: string | undefined): Buffer => (s === undefined ? Buffer.alloc(0) : Buffer.from(`${s}\0`));

export function buildTuple(t: TupleFields): Buffer {
  const buf = Buffer.alloc(PG_TUPLE.sizeof);
  buf.writeUInt16LE(t.family, PG_TUPLE.family);
  buf.writeUInt16LE(t.sockType ?? 1, PG_TUPLE.sock_type);
  buf.writeUInt16LE(t.protocol ?? 6, PG_TUPLE.protocol);
  buf.writeUInt16LE(t.lport ?? 0, PG_TUPLE.lport);
  buf.writeUInt16LE(t.rport ?? 0, PG_TUPLE.rport);
  Buffer.from(t.laddr ?? []).copy(buf, PG_TUPLE.laddr);
  Buffer.from(t.raddr ?? []).copy(buf, PG_TUPLE.raddr);
  return buf;
}

/** sockaddr_in / sockaddr_in6 / sockaddr_un bytes. */
export function sockaddrIn(ip: readonly number[], port: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(2, 0);
  b.writeUInt16BE(port, 2);
  Buffer.from(ip).copy(b, 4);
  return b;
}
export function sockaddrIn6(ip: readonly number[], port: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(10, 0);
  b.writeUInt16BE(port, 2);
  Buffer.from(ip).copy(b, 8);
  return b;
}
export function sockaddrUn(path: string): Buffer {
  const p = path.startsWith("@")
    ? Buffer.concat([Buffer.from([0]), Buffer.from(path.slice(1))])
    : Buffer.from(`${path}\0`);
  const b = Buffer.alloc(2 + p.length);
  b.writeUInt16LE(1, 0);
  p.copy(b, 2);
  return b;
}

export function buildSyscall(f: SyscallFields): Buffer {
  const tuple = f.tuple === undefined ? Buffer.alloc(0) : buildTuple(f.tuple);
  const p1 = cstr(f.path);
  const p2 = cstr(f.path2);
  const p3 = cstr(f.path3);
  const addr = f.addr ?? Buffer.alloc(0);
  const unixLocal = f.unixLocal ?? Buffer.alloc(0);
  const unixPeer = f.unixPeer ?? Buffer.alloc(0);
  const buf = record(
    PG_RECORD_KIND.PG_REC_SYSCALL,
    PG_SYSCALL_EXIT.sizeof,
    Buffer.concat([tuple, p1, p2, p3, addr, unixLocal, unixPeer]),
    f,
  );
  buf.writeBigInt64LE(f.ret ?? 0n, PG_SYSCALL_EXIT.ret);
  (f.args ?? []).forEach((v, i) => {
    buf.writeBigUInt64LE(BigInt.asUintN(64, v), PG_SYSCALL_EXIT.args + 8 * i);
  });
  (f.aux ?? []).forEach((v, i) => {
    buf.writeBigUInt64LE(BigInt.asUintN(64, v), PG_SYSCALL_EXIT.aux + 8 * i);
  });
  buf.writeUInt32LE(f.uid ?? 0, PG_SYSCALL_EXIT.uid);
  buf.writeUInt32LE(f.gid ?? 0, PG_SYSCALL_EXIT.gid);
  buf.writeUInt32LE(f.euid ?? 0, PG_SYSCALL_EXIT.euid);
  buf.writeUInt32LE(f.egid ?? 0, PG_SYSCALL_EXIT.egid);
  buf.writeUInt16LE(f.syscall, PG_SYSCALL_EXIT.syscall);
  buf.writeUInt16LE(f.lens?.tuple ?? tuple.length, PG_SYSCALL_EXIT.tuple_len);
  buf.writeUInt16LE(f.lens?.path ?? p1.length, PG_SYSCALL_EXIT.path_len);
  buf.writeUInt16LE(f.lens?.path2 ?? p2.length, PG_SYSCALL_EXIT.path2_len);
  buf.writeUInt16LE(f.lens?.path3 ?? p3.length, PG_SYSCALL_EXIT.path3_len);
  buf.writeUInt16LE(f.lens?.addr ?? addr.length, PG_SYSCALL_EXIT.addr_len);
  buf.writeUInt16LE(f.lens?.unixLocal ?? unixLocal.length, PG_SYSCALL_EXIT.unix_local_len);
  buf.writeUInt16LE(f.lens?.unixPeer ?? unixPeer.length, PG_SYSCALL_EXIT.unix_peer_len);
  return buf;
}

/** A record of an arbitrary kind and size (for unknown-kind and malformed cases). */
export function buildRaw(kind: number, size: number, h: HdrFields = {}): Buffer {
  const buf = record(kind, size, Buffer.alloc(0), h);
  buf.writeUInt32LE(size, PG_HDR.size);
  return buf;
}

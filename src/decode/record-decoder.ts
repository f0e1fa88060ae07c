/**
 * Turns one wire record into a typed event (./events.ts). Reads at the
 * generated offsets only, checks every length against the record size, and
 * counts what it cannot decode instead of throwing: a bad record costs one
 * event, never the sensor.
 */
import type {
  ConnectEvent,
  DecodedRecord,
  ExecEvent,
  ExitEvent,
  ForkEvent,
  KernelStats,
  OpenEvent,
  SockAddr,
  SocketTuple,
  SyscallEvent,
} from "./events.js";
import {
  PG_CONNECT,
  PG_COUNTER,
  PG_EXEC,
  PG_EXIT,
  PG_FAMILY,
  PG_FORK,
  PG_HDR,
  PG_LIMITS,
  PG_OPEN,
  PG_RECORD_FLAGS,
  PG_RECORD_KIND,
  PG_STATS,
  PG_SYSCALL,
  PG_SYSCALL_EXIT,
  PG_TUPLE,
} from "./layout.generated.js";
import { PathStrings } from "./path-strings.js";
import type { StreamHeader } from "./stream-header.js";
import { type RawSyscall, SYSCALL_SPECS } from "./syscall-args.js";

/** Why a record was skipped. */
export type MalformedReason =
  /** hdr.size is not a multiple of 8 or smaller than the record header. */
  | "bad-size"
  /** hdr.size runs past the bytes given to decode(). */
  | "past-buffer"
  /** hdr.size is smaller than the fixed part of the record's kind. */
  | "short-record"
  /** A *_len field points past hdr.size. */
  | "length-past-size"
  /** A field holds a value the schema does not define (e.g. an unknown syscall). */
  | "bad-value";

export interface DecoderStats {
  /** Records turned into events or stats. */
  readonly decoded: number;
  /** Skipped records, by reason. */
  readonly malformed: Readonly<Record<MalformedReason, number>>;
  /** Records of a kind this decoder does not know (skipped by their size). */
  readonly unknownKinds: number;
}

const OPEN_SYSCALLS: readonly (OpenEvent["evtType"] | undefined)[] = (() => {
  const names: (OpenEvent["evtType"] | undefined)[] = [];
  names[PG_SYSCALL.PG_SYS_OPEN] = "open";
  names[PG_SYSCALL.PG_SYS_OPENAT] = "openat";
  names[PG_SYSCALL.PG_SYS_OPENAT2] = "openat2";
  names[PG_SYSCALL.PG_SYS_CREAT] = "creat";
  return names;
})();

const EXEC_SYSCALLS: readonly (ExecEvent["evtType"] | undefined)[] = (() => {
  const names: (ExecEvent["evtType"] | undefined)[] = [];
  names[PG_SYSCALL.PG_SYS_EXECVE] = "execve";
  names[PG_SYSCALL.PG_SYS_EXECVEAT] = "execveat";
  return names;
})();

const FORK_SYSCALLS: readonly (ForkEvent["evtType"] | undefined)[] = (() => {
  const names: (ForkEvent["evtType"] | undefined)[] = [];
  // Kernel threads are created outside any syscall: Falco reports those as clone too.
  names[PG_SYSCALL.PG_SYS_UNKNOWN] = "clone";
  names[PG_SYSCALL.PG_SYS_CLONE] = "clone";
  names[PG_SYSCALL.PG_SYS_CLONE3] = "clone3";
  names[PG_SYSCALL.PG_SYS_FORK] = "fork";
  names[PG_SYSCALL.PG_SYS_VFORK] = "vfork";
  return names;
})();

const TWO_32 = 4294967296;
const EMPTY = Buffer.alloc(0);
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));

/** A u64 as a number: exact below 2^53, which counters and flags never reach. */
function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_32;
}

/** An s64 as a number (fds, -errno: small). */
function readS64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readInt32LE(at + 4) * TWO_32;
}

/** A string of len bytes that may end in a NUL (which is dropped), through the decoder's recent paths. */
function readStr(buf: Buffer, start: number, len: number, paths: PathStrings): string {
  // Most syscall records carry no string at all (close, dup, kill …).
  if (len === 0) return "";
  let end = start + len;
  if (buf[end - 1] === 0) end--;
  return end === start ? "" : paths.get(buf, start, end);
}

/**
 * A DataView over the same bytes as buf: its get*() calls compile to plain
 * loads, where Buffer's read*() methods check their arguments on every call
 * (a third of the decoder's time on an openat+close stream). Callers have
 * checked every offset against the record size already.
 */
function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** A u64 as a number from a view (see readU64). */
function viewU64(v: DataView, at: number): number {
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * TWO_32;
}

/** An s64 as a number from a view (see readS64). */
function viewS64(v: DataView, at: number): number {
  return v.getUint32(at, true) + v.getInt32(at + 4, true) * TWO_32;
}

/** A fixed char[] field: up to the first NUL. */
function readCStr(buf: Buffer, start: number, max: number): string {
  let end = start;
  const limit = start + max;
  while (end < limit && buf[end] !== 0) end++;
  return buf.toString("utf8", start, end);
}

/** NUL-joined strings (argv, as in /proc/pid/cmdline); a cut last one is kept. */
function readArgv(buf: Buffer, start: number, len: number): string[] {
  const out: string[] = [];
  const end = start + len;
  let pos = start;
  while (pos < end) {
    let nul = buf.indexOf(0, pos);
    if (nul === -1 || nul > end) nul = end;
    out.push(buf.toString("utf8", pos, nul));
    pos = nul + 1;
  }
  return out;
}

function isZero(buf: Buffer, start: number, len: number): boolean {
  for (let i = start; i < start + len; i++) if (buf[i] !== 0) return false;
  return true;
}

function formatIpv4(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/** RFC 5952 text: lower-case hex, no leading zeros, the longest run (>= 2) of zero groups as "::". */
export function formatIpv6(buf: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((buf[at + 2 * i] ?? 0) << 8) | (buf[at + 2 * i + 1] ?? 0));
  // IPv4-mapped (::ffff:0:0/96) keeps the dotted quad (RFC 5952 section 5).
  if (groups[5] === 0xffff && isZero(buf, at, 10)) return `::ffff:${formatIpv4(buf, at + 12)}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => {
    let s = "";
    for (let i = from; i < to; i++) s += (i > from ? ":" : "") + (groups[i] ?? 0).toString(16);
    return s;
  };
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Text of an address field for a family; "" for families without an IP address. */
export function formatAddress(family: number, buf: Buffer, at: number): string {
  if (family === PG_FAMILY.PG_AF_INET) return formatIpv4(buf, at);
  if (family === PG_FAMILY.PG_AF_INET6) return formatIpv6(buf, at);
  return "";
}

/** Port of a sockaddr_in/in6 (network byte order at offset 2). */
function sockaddrPort(buf: Buffer, at: number): number {
  return buf.readUInt16BE(at + 2);
}

/**
 * A raw sockaddr of len bytes: AF_INET needs 8 bytes, AF_INET6 24, AF_UNIX
 * a path after the family (abstract names, starting with a NUL, as "@name").
 * Undefined when too short to tell the family.
 */
export function decodeSockaddr(buf: Buffer, at: number, len: number): SockAddr | undefined {
  if (len < 2) return undefined;
  const family = buf.readUInt16LE(at);
  if (family === PG_FAMILY.PG_AF_INET && len >= 8) {
    return { family, addr: formatIpv4(buf, at + 4), port: sockaddrPort(buf, at), path: "" };
  }
  if (family === PG_FAMILY.PG_AF_INET6 && len >= 24) {
    return { family, addr: formatIpv6(buf, at + 8), port: sockaddrPort(buf, at), path: "" };
  }
  if (family === PG_FAMILY.PG_AF_UNIX) {
    if (len > 2 && buf[at + 2] === 0)
      return { family, addr: "", port: 0, path: `@${readCStr(buf, at + 3, len - 3)}` };
    return { family, addr: "", port: 0, path: readCStr(buf, at + 2, len - 2) };
  }
  return { family, addr: "", port: 0, path: "" };
}

/** The path of a raw sockaddr_un of len bytes ("@name" when abstract); "" when unbound (len 0). */
function unixPath(buf: Buffer, at: number, len: number): string {
  return len > 2 ? (decodeSockaddr(buf, at, len)?.path ?? "") : "";
}

/**
 * The tuple at `at`; for AF_UNIX the two addresses are the socket's own path
 * and its peer's, given as raw sockaddr_un bytes after the record's strings.
 */
function decodeTuple(
  buf: Buffer,
  at: number,
  unixLocalAt: number,
  unixLocalLen: number,
  unixPeerAt: number,
  unixPeerLen: number,
): SocketTuple {
  const family = buf.readUInt16LE(at + PG_TUPLE.family);
  if (family === PG_FAMILY.PG_AF_UNIX) {
    return {
      family,
      sockType: buf.readUInt16LE(at + PG_TUPLE.sock_type),
      protocol: buf.readUInt16LE(at + PG_TUPLE.protocol),
      localAddr: unixPath(buf, unixLocalAt, unixLocalLen),
      localPort: 0,
      remoteAddr: unixPath(buf, unixPeerAt, unixPeerLen),
      remotePort: 0,
    };
  }
  const ipLen = family === PG_FAMILY.PG_AF_INET ? 4 : PG_LIMITS.PG_ADDR_LEN;
  const laddrAt = at + PG_TUPLE.laddr;
  const raddrAt = at + PG_TUPLE.raddr;
  return {
    family,
    sockType: buf.readUInt16LE(at + PG_TUPLE.sock_type),
    protocol: buf.readUInt16LE(at + PG_TUPLE.protocol),
    localAddr: isZero(buf, laddrAt, ipLen) ? "" : formatAddress(family, buf, laddrAt),
    localPort: buf.readUInt16LE(at + PG_TUPLE.lport),
    remoteAddr: isZero(buf, raddrAt, ipLen) ? "" : formatAddress(family, buf, raddrAt),
    remotePort: buf.readUInt16LE(at + PG_TUPLE.rport),
  };
}

export class RecordDecoder {
  readonly #bootNs: bigint;
  #decoded = 0;
  #unknownKinds = 0;
  readonly #malformed: Record<MalformedReason, number> = {
    "bad-size": 0,
    "past-buffer": 0,
    "short-record": 0,
    "length-past-size": 0,
    "bad-value": 0,
  };

  /** Paths decoded lately: a repeated path is one string, not a decode per record (path-strings.ts). */
  readonly #paths = new PathStrings();

  /** The view over the last buffer decoded from: one per stream chunk, not one per record. */
  #view: DataView = EMPTY_VIEW;
  #viewOf: Buffer = EMPTY;

  constructor(header: Pick<StreamHeader, "bootTimeNs">) {
    this.#bootNs = header.bootTimeNs;
  }

  get stats(): DecoderStats {
    return { decoded: this.#decoded, malformed: { ...this.#malformed }, unknownKinds: this.#unknownKinds };
  }

  /**
   * Decodes the record at buf[offset]. Returns undefined (and counts why) for
   * a malformed record or an unknown kind; the caller moves on by hdr.size.
   */
  decode(buf: Buffer, offset: number): DecodedRecord | undefined {
    if (buf.length - offset < PG_HDR.sizeof) return this.#bad("past-buffer");
    let v = this.#view;
    if (buf !== this.#viewOf) {
      v = this.#view = viewOf(buf);
      this.#viewOf = buf;
    }
    const size = v.getUint32(offset + PG_HDR.size, true);
    if (size < PG_HDR.sizeof || size % 8 !== 0) return this.#bad("bad-size");
    if (buf.length - offset < size) return this.#bad("past-buffer");
    let rec: DecodedRecord | undefined;
    switch (v.getUint16(offset + PG_HDR.kind, true)) {
      case PG_RECORD_KIND.PG_REC_EXEC:
        rec = this.#exec(buf, offset, size);
        break;
      case PG_RECORD_KIND.PG_REC_FORK:
        rec = this.#fork(v, offset, size);
        break;
      case PG_RECORD_KIND.PG_REC_EXIT:
        rec = this.#exit(v, offset, size);
        break;
      case PG_RECORD_KIND.PG_REC_OPEN:
        rec = this.#open(buf, v, offset, size);
        break;
      case PG_RECORD_KIND.PG_REC_CONNECT:
        rec = this.#connect(buf, offset, size);
        break;
      case PG_RECORD_KIND.PG_REC_SYSCALL:
        rec = this.#syscall(buf, v, offset, size);
        break;
      case PG_RECORD_KIND.PG_REC_STATS:
        rec = this.#stats(buf, offset, size);
        break;
      default:
        this.#unknownKinds++;
        return undefined;
    }
    if (rec !== undefined) this.#decoded++;
    return rec;
  }

  #bad(reason: MalformedReason): undefined {
    this.#malformed[reason]++;
    return undefined;
  }

  #ts(buf: Buffer, at: number): bigint {
    return this.#bootNs + buf.readBigUInt64LE(at);
  }

  #viewTs(v: DataView, at: number): bigint {
    return this.#bootNs + v.getBigUint64(at, true);
  }

  #exec(buf: Buffer, o: number, size: number): ExecEvent | undefined {
    if (size < PG_EXEC.sizeof) return this.#bad("short-record");
    const filenameLen = buf.readUInt16LE(o + PG_EXEC.filename_len);
    const argsLen = buf.readUInt16LE(o + PG_EXEC.args_len);
    if (PG_EXEC.sizeof + filenameLen + argsLen > size) return this.#bad("length-past-size");
    const evtType = EXEC_SYSCALLS[buf.readUInt16LE(o + PG_EXEC.syscall)];
    if (evtType === undefined) return this.#bad("bad-value");
    const filenameAt = o + PG_EXEC.sizeof;
    const flags = buf.readUInt16LE(o + PG_HDR.flags);
    return {
      kind: "exec",
      evtType,
      tsNs: this.#ts(buf, o + PG_HDR.ts_ns),
      tgid: buf.readUInt32LE(o + PG_HDR.tgid),
      tid: buf.readUInt32LE(o + PG_HDR.tid),
      recordFlags: buf.readUInt16LE(o + PG_HDR.flags),
      ppid: buf.readUInt32LE(o + PG_EXEC.ppid),
      uid: buf.readUInt32LE(o + PG_EXEC.uid),
      gid: buf.readUInt32LE(o + PG_EXEC.gid),
      euid: buf.readUInt32LE(o + PG_EXEC.euid),
      egid: buf.readUInt32LE(o + PG_EXEC.egid),
      loginuid: buf.readUInt32LE(o + PG_EXEC.loginuid),
      cgroupId: buf.readBigUInt64LE(o + PG_EXEC.cgroup_id),
      startNs: this.#ts(buf, o + PG_EXEC.start_ns),
      comm: readCStr(buf, o + PG_EXEC.comm, PG_LIMITS.PG_COMM_LEN),
      filename: readStr(buf, filenameAt, filenameLen, this.#paths),
      argv: readArgv(buf, filenameAt + filenameLen, argsLen),
      tty: buf.readUInt32LE(o + PG_EXEC.tty),
      sid: buf.readUInt32LE(o + PG_EXEC.sid),
      pgid: buf.readUInt32LE(o + PG_EXEC.pgid),
      vpid: buf.readUInt32LE(o + PG_EXEC.vpid),
      capEffective: buf.readBigUInt64LE(o + PG_EXEC.cap_effective),
      capPermitted: buf.readBigUInt64LE(o + PG_EXEC.cap_permitted),
      capInheritable: buf.readBigUInt64LE(o + PG_EXEC.cap_inheritable),
      exeIno: readU64(buf, o + PG_EXEC.exe_ino),
      exeCtimeNs: buf.readBigUInt64LE(o + PG_EXEC.exe_ctime_ns),
      exeMtimeNs: buf.readBigUInt64LE(o + PG_EXEC.exe_mtime_ns),
      exeUpperLayer: (flags & PG_RECORD_FLAGS.PG_F_EXE_UPPER) !== 0,
      exeFromMemfd: (flags & PG_RECORD_FLAGS.PG_F_EXE_MEMFD) !== 0,
    };
  }

  #fork(v: DataView, o: number, size: number): ForkEvent | undefined {
    if (size < PG_FORK.sizeof) return this.#bad("short-record");
    const flags = v.getUint16(o + PG_HDR.flags, true);
    const evtType = FORK_SYSCALLS[v.getUint16(o + PG_FORK.syscall, true)];
    if (evtType === undefined) return this.#bad("bad-value");
    return {
      kind: "fork",
      evtType,
      tsNs: this.#viewTs(v, o + PG_HDR.ts_ns),
      tgid: v.getUint32(o + PG_HDR.tgid, true),
      tid: v.getUint32(o + PG_HDR.tid, true),
      recordFlags: flags,
      childTgid: v.getUint32(o + PG_FORK.child_tgid, true),
      childTid: v.getUint32(o + PG_FORK.child_tid, true),
      childStartNs: this.#viewTs(v, o + PG_FORK.child_start_ns),
      isThread: (flags & PG_RECORD_FLAGS.PG_F_THREAD) !== 0,
      cloneFlags: viewU64(v, o + PG_FORK.clone_flags),
    };
  }

  #exit(v: DataView, o: number, size: number): ExitEvent | undefined {
    if (size < PG_EXIT.sizeof) return this.#bad("short-record");
    return {
      kind: "exit",
      evtType: "procexit",
      tsNs: this.#viewTs(v, o + PG_HDR.ts_ns),
      tgid: v.getUint32(o + PG_HDR.tgid, true),
      tid: v.getUint32(o + PG_HDR.tid, true),
      recordFlags: v.getUint16(o + PG_HDR.flags, true),
      exitCode: v.getInt32(o + PG_EXIT.exit_code, true),
    };
  }

  #open(buf: Buffer, v: DataView, o: number, size: number): OpenEvent | undefined {
    if (size < PG_OPEN.sizeof) return this.#bad("short-record");
    const pathLen = v.getUint16(o + PG_OPEN.path_len, true);
    if (PG_OPEN.sizeof + pathLen > size) return this.#bad("length-past-size");
    const evtType = OPEN_SYSCALLS[v.getUint16(o + PG_OPEN.syscall, true)];
    if (evtType === undefined) return this.#bad("bad-value");
    return {
      kind: "open",
      evtType,
      tsNs: this.#viewTs(v, o + PG_HDR.ts_ns),
      tgid: v.getUint32(o + PG_HDR.tgid, true),
      tid: v.getUint32(o + PG_HDR.tid, true),
      recordFlags: v.getUint16(o + PG_HDR.flags, true),
      ret: viewS64(v, o + PG_OPEN.ret),
      openFlags: viewU64(v, o + PG_OPEN.flags),
      mode: v.getUint32(o + PG_OPEN.mode, true),
      dirfd: v.getInt32(o + PG_OPEN.dirfd, true),
      path: readStr(buf, o + PG_OPEN.sizeof, pathLen, this.#paths),
    };
  }

  #connect(buf: Buffer, o: number, size: number): ConnectEvent | undefined {
    if (size < PG_CONNECT.sizeof) return this.#bad("short-record");
    const addrLen = buf.readUInt16LE(o + PG_CONNECT.addr_len);
    if (addrLen > PG_LIMITS.PG_SOCKADDR_MAX) return this.#bad("bad-value");
    if (PG_CONNECT.sizeof + addrLen > size) return this.#bad("length-past-size");
    const family = buf.readUInt16LE(o + PG_CONNECT.family);
    const saddrAt = o + PG_CONNECT.saddr;
    const saddrLen = family === PG_FAMILY.PG_AF_INET ? 4 : PG_LIMITS.PG_ADDR_LEN;
    return {
      kind: "connect",
      evtType: "connect",
      tsNs: this.#ts(buf, o + PG_HDR.ts_ns),
      tgid: buf.readUInt32LE(o + PG_HDR.tgid),
      tid: buf.readUInt32LE(o + PG_HDR.tid),
      recordFlags: buf.readUInt16LE(o + PG_HDR.flags),
      ret: readS64(buf, o + PG_CONNECT.ret),
      fd: buf.readInt32LE(o + PG_CONNECT.fd),
      family,
      // AF_UNIX: the path, from the sockaddr that follows the fixed part.
      daddr:
        family === PG_FAMILY.PG_AF_UNIX
          ? unixPath(buf, o + PG_CONNECT.sizeof, addrLen)
          : formatAddress(family, buf, o + PG_CONNECT.daddr),
      dport: buf.readUInt16LE(o + PG_CONNECT.dport),
      // All zero: the kernel had not bound a local address (or could not tell).
      saddr: isZero(buf, saddrAt, saddrLen) ? "" : formatAddress(family, buf, saddrAt),
      sport: buf.readUInt16LE(o + PG_CONNECT.sport),
      sockType: buf.readUInt16LE(o + PG_CONNECT.sock_type),
      protocol: buf.readUInt16LE(o + PG_CONNECT.protocol),
    };
  }

  // Reused for every syscall record: the spec functions read it and keep nothing.
  readonly #raw: RawSyscall = {
    buf: EMPTY,
    view: EMPTY_VIEW,
    argsAt: 0,
    auxAt: 0,
    path: "",
    path2: "",
    path3: "",
    addr: undefined,
  };

  #syscall(buf: Buffer, v: DataView, o: number, size: number): SyscallEvent | undefined {
    if (size < PG_SYSCALL_EXIT.sizeof) return this.#bad("short-record");
    const tupleLen = v.getUint16(o + PG_SYSCALL_EXIT.tuple_len, true);
    const pathLen = v.getUint16(o + PG_SYSCALL_EXIT.path_len, true);
    const path2Len = v.getUint16(o + PG_SYSCALL_EXIT.path2_len, true);
    const path3Len = v.getUint16(o + PG_SYSCALL_EXIT.path3_len, true);
    const addrLen = v.getUint16(o + PG_SYSCALL_EXIT.addr_len, true);
    const unixLocalLen = v.getUint16(o + PG_SYSCALL_EXIT.unix_local_len, true);
    const unixPeerLen = v.getUint16(o + PG_SYSCALL_EXIT.unix_peer_len, true);
    if (tupleLen !== 0 && tupleLen !== PG_TUPLE.sizeof) return this.#bad("bad-value");
    if (
      addrLen > PG_LIMITS.PG_SOCKADDR_MAX ||
      unixLocalLen > PG_LIMITS.PG_SOCKADDR_MAX ||
      unixPeerLen > PG_LIMITS.PG_SOCKADDR_MAX
    ) {
      return this.#bad("bad-value");
    }
    const stringsLen = pathLen + path2Len + path3Len + addrLen;
    if (PG_SYSCALL_EXIT.sizeof + tupleLen + stringsLen + unixLocalLen + unixPeerLen > size) {
      return this.#bad("length-past-size");
    }
    const spec = SYSCALL_SPECS[v.getUint16(o + PG_SYSCALL_EXIT.syscall, true)];
    if (spec === undefined) return this.#bad("bad-value");
    let at = o + PG_SYSCALL_EXIT.sizeof;
    // AF_UNIX tuples: the two paths follow the strings (peregrine_wire.h).
    const unixAt = at + tupleLen + stringsLen;
    const tuple =
      tupleLen === 0
        ? undefined
        : decodeTuple(buf, at, unixAt, unixLocalLen, unixAt + unixLocalLen, unixPeerLen);
    at += tupleLen;
    const raw = this.#raw;
    raw.buf = buf;
    raw.view = v;
    raw.argsAt = o + PG_SYSCALL_EXIT.args;
    raw.auxAt = o + PG_SYSCALL_EXIT.aux;
    raw.path = readStr(buf, at, pathLen, this.#paths);
    at += pathLen;
    raw.path2 = readStr(buf, at, path2Len, this.#paths);
    at += path2Len;
    raw.path3 = readStr(buf, at, path3Len, this.#paths);
    at += path3Len;
    raw.addr = decodeSockaddr(buf, at, addrLen);
    const args = spec.args(raw);
    raw.buf = EMPTY;
    raw.view = EMPTY_VIEW;
    return {
      kind: "syscall",
      evtType: spec.evtType,
      tsNs: this.#viewTs(v, o + PG_HDR.ts_ns),
      tgid: v.getUint32(o + PG_HDR.tgid, true),
      tid: v.getUint32(o + PG_HDR.tid, true),
      recordFlags: v.getUint16(o + PG_HDR.flags, true),
      ret: viewS64(v, o + PG_SYSCALL_EXIT.ret),
      args,
      tuple,
      uid: v.getUint32(o + PG_SYSCALL_EXIT.uid, true),
      gid: v.getUint32(o + PG_SYSCALL_EXIT.gid, true),
      euid: v.getUint32(o + PG_SYSCALL_EXIT.euid, true),
      egid: v.getUint32(o + PG_SYSCALL_EXIT.egid, true),
    };
  }

  #stats(buf: Buffer, o: number, size: number): KernelStats | undefined {
    if (size < PG_STATS.sizeof) return this.#bad("short-record");
    const at = o + PG_STATS.counters;
    return {
      kind: "stats",
      tsNs: this.#ts(buf, o + PG_HDR.ts_ns),
      eventsSeen: readU64(buf, at + 8 * PG_COUNTER.PG_CNT_EVENTS_SEEN),
      eventsEmitted: readU64(buf, at + 8 * PG_COUNTER.PG_CNT_EVENTS_EMITTED),
      ringbufFull: readU64(buf, at + 8 * PG_COUNTER.PG_CNT_RINGBUF_FULL),
      truncated: readU64(buf, at + 8 * PG_COUNTER.PG_CNT_TRUNCATED),
      readFailed: readU64(buf, at + 8 * PG_COUNTER.PG_CNT_READ_FAILED),
      filtered: readU64(buf, at + 8 * PG_COUNTER.PG_CNT_FILTERED),
      ringbufFullByFamily: {
        file: readU64(buf, at + 8 * PG_COUNTER.PG_CNT_RINGBUF_FULL_FILE),
        process: readU64(buf, at + 8 * PG_COUNTER.PG_CNT_RINGBUF_FULL_PROCESS),
        network: readU64(buf, at + 8 * PG_COUNTER.PG_CNT_RINGBUF_FULL_NETWORK),
        other: readU64(buf, at + 8 * PG_COUNTER.PG_CNT_RINGBUF_FULL_OTHER),
      },
    };
  }
}

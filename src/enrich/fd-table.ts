/**
 * Per process: fd number → what it is (file path, socket tuple, pipe …), so
 * fd.* fields answer on events that only carry a number (close, sendto, a
 * later read of a socket) and relative paths resolve against a dirfd.
 *
 * Maintained from the syscalls that create, copy and drop descriptors; a
 * process the agent did not see being born is read whole from /proc/<pid>/fd
 * (through the ProcSource) the first time one of its descriptors matters,
 * so its table and its children's are whole from then on. Threads share their process's
 * table (keyed by tgid); a forked child shares its parent's table copy-on-
 * write until either side changes it.
 */
import { blankFd, type FdInfo, type FdLookup, type FdType } from "./fd-info.js";
import { resolveAgainst } from "./path.js";
import type { ProcSource } from "./proc-source.js";
import { tupleName } from "./proc-source.js";

/** Linux open flag bits (asm-generic/fcntl.h; octal there). */
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;
/** O_TMPFILE includes O_DIRECTORY's bit but creates an unnamed regular file. */
const O_TMPFILE_ONLY = 0o20000000;
export const AT_FDCWD = -100;

/** The file-type bits of st_mode, and a directory's. */
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
/** close_range(2) flags (linux/close_range.h). */
export const CLOSE_RANGE_UNSHARE = 1 << 1;
export const CLOSE_RANGE_CLOEXEC = 1 << 2;

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const EINPROGRESS = 115;

/** SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3 (low bits of the type; the rest are SOCK_CLOEXEC/NONBLOCK). */
const SOCK_TYPE_MASK = 0xf;
const SOCK_CLOEXEC = 0o2000000;

export function l4protoOf(sockType: number, protocol: number): FdInfo["l4proto"] {
  switch (protocol) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 1:
    case 58:
      return "icmp";
  }
  switch (sockType & SOCK_TYPE_MASK) {
    case 1:
      return "tcp";
    case 2:
      return "udp";
    case 3:
      return "raw";
  }
  return "";
}

export function socketTypeOf(family: number): FdType {
  switch (family) {
    case AF_INET:
      return "ipv4";
    case AF_INET6:
      return "ipv6";
    case AF_UNIX:
      return "unix";
    case AF_NETLINK:
      return "netlink";
  }
  return "unknown";
}

const MAPPED = "::ffff:";

/**
 * libsinsp reports an IPv6 socket talking to an IPv4-mapped peer as an
 * IPv4 socket with plain dotted quads; so do we.
 */
function unmapTuple(
  type: FdType,
  localAddr: string,
  remoteAddr: string,
): { type: FdType; localAddr: string; remoteAddr: string } {
  if (type !== "ipv6" || !remoteAddr.startsWith(MAPPED) || !remoteAddr.includes(".")) {
    return { type, localAddr, remoteAddr };
  }
  const local =
    localAddr.startsWith(MAPPED) && localAddr.includes(".")
      ? localAddr.slice(MAPPED.length)
      : localAddr === "::" || localAddr === ""
        ? "0.0.0.0"
        : undefined;
  if (local === undefined) return { type, localAddr, remoteAddr };
  return { type: "ipv4", localAddr: local, remoteAddr: remoteAddr.slice(MAPPED.length) };
}

/**
 * Numbers below this live in array slots, the rest in a Map. The arrays grow
 * to the highest low number a process used and are copied whole when a
 * forked child first writes, so they stay small: at most 64 slots (1 KiB
 * with the stamps) per process, where most descriptors of most processes
 * live. Servers with thousands of sockets keep those in the Map, as before.
 */
const DENSE_FDS = 64;

/**
 * One process's fd number → FdInfo. Linux hands out the lowest free number,
 * so an open+close loop churns the same small key: in a Map each set+delete
 * pair hashes, inserts and leaves a tombstone for a later rehash (≈ 30 ns);
 * an array slot is a load and a store. list() keeps the order a Map would
 * iterate in (insertion order), which capture snapshots and tests rely on.
 */
class FdMap {
  private readonly dense: (FdInfo | undefined)[] = [];
  /** When each dense slot was filled (list() orders by it). */
  private readonly stamps: number[] = [];
  private sparse: Map<number, FdInfo> | undefined;
  private sparseStamps: Map<number, number> | undefined;
  private nextStamp = 0;
  size = 0;

  get(fd: number): FdInfo | undefined {
    if (fd >= 0 && fd < DENSE_FDS) return this.dense[fd];
    return this.sparse?.get(fd);
  }

  has(fd: number): boolean {
    return this.get(fd) !== undefined;
  }

  set(fd: number, info: FdInfo): void {
    if (fd >= 0 && fd < DENSE_FDS) {
      const dense = this.dense;
      while (dense.length <= fd) {
        dense.push(undefined);
        this.stamps.push(0);
      }
      if (dense[fd] === undefined) {
        this.size++;
        this.stamps[fd] = this.nextStamp++;
      }
      dense[fd] = info;
      return;
    }
    this.sparse ??= new Map();
    this.sparseStamps ??= new Map();
    if (!this.sparse.has(fd)) {
      this.size++;
      this.sparseStamps.set(fd, this.nextStamp++);
    }
    this.sparse.set(fd, info);
  }

  delete(fd: number): boolean {
    if (fd >= 0 && fd < DENSE_FDS) {
      if (this.dense[fd] === undefined) return false;
      this.dense[fd] = undefined;
      this.size--;
      return true;
    }
    if (this.sparse?.delete(fd) !== true) return false;
    this.sparseStamps?.delete(fd);
    this.size--;
    return true;
  }

  /** Every descriptor, in the order they were added. */
  list(): FdInfo[] {
    const stamped: [number, FdInfo][] = [];
    const dense = this.dense;
    for (let fd = 0; fd < dense.length; fd++) {
      const info = dense[fd];
      if (info !== undefined) stamped.push([this.stamps[fd] ?? 0, info]);
    }
    if (this.sparse !== undefined) {
      for (const [fd, info] of this.sparse) stamped.push([this.sparseStamps?.get(fd) ?? 0, info]);
    }
    return stamped.sort((a, b) => a[0] - b[0]).map((p) => p[1]);
  }

  copy(): FdMap {
    const c = new FdMap();
    c.dense.push(...this.dense);
    c.stamps.push(...this.stamps);
    if (this.sparse !== undefined) c.sparse = new Map(this.sparse);
    if (this.sparseStamps !== undefined) c.sparseStamps = new Map(this.sparseStamps);
    c.nextStamp = this.nextStamp;
    c.size = this.size;
    return c;
  }
}

/** One process's descriptors; shared between a parent and its forked child until one writes. */
class FdSet {
  readonly fds: FdMap;
  refs = 1;
  /** Shared for real (clone with CLONE_FILES, not a thread): writes go to the one set, never copied. */
  hard = false;
  /** Every open fd of the process is in `fds` (it was born under our eyes). */
  complete: boolean;
  /**
   * When /proc was listed for this set (epoch ns; 0n for a set built from
   * events). Events older than that already show in the listing: applying
   * them again would undo what came after (a child's dup2 before its exec,
   * replayed onto the post-exec listing, would close its stdin).
   */
  seededAtNs: bigint;
  constructor(fds: FdMap, complete: boolean, seededAtNs = 0n) {
    this.fds = fds;
    this.complete = complete;
    this.seededAtNs = seededAtNs;
  }
}

export interface FdTableOptions {
  /** Where unknown descriptors of processes older than the agent are looked up. */
  source: ProcSource;
  /** Descriptors kept per process; past it the table stops adding and falls back to /proc. */
  maxPerProcess?: number;
  /** Descriptors kept in all; same fallback. */
  maxTotal?: number;
}

/** A connection's ends as an event reports them (addresses as the decoder formats them). */
export interface SocketEnds {
  readonly family: number;
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly sockType: number;
  readonly protocol: number;
}

/**
 * pid → FdSet, remembering the last pid looked up: an event looks its
 * process's set up several times (the event's fd, the put or remove, the
 * close after the rules), and consecutive events mostly come from one
 * process. Every write goes through set/delete, which keep the remembered
 * answer current (an absent pid is remembered as absent too).
 */
class SetsByPid {
  readonly #map = new Map<number, FdSet>();
  #lastPid = -1;
  #lastSet: FdSet | undefined;

  get size(): number {
    return this.#map.size;
  }

  get(pid: number): FdSet | undefined {
    if (pid === this.#lastPid) return this.#lastSet;
    const set = this.#map.get(pid);
    this.#lastPid = pid;
    this.#lastSet = set;
    return set;
  }

  set(pid: number, set: FdSet): void {
    this.#map.set(pid, set);
    if (pid === this.#lastPid) this.#lastSet = set;
  }

  delete(pid: number): void {
    this.#map.delete(pid);
    if (pid === this.#lastPid) this.#lastSet = undefined;
  }
}

export class FdTable implements FdLookup {
  private readonly byPid = new SetsByPid();
  private readonly source: ProcSource;
  private readonly maxPerProcess: number;
  private readonly maxTotal: number;
  /** Descriptors held (a set shared by several processes counts once). */
  private total = 0;
  /** Lookups nobody could answer (not in the table, not in /proc). */
  misses = 0;
  /** Descriptors learned from /proc because the table did not have them. */
  lateFills = 0;
  /** Descriptors not stored because a bound was reached. */
  overflows = 0;
  /**
   * Time of the event being applied (epoch ns); the Enricher sets it before
   * each event. Changes from events older than a set's /proc listing are
   * not applied to that set.
   */
  eventNs = 0n;

  constructor(options: FdTableOptions) {
    this.source = options.source;
    this.maxPerProcess = options.maxPerProcess ?? 16_384;
    this.maxTotal = options.maxTotal ?? 1_000_000;
  }

  /** Descriptors held across every process: peregrine_fd_table_size. */
  get size(): number {
    return this.total;
  }

  /** Processes with a table. */
  get processes(): number {
    return this.byPid.size;
  }

  get(pid: number, fd: number): FdInfo | undefined {
    if (fd < 0) return undefined;
    const set = this.byPid.get(pid) ?? this.seed(pid);
    const known = set?.fds.get(fd);
    if (known !== undefined) return known;
    if (set?.complete === true) {
      this.misses++;
      return undefined;
    }
    // The table could not hold it (a bound) or /proc could not be listed: ask for this one.
    const info = this.source.readFd(pid, fd);
    if (info === undefined) {
      this.misses++;
      return undefined;
    }
    this.lateFills++;
    this.store(pid, info);
    return info;
  }

  /**
   * First sight of a process we did not see being born: read all of its
   * descriptors from /proc once, so its table (and its children's) is whole
   * from then on. undefined when /proc has no such process.
   */
  private seed(pid: number): FdSet | undefined {
    const listing = this.source.listFds(pid);
    if (listing === undefined) return undefined;
    const set = new FdSet(new FdMap(), true, listing.atNs);
    this.byPid.set(pid, set);
    for (const num of listing.nums) {
      const info = this.source.readFd(pid, num);
      if (info === undefined) continue;
      this.lateFills++;
      this.store(pid, info);
    }
    return set;
  }

  /** Copy of a process's known descriptors (tests, capture snapshots). */
  list(pid: number): FdInfo[] {
    return this.byPid.get(pid)?.fds.list() ?? [];
  }

  /** Whether the table holds every descriptor of pid. */
  isComplete(pid: number): boolean {
    return this.byPid.get(pid)?.complete === true;
  }

  /**
   * Stores a descriptor an event created (open and friends; tests too),
   * unless the process's /proc listing is newer than the event.
   */
  put(pid: number, info: FdInfo): void {
    const set = this.byPid.get(pid);
    if (set !== undefined && set.seededAtNs > this.eventNs) return;
    this.store(pid, info, set);
  }

  /** The set was listed from /proc after the current event happened: the event is already in it. */
  private isStale(pid: number): boolean {
    const set = this.byPid.get(pid);
    return set !== undefined && set.seededAtNs > this.eventNs;
  }

  /** Stores a descriptor as given, whatever its age (what /proc says now). `known`: pid's set, if looked up already. */
  private store(pid: number, info: FdInfo, known?: FdSet): void {
    // Every open and close lands here: skip the second look-up when the set is already the process's own.
    const set = known !== undefined && (known.refs === 1 || known.hard) ? known : this.writable(pid);
    if (!set.fds.has(info.num)) {
      if (set.fds.size >= this.maxPerProcess || this.total >= this.maxTotal) {
        // Out of room: forget that this table is whole, so misses go to /proc instead of answering "no fd".
        set.complete = false;
        this.overflows++;
        return;
      }
      this.total++;
    }
    set.fds.set(info.num, info);
  }

  /** open/openat/openat2/creat succeeded. Returns the new descriptor. */
  onOpen(pid: number, fd: number, path: string, dirfd: number, openFlags: number, cwd: string): FdInfo {
    const base = dirfd === AT_FDCWD ? cwd || undefined : this.get(pid, dirfd)?.name;
    const name = resolveAgainst(path, base) ?? path;
    const isDir = (openFlags & O_DIRECTORY) !== 0 && (openFlags & O_TMPFILE_ONLY) === 0;
    // One literal, all fields in one shape: this runs for every successful open.
    const info: FdInfo = {
      num: fd,
      type: isDir ? "directory" : "file",
      name,
      openFlags,
      ino: 0,
      l4proto: "",
      localAddr: "",
      localPort: 0,
      remoteAddr: "",
      remotePort: 0,
      role: "",
      connected: false,
    };
    this.put(pid, info);
    return info;
  }

  /** memfd_create succeeded: Falco names it "memfd:<name>". */
  onMemfd(pid: number, fd: number, name: string, flags: number): FdInfo {
    const info: FdInfo = { ...blankFd(fd, "memfd"), name: `memfd:${name}`, openFlags: flags };
    this.put(pid, info);
    return info;
  }

  /** socket() succeeded. */
  onSocket(pid: number, fd: number, family: number, sockType: number, protocol: number): FdInfo {
    const type = socketTypeOf(family);
    const info: FdInfo = {
      ...blankFd(fd, type),
      l4proto: type === "ipv4" || type === "ipv6" ? l4protoOf(sockType, protocol) : "",
      openFlags: (sockType & SOCK_CLOEXEC) !== 0 ? O_CLOEXEC : 0,
    };
    this.put(pid, info);
    return info;
  }

  /**
   * connect returned. A refused or failed connect still names the peer (the
   * attempt is what rules look at); only success or EINPROGRESS marks it
   * connected. For unix sockets the remote address is the path.
   */
  onConnect(pid: number, fd: number, ret: number, ends: SocketEnds): FdInfo | undefined {
    if (fd < 0) return undefined;
    const before = this.get(pid, fd);
    const info = this.socketFd(fd, "client", ends, before);
    info.connected = ret === 0 || ret === -EINPROGRESS || (before?.connected === true && ret !== 0);
    this.put(pid, info);
    return info;
  }

  /** accept/accept4 returned newFd: the server side of a connection. */
  onAccept(pid: number, newFd: number, ends: SocketEnds, listenFd: number, flags: number): FdInfo {
    const listening = listenFd >= 0 ? this.get(pid, listenFd) : undefined;
    const withProto: SocketEnds =
      ends.sockType === 0 && ends.protocol === 0 && listening !== undefined
        ? { ...ends, sockType: listening.l4proto === "udp" ? 2 : 1 }
        : ends;
    const info = this.socketFd(newFd, "server", withProto, undefined);
    info.connected = true;
    if ((flags & SOCK_CLOEXEC) !== 0) info.openFlags = O_CLOEXEC;
    if (info.type === "unix" && info.name === "" && listening !== undefined) info.name = listening.name;
    this.put(pid, info);
    return info;
  }

  /** bind succeeded: the local end is known. */
  onBind(pid: number, fd: number, ends: SocketEnds): FdInfo | undefined {
    const before = this.get(pid, fd);
    const info = this.socketFd(fd, "", ends, before);
    this.put(pid, info);
    return info;
  }

  /**
   * socketpair/pipe/pipe2 succeeded: two connected ends (a pipe's share its
   * inode; SOCK_CLOEXEC and pipe2's O_CLOEXEC are one bit).
   */
  onPair(
    pid: number,
    fds: readonly [number, number],
    type: "unix" | "pipe",
    flags: number,
    ino = 0,
  ): FdInfo[] {
    return fds.map((num) => {
      const info: FdInfo = {
        ...blankFd(num, type),
        connected: type === "unix",
        openFlags: (flags & SOCK_CLOEXEC) !== 0 ? O_CLOEXEC : 0,
        ino,
      };
      this.put(pid, info);
      return info;
    });
  }

  /**
   * dup/dup2/dup3/fcntl(F_DUPFD) returned newFd: it names what oldFd named
   * (an implicit close of a previous newFd included). The close-on-exec
   * flag is the new descriptor's own.
   */
  onDup(pid: number, oldFd: number, newFd: number, cloexec: boolean): FdInfo | undefined {
    if (newFd < 0) return undefined;
    const source = this.get(pid, oldFd);
    if (source === undefined) {
      // Older than the process's /proc listing: that listing already shows what newFd became.
      if (this.isStale(pid)) return this.byPid.get(pid)?.fds.get(newFd);
      this.remove(pid, newFd);
      return undefined;
    }
    const flags = cloexec ? source.openFlags | O_CLOEXEC : source.openFlags & ~O_CLOEXEC;
    const info: FdInfo = { ...source, num: newFd, openFlags: flags };
    this.put(pid, info);
    return info;
  }

  /** close succeeded (or failed with EBADF: either way the number is free now). */
  onClose(pid: number, fd: number): void {
    this.remove(pid, fd);
  }

  /**
   * close_range(first, last, flags) succeeded: every descriptor in the range
   * is closed, or with CLOSE_RANGE_CLOEXEC only marked close-on-exec; with
   * CLOSE_RANGE_UNSHARE the process first gets a table of its own.
   */
  onCloseRange(pid: number, first: number, last: number, flags: number): void {
    const set = this.byPid.get(pid);
    if (set === undefined || set.seededAtNs > this.eventNs) return;
    const own = (flags & CLOSE_RANGE_UNSHARE) !== 0 ? this.unshare(pid, set) : this.writable(pid);
    const cloexec = (flags & CLOSE_RANGE_CLOEXEC) !== 0;
    for (const info of own.fds.list()) {
      if (info.num < first || info.num > last) continue;
      // FdInfo objects are shared with copy-on-write siblings: replace, never mutate.
      if (cloexec) own.fds.set(info.num, { ...info, openFlags: info.openFlags | O_CLOEXEC });
      else if (own.fds.delete(info.num)) this.total--;
    }
  }

  /**
   * Descriptors the process got without naming what they are: received with
   * SCM_RIGHTS, taken with pidfd_getfd. Described from /proc when it still
   * has them (as libsinsp does); otherwise type unknown, so the number never
   * keeps what it named before.
   */
  onAcquired(pid: number, fds: readonly number[], cloexec: boolean): FdInfo | undefined {
    let firstInfo: FdInfo | undefined;
    for (const fd of fds) {
      if (fd < 0) continue;
      const seen = this.source.readFd(pid, fd) ?? blankFd(fd, "unknown");
      const info = cloexec ? { ...seen, openFlags: seen.openFlags | O_CLOEXEC } : seen;
      this.put(pid, info);
      firstInfo ??= info;
    }
    return firstInfo;
  }

  /**
   * open_by_handle_at succeeded: a file or directory the caller named only by
   * its handle. The kernel read its path from its dentries (`path`); a record
   * without one is named from /proc while the descriptor is open there, else
   * it is a file with no name (never the number's old one).
   */
  onHandleOpen(pid: number, fd: number, path: string, openFlags: number, ino: number, mode: number): FdInfo {
    let type: FdType = (mode & S_IFMT) === S_IFDIR ? "directory" : "file";
    let name = path;
    if (name === "") {
      const seen = this.source.readFd(pid, fd);
      if (seen !== undefined && (seen.type === "file" || seen.type === "directory")) {
        type = seen.type;
        name = seen.name;
      }
    }
    const info: FdInfo = { ...blankFd(fd, type), name, openFlags, ino };
    this.put(pid, info);
    return info;
  }

  /**
   * A new process (not a thread): it starts with a copy of its parent's
   * descriptors, or — clone(CLONE_FILES) — shares the parent's table itself.
   */
  onFork(parentPid: number, childPid: number, shareFiles = false): void {
    this.release(childPid); // a reused pid's old table
    // A parent older than the agent is read from /proc once here, so its children share that
    // read instead of each listing its own /proc/<pid>/fd.
    const parent = this.byPid.get(parentPid) ?? this.seed(parentPid);
    if (parent === undefined) return; // gone: the child's table fills from /proc on first need
    // Listed after the fork: it may hold what the parent opened since; the child lists its own.
    if (parent.seededAtNs > this.eventNs) return;
    if (shareFiles) {
      // Its own set first (it may be a copy-on-write share with a sibling), then share that for real.
      const own = this.writable(parentPid);
      own.hard = true;
      own.refs++;
      this.byPid.set(childPid, own);
    } else if (parent.hard) {
      // Copy-on-write cannot be layered on a truly shared table: copy now.
      const copy = new FdSet(parent.fds.copy(), parent.complete, parent.seededAtNs);
      this.total += copy.fds.size;
      this.byPid.set(childPid, copy);
    } else {
      parent.refs++;
      this.byPid.set(childPid, parent);
    }
  }

  /**
   * A descriptor of a kind that carries no address: eventfd, timerfd,
   * signalfd, inotify, bpf, userfaultfd, pidfd, io_uring … (name "").
   */
  onAnon(pid: number, fd: number, type: FdType, cloexec: boolean): FdInfo {
    const info: FdInfo = { ...blankFd(fd, type), openFlags: cloexec ? O_CLOEXEC : 0 };
    this.put(pid, info);
    return info;
  }

  /**
   * sendto/sendmsg/recvfrom/recvmsg on a socket with no peer yet (UDP): the
   * datagram's address names the peer, as libsinsp does; on a send this
   * process is the client, on a receive the server. Connected sockets keep
   * their tuple.
   */
  onDatagram(pid: number, fd: number, ends: SocketEnds, sending: boolean): FdInfo | undefined {
    const before = this.get(pid, fd);
    if (before === undefined || before.remoteAddr !== "" || before.connected) return before;
    if (ends.remoteAddr === "" && ends.remotePort === 0) return before;
    const info = this.socketFd(fd, sending ? "client" : "server", ends, before);
    this.put(pid, info);
    return info;
  }

  /** A successful exec closes every close-on-exec descriptor. */
  onExec(pid: number): void {
    const set = this.byPid.get(pid);
    if (set === undefined || set.seededAtNs > this.eventNs) return;
    const closing = set.fds.list().filter((info) => (info.openFlags & O_CLOEXEC) !== 0);
    if (closing.length === 0) return;
    const own = this.writable(pid);
    for (const info of closing) if (own.fds.delete(info.num)) this.total--;
  }

  /** The process is gone: its descriptors are closed. */
  onExit(pid: number): void {
    this.release(pid);
  }

  private remove(pid: number, fd: number): void {
    const set = this.byPid.get(pid);
    if (set === undefined || !set.fds.has(fd) || set.seededAtNs > this.eventNs) return;
    const own = set.refs === 1 || set.hard ? set : this.writable(pid);
    own.fds.delete(fd);
    this.total--;
  }

  private release(pid: number): void {
    const set = this.byPid.get(pid);
    if (set === undefined) return;
    this.byPid.delete(pid);
    set.refs--;
    if (set.refs === 0) this.total -= set.fds.size;
    if (set.refs <= 1) set.hard = false;
  }

  /** close_range(CLOSE_RANGE_UNSHARE): a table truly shared (CLONE_FILES) is copied for this process. */
  private unshare(pid: number, set: FdSet): FdSet {
    if (!set.hard || set.refs <= 1) return this.writable(pid);
    const own = this.copyFor(pid, set);
    if (set.refs <= 1) set.hard = false;
    return own;
  }

  /** The process's own set, cloned first if it is shared with a parent or child. */
  private writable(pid: number): FdSet {
    const set = this.byPid.get(pid) ?? this.seed(pid);
    if (set === undefined) {
      // Gone from /proc already (or a replay without it): what we add is not all it had.
      const fresh = new FdSet(new FdMap(), false);
      this.byPid.set(pid, fresh);
      return fresh;
    }
    if (set.refs === 1 || set.hard) return set;
    return this.copyFor(pid, set);
  }

  /** Gives pid its own copy of a set it shared (one reference fewer on the shared one). */
  private copyFor(pid: number, set: FdSet): FdSet {
    set.refs--;
    const own = new FdSet(set.fds.copy(), set.complete, set.seededAtNs);
    this.total += own.fds.size;
    this.byPid.set(pid, own);
    return own;
  }

  /** Builds a socket FdInfo from an event's ends, keeping what an earlier socket()/bind() told us. */
  private socketFd(fd: number, role: FdInfo["role"], ends: SocketEnds, before: FdInfo | undefined): FdInfo {
    let type = socketTypeOf(ends.family);
    if (type === "unknown" && before !== undefined) type = before.type;
    if (type === "unix") {
      const path = role === "server" ? ends.localAddr : ends.remoteAddr || ends.localAddr;
      return {
        ...blankFd(fd, "unix"),
        name: path || (before?.name ?? ""),
        openFlags: before?.openFlags ?? 0,
        ino: before?.ino ?? 0,
        role,
        connected: before?.connected ?? false,
      };
    }
    let localAddr = ends.localAddr || before?.localAddr || "";
    const localPort = ends.localPort || before?.localPort || 0;
    let remoteAddr = ends.remoteAddr || (role === "" ? (before?.remoteAddr ?? "") : "");
    const remotePort = ends.remotePort || (role === "" ? (before?.remotePort ?? 0) : 0);
    const unmapped = unmapTuple(type, localAddr, remoteAddr);
    type = unmapped.type;
    localAddr = unmapped.localAddr || (type === "ipv6" ? "::" : type === "ipv4" ? "0.0.0.0" : "");
    remoteAddr = unmapped.remoteAddr;
    const l4 = l4protoOf(ends.sockType, ends.protocol) || before?.l4proto || "";
    return {
      num: fd,
      type,
      name: tupleName(role, localAddr, localPort, remoteAddr, remotePort),
      openFlags: before?.openFlags ?? 0,
      ino: before?.ino ?? 0,
      l4proto: type === "ipv4" || type === "ipv6" ? l4 : "",
      localAddr,
      localPort,
      remoteAddr,
      remotePort,
      role: role || before?.role || "",
      connected: before?.connected ?? false,
    };
  }
}

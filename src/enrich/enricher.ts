import type { SensorEvent, SyscallEvent } from "../decode/events.js";
import { ANON_DESCRIPTORS } from "./descriptor-syscalls.js";
import type { EnrichedEvent } from "./enriched-event.js";
import type { FdInfo } from "./fd-info.js";
import { FdTable, O_CLOEXEC, type SocketEnds } from "./fd-table.js";
import type { ProcessInfo, UserLookup } from "./process-info.js";
import type { ProcessTable } from "./process-table.js";

/** How many lookups the state tables could not answer, by Falco field family. */
export interface EnrichmentMisses {
  readonly process: number;
  readonly fd: number;
  readonly user: number;
  readonly container: number;
}

const CLONE_FILES = 0x400;
const AF_UNIX = 1;
/** fcntl(2) commands that return a new descriptor. */
const F_DUPFD = 0;
const F_DUPFD_CLOEXEC = 1030;

/** socket(2)'s type argument, whether the decoder gives it as a number or its name. */
function numberOf(v: string | number | undefined): number {
  return typeof v === "number" ? v : 0;
}

/**
 * The ends of a socket syscall: the kernel's tuple (both ends read from
 * struct sock at exit) first, the sockaddr argument for what the tuple lacks
 * (a unix path, the peer of an unconnected datagram).
 */
function endsOf(ev: SyscallEvent, role: "client" | "server" | ""): SocketEnds {
  const t = ev.tuple;
  const addr = ev.args.addr;
  const family = t?.family || addr?.family || 0;
  if (family === AF_UNIX) {
    // The kernel's tuple holds both paths (own, peer; an accepted socket's own is the listener's);
    // the sockaddr argument names the other end of an unconnected datagram.
    const path = addr?.path ?? "";
    return {
      family,
      localAddr: t?.localAddr || (role === "" ? path : ""),
      localPort: 0,
      remoteAddr: t?.remoteAddr || (role === "" ? "" : path),
      remotePort: 0,
      sockType: t?.sockType ?? 0,
      protocol: t?.protocol ?? 0,
    };
  }
  // For bind the address is ours; for the others (accept's peer, a datagram's destination or source) it is the peer's.
  const local = role === "";
  return {
    family,
    localAddr: t?.localAddr || (local ? (addr?.addr ?? "") : ""),
    localPort: t?.localPort || (local ? (addr?.port ?? 0) : 0),
    remoteAddr: t?.remoteAddr || (local ? "" : (addr?.addr ?? "")),
    remotePort: t?.remotePort || (local ? 0 : (addr?.port ?? 0)),
    sockType: t?.sockType ?? 0,
    protocol: t?.protocol ?? 0,
  };
}

/** A UserLookup that counts the ids it had no name for. */
class CountingUsers implements UserLookup {
  misses = 0;
  constructor(private readonly inner: UserLookup) {}
  userName(uid: number): string | undefined {
    const name = this.inner.userName(uid);
    if (name === undefined) this.misses++;
    return name;
  }
  groupName(gid: number): string | undefined {
    const name = this.inner.groupName(gid);
    if (name === undefined) this.misses++;
    return name;
  }
}

/**
 * Applies an event to the state tables and pairs it with them for the rules.
 * Whatever creates state (exec, fork, open, socket, connect, dup …) updates
 * the tables before the rules see the event, so e.fd is the new descriptor;
 * whatever destroys it (close, exit) waits until after (see afterRules), so
 * a close's e.fd is the descriptor as it was.
 */
export class Enricher {
  readonly fds: FdTable;
  private readonly countingUsers: CountingUsers;

  constructor(
    readonly processes: ProcessTable,
    users: UserLookup,
    readonly hostname: string,
    fds?: FdTable,
  ) {
    this.fds = fds ?? new FdTable({ source: processes.source });
    this.countingUsers = new CountingUsers(users);
  }

  get users(): UserLookup {
    return this.countingUsers;
  }

  /** Lookups that found nothing since start (peregrine_enrichment_misses_total). */
  misses(): EnrichmentMisses {
    return {
      process: this.processes.misses,
      fd: this.fds.misses,
      user: this.countingUsers.misses,
      container: this.processes.containerMisses,
    };
  }

  enrich(event: SensorEvent): EnrichedEvent {
    const pid = event.tgid;
    this.fds.eventNs = event.tsNs;
    let process: ProcessInfo | undefined;
    let fd: FdInfo | undefined;
    switch (event.kind) {
      case "exec":
        process = this.processes.onExec(event);
        this.fds.onExec(pid);
        break;
      case "fork":
        this.processes.onFork(event);
        if (!event.isThread) {
          this.fds.onFork(pid, event.childTgid, ((event.cloneFlags ?? 0) & CLONE_FILES) !== 0);
        }
        break;
      case "open":
        process = this.processes.get(pid);
        if (event.ret >= 0) {
          fd = this.fds.onOpen(pid, event.ret, event.path, event.dirfd, event.openFlags, process?.cwd ?? "");
        }
        break;
      case "connect":
        fd = this.fds.onConnect(pid, event.fd, event.ret, {
          family: event.family,
          localAddr: event.saddr,
          localPort: event.sport,
          remoteAddr: event.daddr,
          remotePort: event.dport,
          sockType: event.sockType,
          protocol: event.protocol,
        });
        break;
      case "syscall":
        fd = this.applySyscall(event);
        break;
      default:
        break;
    }
    return {
      event,
      process: process ?? this.processes.get(pid),
      fd,
      fds: this.fds,
      processes: this.processes,
      users: this.countingUsers,
      hostname: this.hostname,
    };
  }

  /** State changes that must wait until the rules have seen the event. */
  afterRules(event: SensorEvent): void {
    if (event.kind === "exit") {
      this.processes.onExit(event);
      this.fds.onExit(event.tgid);
    } else if (event.kind === "syscall" && event.evtType === "close") {
      // Linux frees the number whatever close returns (EBADF: it was not open anyway).
      const fd = event.args.fd;
      if (fd !== undefined) this.fds.onClose(event.tgid, fd);
    } else if (event.kind === "syscall" && event.evtType === "close_range" && event.ret === 0) {
      const a = event.args;
      this.fds.onCloseRange(event.tgid, a.first ?? 0, a.last ?? 0, a.flags ?? 0);
    }
  }

  /**
   * Applies a syscall's effect on the tables and returns the event's fd: the
   * one it created (socket, accept, dup, memfd_create, bpf, userfaultfd), or
   * the one it used (bind, listen, send/recv, fchmod …, close before the
   * close). Failed calls change nothing.
   */
  private applySyscall(ev: SyscallEvent): FdInfo | undefined {
    const pid = ev.tgid;
    const a = ev.args;
    // The commonest syscall record, ahead of the switch's string comparisons (as its default below).
    if (ev.evtType === "close") return a.fd === undefined || a.fd < 0 ? undefined : this.fds.get(pid, a.fd);
    const ok = ev.ret >= 0;
    switch (ev.evtType) {
      case "socket":
        return ok ? this.fds.onSocket(pid, ev.ret, a.domain ?? 0, numberOf(a.type), a.proto ?? 0) : undefined;
      case "accept":
      case "accept4":
        if (!ok) return a.fd === undefined ? undefined : this.fds.get(pid, a.fd);
        return this.fds.onAccept(pid, ev.ret, endsOf(ev, "server"), a.fd ?? -1, a.flags ?? 0);
      case "bind":
        if (a.fd === undefined) return undefined;
        return ok ? this.fds.onBind(pid, a.fd, endsOf(ev, "")) : this.fds.get(pid, a.fd);
      case "sendto":
      case "sendmsg":
      case "recvfrom":
      case "recvmsg": {
        // Descriptors received with SCM_RIGHTS are new numbers of this process.
        if (ok && a.fds !== undefined && a.fds.length > 0) this.fds.onAcquired(pid, a.fds, false);
        if (a.fd === undefined) return undefined;
        if (!ok || a.addr === undefined || a.addr.family === AF_UNIX) return this.fds.get(pid, a.fd);
        const sending = ev.evtType === "sendto" || ev.evtType === "sendmsg";
        return this.fds.onDatagram(pid, a.fd, endsOf(ev, sending ? "client" : "server"), sending);
      }
      case "socketpair":
        if (ok && a.fd1 !== undefined && a.fd2 !== undefined) {
          return this.fds.onPair(pid, [a.fd1, a.fd2], "unix", numberOf(a.type) | (a.flags ?? 0))[0];
        }
        return undefined;
      case "dup":
      case "dup2":
      case "dup3": {
        const oldFd = a.oldfd ?? a.fd;
        if (!ok || oldFd === undefined) return undefined;
        return this.fds.onDup(
          pid,
          oldFd,
          ev.ret,
          ev.evtType === "dup3" && ((a.flags ?? 0) & O_CLOEXEC) !== 0,
        );
      }
      case "fcntl":
        // Only F_DUPFD* make a descriptor (the kernel sends the others only to a rule on fcntl).
        if (!ok || (a.cmd !== F_DUPFD && a.cmd !== F_DUPFD_CLOEXEC)) return this.fds.get(pid, a.fd ?? -1);
        return this.fds.onDup(pid, a.fd ?? -1, ev.ret, a.cmd === F_DUPFD_CLOEXEC);
      case "pipe":
      case "pipe2":
        if (!ok || a.fd1 === undefined || a.fd2 === undefined) return undefined;
        return this.fds.onPair(pid, [a.fd1, a.fd2], "pipe", a.flags ?? 0, a.ino ?? 0)[0];
      case "pidfd_getfd":
        // A copy of another process's descriptor (always close-on-exec): what it is, /proc tells.
        return ok ? this.fds.onAcquired(pid, [ev.ret], true) : undefined;
      case "open_by_handle_at":
        return ok
          ? this.fds.onHandleOpen(pid, ev.ret, a.path ?? "", a.flags ?? 0, a.ino ?? 0, a.mode ?? 0)
          : undefined;
      case "close_range":
        return undefined; // applied after the rules (afterRules), like close
      case "memfd_create":
        return ok ? this.fds.onMemfd(pid, ev.ret, a.name ?? "", a.flags ?? 0) : undefined;
      case "bpf":
        // Only some bpf commands return a descriptor (maps, programs, links …); ret 0 is rarely one.
        return ok && ev.ret > 0 ? this.fds.onAnon(pid, ev.ret, "bpf", true) : undefined;
      case "userfaultfd":
        return ok
          ? this.fds.onAnon(pid, ev.ret, "userfaultfd", ((a.flags ?? 0) & O_CLOEXEC) !== 0)
          : undefined;
      case "chdir":
        if (ok && a.path !== undefined) this.processes.onChdir(pid, a.path);
        return undefined;
      case "fchdir": {
        const dir = a.fd === undefined ? undefined : this.fds.get(pid, a.fd);
        if (ok && dir?.name.startsWith("/")) this.processes.onChdir(pid, dir.name);
        return dir;
      }
      case "setuid":
      case "setgid":
      case "setresuid":
      case "setresgid":
      case "setreuid":
      case "setregid":
        if (ok) this.processes.onCredentials(pid, { uid: ev.uid, gid: ev.gid, euid: ev.euid, egid: ev.egid });
        return undefined;
      case "capset":
        if (ok) {
          this.processes.onCredentials(pid, {
            ...(a.cap_effective !== undefined && { capEffective: a.cap_effective }),
            ...(a.cap_permitted !== undefined && { capPermitted: a.cap_permitted }),
            ...(a.cap_inheritable !== undefined && { capInheritable: a.cap_inheritable }),
          });
        }
        return undefined;
      default: {
        // eventfd, signalfd, timerfd, inotify, epoll, pidfd_open, io_uring, … : a new descriptor.
        const anon = ANON_DESCRIPTORS[ev.evtType];
        if (anon !== undefined) {
          if (!ok || anon.makesFd?.(a) === false) return undefined;
          if (anon.returnsGiven?.(a) === true) return this.fds.get(pid, ev.ret);
          return this.fds.onAnon(pid, ev.ret, anon.type, anon.cloexec(a));
        }
        // listen, close (before it closes), fchmod, fchown, … : the fd they name.
        return a.fd === undefined || a.fd < 0 ? undefined : this.fds.get(pid, a.fd);
      }
    }
  }
}

/**
 * What each PG_REC_SYSCALL record means: its evt.type name and how its raw
 * argument registers, aux values and strings become Falco-named arguments
 * (events.ts SyscallArgs). The kernel side (bpf/peregrine.bpf.c,
 * syscall__emit) decides which registers are strings and which sockaddr it
 * reads; this table decides how the rest is typed.
 */
import type { GenericSyscallName, SockAddr, SyscallArgs } from "./events.js";
import { PG_SYSCALL } from "./layout.generated.js";

/** One record's raw parts, filled by the decoder (reused, never kept). */
export interface RawSyscall {
  buf: Buffer;
  /** The same bytes as a DataView (fixed-offset reads without Buffer's per-call checks). */
  view: DataView;
  /** Offset of args[0] (u64 each) and aux[0] in buf. */
  argsAt: number;
  auxAt: number;
  path: string;
  path2: string;
  path3: string;
  addr: SockAddr | undefined;
}

interface SyscallSpec {
  readonly evtType: GenericSyscallName;
  readonly args: (r: RawSyscall) => SyscallArgs;
}

/** Low 32 bits of argument register i, signed (fds, pids, signals) or unsigned (flags, modes, ids). */
const s32 = (r: RawSyscall, i: number): number => r.view.getInt32(r.argsAt + 8 * i, true);
const u32 = (r: RawSyscall, i: number): number => r.view.getUint32(r.argsAt + 8 * i, true);
const auxS32 = (r: RawSyscall, i: number): number => r.view.getInt32(r.auxAt + 8 * i, true);
const auxU64 = (r: RawSyscall, i: number): bigint => r.view.getBigUint64(r.auxAt + 8 * i, true);
/** aux word i as a number (inodes: below 2^53 on every filesystem we meet). */
const auxNum = (r: RawSyscall, i: number): number => Number(auxU64(r, i));
/** The u32 at half h (0 low, 1 high) of aux word i: values packed two per word. */
const auxU32 = (r: RawSyscall, i: number, h: 0 | 1): number =>
  r.view.getUint32(r.auxAt + 8 * i + 4 * h, true);
const auxHalfS32 = (r: RawSyscall, i: number, h: 0 | 1): number =>
  r.view.getInt32(r.auxAt + 8 * i + 4 * h, true);

const NO_FDS: readonly number[] = Object.freeze([]);
/** recvmsg's SCM_RIGHTS descriptors: up to five s32 in aux, their count in the high half of aux[2]. */
function receivedFds(r: RawSyscall): readonly number[] {
  const n = Math.min(auxU32(r, 2, 1), 5);
  if (n === 0) return NO_FDS;
  const fds: number[] = [];
  for (let i = 0; i < n; i++) fds.push(auxHalfS32(r, i >> 1, (i & 1) as 0 | 1));
  return fds;
}

const NO_ADDR: SockAddr = { family: 0, addr: "", port: 0, path: "" };
const addrOf = (r: RawSyscall): SockAddr => r.addr ?? NO_ADDR;

const SPECS: Readonly<Record<string, SyscallSpec>> = {
  PG_SYS_UNLINK: { evtType: "unlink", args: (r) => ({ path: r.path }) },
  PG_SYS_UNLINKAT: {
    evtType: "unlinkat",
    args: (r) => ({ dirfd: s32(r, 0), name: r.path, flags: u32(r, 2) }),
  },
  PG_SYS_RMDIR: { evtType: "rmdir", args: (r) => ({ path: r.path }) },
  PG_SYS_MKDIR: { evtType: "mkdir", args: (r) => ({ path: r.path, mode: u32(r, 1) }) },
  PG_SYS_MKDIRAT: { evtType: "mkdirat", args: (r) => ({ dirfd: s32(r, 0), path: r.path, mode: u32(r, 2) }) },
  PG_SYS_RENAME: { evtType: "rename", args: (r) => ({ oldpath: r.path, newpath: r.path2 }) },
  PG_SYS_RENAMEAT: {
    evtType: "renameat",
    args: (r) => ({ olddirfd: s32(r, 0), oldpath: r.path, newdirfd: s32(r, 2), newpath: r.path2 }),
  },
  PG_SYS_RENAMEAT2: {
    evtType: "renameat2",
    args: (r) => ({
      olddirfd: s32(r, 0),
      oldpath: r.path,
      newdirfd: s32(r, 2),
      newpath: r.path2,
      flags: u32(r, 4),
    }),
  },
  PG_SYS_LINK: { evtType: "link", args: (r) => ({ oldpath: r.path, newpath: r.path2 }) },
  PG_SYS_LINKAT: {
    evtType: "linkat",
    args: (r) => ({
      olddirfd: s32(r, 0),
      oldpath: r.path,
      newdirfd: s32(r, 2),
      newpath: r.path2,
      flags: u32(r, 4),
    }),
  },
  PG_SYS_SYMLINK: { evtType: "symlink", args: (r) => ({ target: r.path, linkpath: r.path2 }) },
  PG_SYS_SYMLINKAT: {
    evtType: "symlinkat",
    args: (r) => ({ target: r.path, linkdirfd: s32(r, 1), linkpath: r.path2 }),
  },
  PG_SYS_CHMOD: { evtType: "chmod", args: (r) => ({ filename: r.path, mode: u32(r, 1) }) },
  PG_SYS_FCHMOD: { evtType: "fchmod", args: (r) => ({ fd: s32(r, 0), mode: u32(r, 1) }) },
  PG_SYS_FCHMODAT: {
    evtType: "fchmodat",
    args: (r) => ({ dirfd: s32(r, 0), filename: r.path, mode: u32(r, 2) }),
  },
  PG_SYS_CHOWN: { evtType: "chown", args: (r) => ({ path: r.path, uid: u32(r, 1), gid: u32(r, 2) }) },
  PG_SYS_FCHOWN: { evtType: "fchown", args: (r) => ({ fd: s32(r, 0), uid: u32(r, 1), gid: u32(r, 2) }) },
  PG_SYS_FCHOWNAT: {
    evtType: "fchownat",
    args: (r) => ({ dirfd: s32(r, 0), pathname: r.path, uid: u32(r, 2), gid: u32(r, 3), flags: u32(r, 4) }),
  },
  PG_SYS_LCHOWN: { evtType: "lchown", args: (r) => ({ path: r.path, uid: u32(r, 1), gid: u32(r, 2) }) },
  PG_SYS_EXECVE: { evtType: "execve", args: (r) => ({ filename: r.path }) },
  PG_SYS_EXECVEAT: {
    evtType: "execveat",
    args: (r) => ({ dirfd: s32(r, 0), pathname: r.path, flags: u32(r, 4) }),
  },
  PG_SYS_SETUID: { evtType: "setuid", args: (r) => ({ uid: u32(r, 0) }) },
  PG_SYS_SETGID: { evtType: "setgid", args: (r) => ({ gid: u32(r, 0) }) },
  PG_SYS_SETRESUID: {
    evtType: "setresuid",
    args: (r) => ({ ruid: u32(r, 0), euid: u32(r, 1), suid: u32(r, 2) }),
  },
  PG_SYS_SETRESGID: {
    evtType: "setresgid",
    args: (r) => ({ rgid: u32(r, 0), egid: u32(r, 1), sgid: u32(r, 2) }),
  },
  PG_SYS_SETREUID: { evtType: "setreuid", args: (r) => ({ ruid: u32(r, 0), euid: u32(r, 1) }) },
  PG_SYS_SETREGID: { evtType: "setregid", args: (r) => ({ rgid: u32(r, 0), egid: u32(r, 1) }) },
  PG_SYS_CAPSET: {
    evtType: "capset",
    args: (r) => ({
      cap_effective: auxU64(r, 0),
      cap_permitted: auxU64(r, 1),
      cap_inheritable: auxU64(r, 2),
    }),
  },
  PG_SYS_PTRACE: { evtType: "ptrace", args: (r) => ({ request: s32(r, 0), pid: s32(r, 1) }) },
  PG_SYS_PRCTL: { evtType: "prctl", args: (r) => ({ option: s32(r, 0) }) },
  PG_SYS_SETNS: { evtType: "setns", args: (r) => ({ fd: s32(r, 0), nstype: s32(r, 1) }) },
  PG_SYS_UNSHARE: { evtType: "unshare", args: (r) => ({ flags: u32(r, 0) }) },
  PG_SYS_KILL: { evtType: "kill", args: (r) => ({ pid: s32(r, 0), sig: s32(r, 1) }) },
  PG_SYS_TKILL: { evtType: "tkill", args: (r) => ({ tid: s32(r, 0), sig: s32(r, 1) }) },
  PG_SYS_TGKILL: { evtType: "tgkill", args: (r) => ({ pid: s32(r, 0), tid: s32(r, 1), sig: s32(r, 2) }) },
  PG_SYS_MEMFD_CREATE: { evtType: "memfd_create", args: (r) => ({ name: r.path, flags: u32(r, 1) }) },
  PG_SYS_INIT_MODULE: { evtType: "init_module", args: () => ({}) },
  PG_SYS_FINIT_MODULE: { evtType: "finit_module", args: (r) => ({ fd: s32(r, 0), flags: u32(r, 2) }) },
  PG_SYS_DELETE_MODULE: { evtType: "delete_module", args: (r) => ({ name: r.path, flags: u32(r, 1) }) },
  PG_SYS_BPF: { evtType: "bpf", args: (r) => ({ cmd: s32(r, 0) }) },
  PG_SYS_USERFAULTFD: { evtType: "userfaultfd", args: (r) => ({ flags: u32(r, 0) }) },
  PG_SYS_MOUNT: {
    evtType: "mount",
    args: (r) => ({ dev: r.path, dir: r.path2, type: r.path3, flags: u32(r, 3) }),
  },
  PG_SYS_UMOUNT2: { evtType: "umount2", args: (r) => ({ name: r.path, flags: u32(r, 1) }) },
  PG_SYS_CHDIR: { evtType: "chdir", args: (r) => ({ path: r.path }) },
  PG_SYS_FCHDIR: { evtType: "fchdir", args: (r) => ({ fd: s32(r, 0) }) },
  PG_SYS_SOCKET: {
    evtType: "socket",
    args: (r) => ({ domain: s32(r, 0), type: s32(r, 1), proto: s32(r, 2) }),
  },
  PG_SYS_ACCEPT: { evtType: "accept", args: (r) => ({ fd: s32(r, 0), addr: addrOf(r) }) },
  PG_SYS_ACCEPT4: { evtType: "accept4", args: (r) => ({ fd: s32(r, 0), addr: addrOf(r), flags: u32(r, 3) }) },
  PG_SYS_BIND: { evtType: "bind", args: (r) => ({ fd: s32(r, 0), addr: addrOf(r) }) },
  PG_SYS_LISTEN: { evtType: "listen", args: (r) => ({ fd: s32(r, 0), backlog: s32(r, 1) }) },
  PG_SYS_SENDTO: { evtType: "sendto", args: (r) => ({ fd: s32(r, 0), addr: addrOf(r) }) },
  PG_SYS_SENDMSG: { evtType: "sendmsg", args: (r) => ({ fd: s32(r, 0), addr: addrOf(r) }) },
  PG_SYS_RECVFROM: { evtType: "recvfrom", args: (r) => ({ fd: s32(r, 0), addr: addrOf(r) }) },
  PG_SYS_RECVMSG: {
    evtType: "recvmsg",
    args: (r) => ({ fd: s32(r, 0), addr: addrOf(r), fds: receivedFds(r) }),
  },
  PG_SYS_SOCKETPAIR: {
    evtType: "socketpair",
    args: (r) => ({
      domain: s32(r, 0),
      type: s32(r, 1),
      proto: s32(r, 2),
      fd1: auxS32(r, 0),
      fd2: auxS32(r, 1),
    }),
  },
  PG_SYS_DUP: { evtType: "dup", args: (r) => ({ oldfd: s32(r, 0) }) },
  PG_SYS_DUP2: { evtType: "dup2", args: (r) => ({ oldfd: s32(r, 0), newfd: s32(r, 1) }) },
  PG_SYS_DUP3: { evtType: "dup3", args: (r) => ({ oldfd: s32(r, 0), newfd: s32(r, 1), flags: u32(r, 2) }) },
  PG_SYS_CLOSE: { evtType: "close", args: (r) => ({ fd: s32(r, 0) }) },
  // Descriptor-making syscalls (peregrine_wire.h, 70-95), Falco's parameters where it has an event.
  PG_SYS_PIPE: {
    evtType: "pipe",
    args: (r) => ({ fd1: auxS32(r, 0), fd2: auxS32(r, 1), ino: auxNum(r, 2) }),
  },
  PG_SYS_PIPE2: {
    evtType: "pipe2",
    args: (r) => ({ fd1: auxS32(r, 0), fd2: auxS32(r, 1), ino: auxNum(r, 2), flags: u32(r, 1) }),
  },
  PG_SYS_EVENTFD: { evtType: "eventfd", args: (r) => ({ initval: u32(r, 0), flags: 0 }) },
  PG_SYS_EVENTFD2: { evtType: "eventfd2", args: (r) => ({ flags: u32(r, 1), initval: u32(r, 0) }) },
  PG_SYS_SIGNALFD: { evtType: "signalfd", args: (r) => ({ fd: s32(r, 0), mask: auxU32(r, 0, 0), flags: 0 }) },
  PG_SYS_SIGNALFD4: {
    evtType: "signalfd4",
    args: (r) => ({ flags: u32(r, 3), fd: s32(r, 0), mask: auxU32(r, 0, 0) }),
  },
  PG_SYS_TIMERFD_CREATE: {
    evtType: "timerfd_create",
    args: (r) => ({ clockid: s32(r, 0), flags: u32(r, 1) }),
  },
  PG_SYS_INOTIFY_INIT: { evtType: "inotify_init", args: () => ({ flags: 0 }) },
  PG_SYS_INOTIFY_INIT1: { evtType: "inotify_init1", args: (r) => ({ flags: u32(r, 0) }) },
  PG_SYS_EPOLL_CREATE: { evtType: "epoll_create", args: (r) => ({ size: s32(r, 0) }) },
  PG_SYS_EPOLL_CREATE1: { evtType: "epoll_create1", args: (r) => ({ flags: u32(r, 0) }) },
  PG_SYS_PIDFD_OPEN: { evtType: "pidfd_open", args: (r) => ({ pid: s32(r, 0), flags: u32(r, 1) }) },
  PG_SYS_PIDFD_GETFD: {
    evtType: "pidfd_getfd",
    args: (r) => ({ pid_fd: s32(r, 0), target_fd: s32(r, 1), flags: u32(r, 2) }),
  },
  PG_SYS_FCNTL: { evtType: "fcntl", args: (r) => ({ fd: s32(r, 0), cmd: s32(r, 1) }) },
  PG_SYS_OPEN_BY_HANDLE_AT: {
    evtType: "open_by_handle_at",
    // The path the kernel read from the opened file's dentries; its inode and mode from aux.
    args: (r) => ({
      mountfd: s32(r, 0),
      flags: u32(r, 2),
      path: r.path,
      ino: auxNum(r, 0),
      mode: auxU32(r, 1, 0),
    }),
  },
  PG_SYS_IO_URING_SETUP: {
    evtType: "io_uring_setup",
    args: (r) => ({
      entries: u32(r, 0),
      sq_entries: auxU32(r, 0, 0),
      cq_entries: auxU32(r, 0, 1),
      flags: auxU32(r, 1, 0),
      sq_thread_cpu: auxU32(r, 1, 1),
      sq_thread_idle: auxU32(r, 2, 0),
      features: auxU32(r, 2, 1),
    }),
  },
  PG_SYS_CLOSE_RANGE: {
    evtType: "close_range",
    args: (r) => ({ first: u32(r, 0), last: u32(r, 1), flags: u32(r, 2) }),
  },
  PG_SYS_PERF_EVENT_OPEN: { evtType: "perf_event_open", args: (r) => ({ flags: u32(r, 4) }) },
  PG_SYS_FANOTIFY_INIT: { evtType: "fanotify_init", args: (r) => ({ flags: u32(r, 0) }) },
  PG_SYS_MEMFD_SECRET: { evtType: "memfd_secret", args: (r) => ({ flags: u32(r, 0) }) },
  PG_SYS_MQ_OPEN: { evtType: "mq_open", args: () => ({}) },
  PG_SYS_FSOPEN: { evtType: "fsopen", args: (r) => ({ flags: u32(r, 1) }) },
  PG_SYS_FSMOUNT: { evtType: "fsmount", args: (r) => ({ flags: u32(r, 1) }) },
  PG_SYS_FSPICK: { evtType: "fspick", args: (r) => ({ flags: u32(r, 2) }) },
  PG_SYS_OPEN_TREE: { evtType: "open_tree", args: (r) => ({ flags: u32(r, 2) }) },
  PG_SYS_LANDLOCK_CREATE_RULESET: { evtType: "landlock_create_ruleset", args: (r) => ({ flags: u32(r, 2) }) },
};

/**
 * Indexed by enum pg_syscall id: the spec of every id a PG_REC_SYSCALL
 * record may carry (undefined for open*, connect and the sched events,
 * which have records of their own).
 */
export const SYSCALL_SPECS: readonly (SyscallSpec | undefined)[] = (() => {
  const out: (SyscallSpec | undefined)[] = [];
  for (const [cName, spec] of Object.entries(SPECS)) {
    const id = (PG_SYSCALL as Record<string, number>)[cName];
    if (id === undefined) throw new Error(`syscall-args: ${cName} is not in enum pg_syscall`);
    if (`PG_SYS_${spec.evtType.toUpperCase()}` !== cName) {
      throw new Error(`syscall-args: ${cName} is named ${spec.evtType}`);
    }
    out[id] = spec;
  }
  return out;
})();

/** enum pg_syscall id of every evt.type the sensor can produce (Falco name → id). */
export const SYSCALL_IDS: ReadonlyMap<string, number> = new Map(
  Object.entries(PG_SYSCALL)
    .filter(([cName, id]) => cName.startsWith("PG_SYS_") && id > 0 && cName !== "PG_SYS_MAX")
    .map(([cName, id]) => [cName.slice("PG_SYS_".length).toLowerCase(), id]),
);

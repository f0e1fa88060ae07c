/**
 * Typed events, as the decoder produces them from wire records
 * (bpf/include/peregrine_wire.h). Every stage after decode sees only these.
 *
 * Times are epoch nanoseconds (bigint: boot time + the kernel's boot clock),
 * so they keep nanosecond precision for OTLP.
 */

/** evt.type names of the syscalls carried by SyscallEvent, by family (Falco's names). */
export const FILE_SYSCALLS = [
  "unlink",
  "unlinkat",
  "rmdir",
  "mkdir",
  "mkdirat",
  "rename",
  "renameat",
  "renameat2",
  "link",
  "linkat",
  "symlink",
  "symlinkat",
  "chmod",
  "fchmod",
  "fchmodat",
  "chown",
  "fchown",
  "fchownat",
  "lchown",
] as const;
export const PROCESS_SYSCALLS = [
  /** Only failed execve/execveat come as SyscallEvent; a successful one is an ExecEvent. */
  "execve",
  "execveat",
  "setuid",
  "setgid",
  "setresuid",
  "setresgid",
  "setreuid",
  "setregid",
  "capset",
  "ptrace",
  "prctl",
  "setns",
  "unshare",
  "kill",
  "tkill",
  "tgkill",
  "memfd_create",
  "init_module",
  "finit_module",
  "delete_module",
  "bpf",
  "userfaultfd",
  "mount",
  "umount2",
  "chdir",
  "fchdir",
] as const;
export const NETWORK_SYSCALLS = [
  "socket",
  "accept",
  "accept4",
  "bind",
  "listen",
  "sendto",
  "sendmsg",
  "recvfrom",
  "recvmsg",
  "socketpair",
  "dup",
  "dup2",
  "dup3",
  "close",
] as const;
/**
 * Syscalls that make a descriptor that is neither a file path nor a socket
 * (or, close_range, drop a range of them): the fd table follows them so
 * that a number reused after a close it was not sent never keeps the
 * closed file's name. Falco's event table has the first sixteen (with
 * parameters); the others are its generic events (evt.type = the name,
 * no parameters).
 */
export const DESCRIPTOR_SYSCALLS = [
  "pipe",
  "pipe2",
  "eventfd",
  "eventfd2",
  "signalfd",
  "signalfd4",
  "timerfd_create",
  "inotify_init",
  "inotify_init1",
  "epoll_create",
  "epoll_create1",
  "pidfd_open",
  "pidfd_getfd",
  "fcntl",
  "open_by_handle_at",
  "io_uring_setup",
  "close_range",
  "perf_event_open",
  "fanotify_init",
  "memfd_secret",
  "mq_open",
  "fsopen",
  "fsmount",
  "fspick",
  "open_tree",
  "landlock_create_ruleset",
] as const;

/** evt.type of a SyscallEvent. */
export type GenericSyscallName =
  | (typeof FILE_SYSCALLS)[number]
  | (typeof PROCESS_SYSCALLS)[number]
  | (typeof NETWORK_SYSCALLS)[number]
  | (typeof DESCRIPTOR_SYSCALLS)[number];

/** Falco's evt.type names for everything the sensor records. */
export type SyscallName = SensorEvent["evtType"];

interface EventCommon {
  /** Epoch nanoseconds of the kernel event. */
  readonly tsNs: bigint;
  /** Process id (the kernel's tgid). */
  readonly tgid: number;
  /** Thread id. */
  readonly tid: number;
  /** enum pg_record_flags bits (PG_F_TRUNCATED, PG_F_THREAD). */
  readonly recordFlags: number;
}

/** A process image was replaced (execve/execveat succeeded). */
export interface ExecEvent extends EventCommon {
  readonly kind: "exec";
  /** Falco's name for it: the syscall that replaced the image. */
  readonly evtType: "execve" | "execveat";
  readonly ppid: number;
  readonly uid: number;
  readonly gid: number;
  readonly euid: number;
  readonly egid: number;
  /** Audit login uid; 4294967295 (-1) when unset. */
  readonly loginuid: number;
  readonly cgroupId: bigint;
  /** Task start time, epoch ns. */
  readonly startNs: bigint;
  /** Kernel comm (at most 15 bytes). */
  readonly comm: string;
  /** The path given to execve. */
  readonly filename: string;
  /** argv, argv[0] included. */
  readonly argv: readonly string[];
  // The fields below are always set by the decoder (schema >= 2); they are
  // optional only so that hand-built events in tests need not carry them.
  /** Controlling tty as /proc/<pid>/stat tty_nr encodes it; 0 = none. */
  readonly tty?: number;
  /** Session id and process group id (host pid namespace). */
  readonly sid?: number;
  readonly pgid?: number;
  /** pid (tgid) inside the process's own pid namespace. */
  readonly vpid?: number;
  /** Capability sets after exec, 64-bit masks. */
  readonly capEffective?: bigint;
  readonly capPermitted?: bigint;
  readonly capInheritable?: bigint;
  /** Inode number of the executed file. */
  readonly exeIno?: number;
  /** Executed file's inode ctime/mtime, epoch ns. */
  readonly exeCtimeNs?: bigint;
  readonly exeMtimeNs?: bigint;
  /** The executed file lives on an overlayfs upper layer (written in the container). */
  readonly exeUpperLayer?: boolean;
  /** The executed file is a memfd (memfd_create), i.e. has no path on disk. */
  readonly exeFromMemfd?: boolean;
}

/** A task was created. tgid/tid are the parent's. */
export interface ForkEvent extends EventCommon {
  readonly kind: "fork";
  /** The syscall that created it. */
  readonly evtType: "clone" | "clone3" | "fork" | "vfork";
  /** CLONE_* flags (fork: SIGCHLD; vfork: CLONE_VM|CLONE_VFORK|SIGCHLD). Set by the decoder (schema >= 2). */
  readonly cloneFlags?: number;
  readonly childTgid: number;
  readonly childTid: number;
  /** Child start time, epoch ns. */
  readonly childStartNs: bigint;
  /** The new task is a thread of the parent's process, not a new process. */
  readonly isThread: boolean;
}

/** A whole thread group exited. */
export interface ExitEvent extends EventCommon {
  readonly kind: "exit";
  readonly evtType: "procexit";
  /** wait(2) status: (code << 8) | signal. */
  readonly exitCode: number;
}

/** open/openat/openat2/creat returned. */
export interface OpenEvent extends EventCommon {
  readonly kind: "open";
  readonly evtType: "open" | "openat" | "openat2" | "creat";
  /** The fd, or -errno. */
  readonly ret: number;
  /** O_* flags. */
  readonly openFlags: number;
  readonly mode: number;
  /** -100 (AT_FDCWD) for open/creat. */
  readonly dirfd: number;
  /** The path exactly as the caller passed it. */
  readonly path: string;
}

/** connect returned. */
export interface ConnectEvent extends EventCommon {
  readonly kind: "connect";
  readonly evtType: "connect";
  /** 0, or -errno (-115 EINPROGRESS for a non-blocking socket). */
  readonly ret: number;
  readonly fd: number;
  /** 1 unix, 2 inet, 10 inet6. */
  readonly family: number;
  /** Destination address as text (dotted quad, or RFC 5952 IPv6; AF_UNIX: the path, "@name" when abstract); "" if none. */
  readonly daddr: string;
  readonly dport: number;
  /** Local address as text; "" when the kernel had not bound one. */
  readonly saddr: string;
  readonly sport: number;
  /** SOCK_STREAM 1, SOCK_DGRAM 2, … */
  readonly sockType: number;
  /** IPPROTO_TCP 6, IPPROTO_UDP 17, … (0 when unknown). */
  readonly protocol: number;
}

/** A socket address as the caller passed it (or the kernel returned it). */
export interface SockAddr {
  /** 1 unix, 2 inet, 10 inet6, other AF_* as is. */
  readonly family: number;
  /** IP address as text (dotted quad, RFC 5952 IPv6); "" for unix. */
  readonly addr: string;
  readonly port: number;
  /** AF_UNIX path; abstract names start with "@"; "" otherwise. */
  readonly path: string;
}

/**
 * Both ends of a socket, read from the kernel's struct sock at syscall exit.
 * Addresses "" and ports 0 when unbound/unconnected. For AF_UNIX the
 * addresses are paths ("@name" for abstract ones): the socket's own (for an
 * accepted socket, the listener's) and its peer's.
 */
export interface SocketTuple {
  readonly family: number;
  /** SOCK_STREAM 1, SOCK_DGRAM 2, … */
  readonly sockType: number;
  /** IPPROTO_TCP 6, IPPROTO_UDP 17, … */
  readonly protocol: number;
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
}

/**
 * Arguments of a SyscallEvent, named as in Falco's event table (evt.arg.<name>).
 * A syscall sets exactly the ones Falco lists for it (see SYSCALL_ARG_NAMES).
 * fds/dirfds are signed (AT_FDCWD = -100); paths are as the caller passed
 * them: relative ones are resolved in userspace against cwd/dirfd.
 */
export interface SyscallArgs {
  readonly fd?: number;
  readonly dirfd?: number;
  readonly olddirfd?: number;
  readonly newdirfd?: number;
  readonly linkdirfd?: number;
  readonly oldfd?: number;
  readonly newfd?: number;
  readonly fd1?: number;
  readonly fd2?: number;
  /** pidfd_getfd: the pidfd and the descriptor number in that process. */
  readonly pid_fd?: number;
  readonly target_fd?: number;
  /** open_by_handle_at: the descriptor of the mount the handle is on. */
  readonly mountfd?: number;
  readonly path?: string;
  readonly name?: string;
  readonly filename?: string;
  readonly pathname?: string;
  readonly oldpath?: string;
  readonly newpath?: string;
  readonly target?: string;
  readonly linkpath?: string;
  /** mount: source device, mount point, filesystem type. */
  readonly dev?: string;
  readonly dir?: string;
  readonly type?: string | number;
  readonly flags?: number;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly ruid?: number;
  readonly euid?: number;
  readonly suid?: number;
  readonly rgid?: number;
  readonly egid?: number;
  readonly sgid?: number;
  readonly cap_effective?: bigint;
  readonly cap_permitted?: bigint;
  readonly cap_inheritable?: bigint;
  /** ptrace request, prctl option, bpf cmd. */
  readonly request?: number;
  readonly option?: number;
  readonly cmd?: number;
  readonly pid?: number;
  readonly tid?: number;
  readonly sig?: number;
  readonly nstype?: number;
  readonly domain?: number;
  readonly proto?: number;
  readonly backlog?: number;
  /** pipe/pipe2: the pipe's inode; open_by_handle_at: the opened file's (not a Falco parameter there). */
  readonly ino?: number;
  /** eventfd*: the counter's initial value; signalfd*: the first 32 signals of the mask. */
  readonly initval?: number;
  readonly mask?: number;
  /** timerfd_create's clock; epoll_create's size hint. */
  readonly clockid?: number;
  readonly size?: number;
  /** io_uring_setup: what the kernel wrote back into io_uring_params. */
  readonly entries?: number;
  readonly sq_entries?: number;
  readonly cq_entries?: number;
  readonly sq_thread_cpu?: number;
  readonly sq_thread_idle?: number;
  readonly features?: number;
  /** close_range: the first and last number of the range (not Falco parameters: a generic event there). */
  readonly first?: number;
  readonly last?: number;
  /** recvmsg: the descriptors received with SCM_RIGHTS (at most 5; not a Falco parameter). */
  readonly fds?: readonly number[];
  /** The sockaddr argument (connect/bind/sendto/sendmsg; recvfrom/recvmsg/accept*: the peer the kernel wrote). */
  readonly addr?: SockAddr;
  /** The credentials after the call (set*id, capset): uid/gid are in their own names above. */
}

/**
 * Any other syscall the sensor records, at exit, with its return value.
 * `args` holds what Falco's event of that type carries; `tuple` both ends of
 * the socket for socket syscalls (accept*: of the new socket).
 */
export interface SyscallEvent extends EventCommon {
  readonly kind: "syscall";
  readonly evtType: GenericSyscallName;
  /** Return value: >= 0 on success (an fd for socket/accept/dup/memfd_create/bpf/userfaultfd and the DESCRIPTOR_SYSCALLS other than pipe, pipe2 and close_range), -errno on failure. */
  readonly ret: number;
  readonly args: SyscallArgs;
  readonly tuple: SocketTuple | undefined;
  /** Credentials of the calling thread at exit (after set*id took effect). */
  readonly uid: number;
  readonly gid: number;
  readonly euid: number;
  readonly egid: number;
}

/**
 * Which SyscallArgs each SyscallEvent type sets (always all of them; an
 * argument the kernel could not read is 0 / ""). accept/accept4: `fd` is the
 * listening socket, the new one is `ret`; `addr` the peer the kernel wrote.
 */
export const SYSCALL_ARG_NAMES: Readonly<Record<GenericSyscallName, readonly (keyof SyscallArgs)[]>> = {
  unlink: ["path"],
  unlinkat: ["dirfd", "name", "flags"],
  rmdir: ["path"],
  mkdir: ["path", "mode"],
  mkdirat: ["dirfd", "path", "mode"],
  rename: ["oldpath", "newpath"],
  renameat: ["olddirfd", "oldpath", "newdirfd", "newpath"],
  renameat2: ["olddirfd", "oldpath", "newdirfd", "newpath", "flags"],
  link: ["oldpath", "newpath"],
  linkat: ["olddirfd", "oldpath", "newdirfd", "newpath", "flags"],
  symlink: ["target", "linkpath"],
  symlinkat: ["target", "linkdirfd", "linkpath"],
  chmod: ["filename", "mode"],
  fchmod: ["fd", "mode"],
  fchmodat: ["dirfd", "filename", "mode"],
  chown: ["path", "uid", "gid"],
  fchown: ["fd", "uid", "gid"],
  fchownat: ["dirfd", "pathname", "uid", "gid", "flags"],
  lchown: ["path", "uid", "gid"],
  execve: ["filename"],
  execveat: ["dirfd", "pathname", "flags"],
  setuid: ["uid"],
  setgid: ["gid"],
  setresuid: ["ruid", "euid", "suid"],
  setresgid: ["rgid", "egid", "sgid"],
  setreuid: ["ruid", "euid"],
  setregid: ["rgid", "egid"],
  capset: ["cap_inheritable", "cap_permitted", "cap_effective"],
  ptrace: ["request", "pid"],
  prctl: ["option"],
  setns: ["fd", "nstype"],
  unshare: ["flags"],
  kill: ["pid", "sig"],
  tkill: ["tid", "sig"],
  tgkill: ["pid", "tid", "sig"],
  memfd_create: ["name", "flags"],
  init_module: [],
  finit_module: ["fd", "flags"],
  delete_module: ["name", "flags"],
  bpf: ["cmd"],
  userfaultfd: ["flags"],
  mount: ["dev", "dir", "type", "flags"],
  umount2: ["name", "flags"],
  chdir: ["path"],
  fchdir: ["fd"],
  socket: ["domain", "type", "proto"],
  accept: ["fd", "addr"],
  accept4: ["fd", "addr", "flags"],
  bind: ["fd", "addr"],
  listen: ["fd", "backlog"],
  sendto: ["fd", "addr"],
  sendmsg: ["fd", "addr"],
  recvfrom: ["fd", "addr"],
  recvmsg: ["fd", "addr"],
  socketpair: ["domain", "type", "proto", "fd1", "fd2"],
  dup: ["oldfd"],
  dup2: ["oldfd", "newfd"],
  dup3: ["oldfd", "newfd", "flags"],
  close: ["fd"],
  pipe: ["fd1", "fd2", "ino"],
  pipe2: ["fd1", "fd2", "ino", "flags"],
  eventfd: ["initval", "flags"],
  eventfd2: ["flags", "initval"],
  signalfd: ["fd", "mask", "flags"],
  signalfd4: ["flags", "fd", "mask"],
  timerfd_create: ["clockid", "flags"],
  inotify_init: ["flags"],
  inotify_init1: ["flags"],
  epoll_create: ["size"],
  epoll_create1: ["flags"],
  pidfd_open: ["pid", "flags"],
  pidfd_getfd: ["pid_fd", "target_fd", "flags"],
  fcntl: ["fd", "cmd"],
  open_by_handle_at: ["mountfd", "flags", "path"],
  io_uring_setup: [
    "entries",
    "sq_entries",
    "cq_entries",
    "flags",
    "sq_thread_cpu",
    "sq_thread_idle",
    "features",
  ],
  close_range: [],
  perf_event_open: [],
  fanotify_init: [],
  memfd_secret: [],
  mq_open: [],
  fsopen: [],
  fsmount: [],
  fspick: [],
  open_tree: [],
  landlock_create_ruleset: [],
};

/**
 * Values a SyscallEvent carries for the state tables only, not as Falco
 * parameters (rules cannot name them): the received descriptors of a
 * recvmsg, the range of a close_range, the flags of generic events (whose
 * close-on-exec bit the fd table needs), open_by_handle_at's inode and mode.
 */
export const SYSCALL_STATE_ARG_NAMES: Readonly<
  Partial<Record<GenericSyscallName, readonly (keyof SyscallArgs)[]>>
> = {
  recvmsg: ["fds"],
  open_by_handle_at: ["ino", "mode"],
  close_range: ["first", "last", "flags"],
  perf_event_open: ["flags"],
  fanotify_init: ["flags"],
  memfd_secret: ["flags"],
  fsopen: ["flags"],
  fsmount: ["flags"],
  fspick: ["flags"],
  open_tree: ["flags"],
  landlock_create_ruleset: ["flags"],
};

/** Every evt.type the sensor can produce (the syscall filter's vocabulary). */
export const SENSOR_EVENT_TYPES: readonly SensorEvent["evtType"][] = [
  "open",
  "openat",
  "openat2",
  "creat",
  "connect",
  "execve",
  "execveat",
  "clone",
  "clone3",
  "fork",
  "vfork",
  "procexit",
  ...FILE_SYSCALLS,
  ...PROCESS_SYSCALLS.filter((n) => n !== "execve" && n !== "execveat"),
  ...NETWORK_SYSCALLS,
  ...DESCRIPTOR_SYSCALLS,
];

/** Everything the kernel reports about a process or a syscall. */
export type SensorEvent = ExecEvent | ForkEvent | ExitEvent | OpenEvent | ConnectEvent | SyscallEvent;

/** Kernel counters summed over CPUs, totals since the programs were loaded. */
export interface KernelStats {
  readonly kind: "stats";
  readonly tsNs: bigint;
  readonly eventsSeen: number;
  readonly eventsEmitted: number;
  readonly ringbufFull: number;
  readonly truncated: number;
  readonly readFailed: number;
  /** Dropped in the kernel by the syscall filter (the rules and state tables do not need them). Schema >= 2. */
  readonly filtered?: number;
  /** Ring-buffer reservation failures by syscall family (sum = ringbufFull). Schema >= 2. */
  readonly ringbufFullByFamily?: Readonly<Record<SyscallFamily, number>>;
}

export type SyscallFamily = "file" | "process" | "network" | "other";

/** What the decoder yields: an event, or a counters snapshot. */
export type DecodedRecord = SensorEvent | KernelStats;

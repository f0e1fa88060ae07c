/**
 * evt.arg.<name> (the argument as Falco renders it, always a string) and
 * evt.rawarg.<name> (its raw typed value) for the events the sensor captures.
 *
 * Every argument Falco's event of that type has is listed: either with what
 * we can answer, or empty (known, but not answerable yet). A rule whose
 * event types include one where its argument is unanswerable fails to load
 * instead of silently never matching.
 */
import type {
  ConnectEvent,
  ExecEvent,
  ExitEvent,
  ForkEvent,
  GenericSyscallName,
  OpenEvent,
  SensorEvent,
  SockAddr,
  SyscallArgs,
  SyscallEvent,
} from "../decode/events.js";
import { SYSCALL_ARG_NAMES } from "../decode/events.js";
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import { resolveAgainst } from "../enrich/path.js";
import { resultName } from "./errno-names.js";
import { openedPath, socketEnds } from "./fd-info.js";
import { FD_TYPECHAR } from "./fd-view.js";
import { openFlagsToPpm, renderOpenFlags } from "./open-flags.js";
import type { FieldType, RuntimeValue } from "./values.js";

export interface ArgDef {
  /** Rendered like Falco renders it (evt.arg.*); absent: not answerable yet. */
  readonly rendered?: (e: EnrichedEvent) => string | undefined;
  /** Raw value (evt.rawarg.*); absent: not answerable yet. */
  readonly raw?: {
    readonly type: FieldType;
    readonly extract: (e: EnrichedEvent) => RuntimeValue | undefined;
  };
}

type ArgTable = Readonly<Record<string, ArgDef>>;

const UNAVAILABLE: ArgDef = {};

// The tables are looked up by the event's own evtType, so these narrowings hold.
const open = (e: EnrichedEvent) => e.event as OpenEvent;
const conn = (e: EnrichedEvent) => e.event as ConnectEvent;
const exec = (e: EnrichedEvent) => e.event as ExecEvent;
const fork = (e: EnrichedEvent) => e.event as ForkEvent;
const exit = (e: EnrichedEvent) => e.event as ExitEvent;

/** PT_ERRNO: the errno's name when negative, else the number. */
function renderErrno(ret: number): string {
  return ret < 0 ? resultName(ret) : String(ret);
}

function unavailable(...names: string[]): ArgTable {
  return Object.fromEntries(names.map((n) => [n, UNAVAILABLE]));
}

const OPEN_COMMON: ArgTable = {
  // The fd opened (or the errno), rendered through the fd table: "<f>/etc/passwd".
  fd: { rendered: (e) => renderFileFd(e, open(e).ret), raw: { type: "number", extract: (e) => open(e).ret } },
  name: { rendered: (e) => openedPath(e), raw: { type: "string", extract: (e) => open(e).path } },
  mode: { raw: { type: "number", extract: (e) => open(e).mode } },
};

const OPEN_FLAGS: ArgDef = {
  rendered: (e) => renderOpenFlags(open(e).openFlags),
  raw: { type: "number", extract: (e) => openFlagsToPpm(open(e).openFlags) },
};

const DIRFD: ArgDef = { raw: { type: "number", extract: (e) => open(e).dirfd } };

// SyscallEvent (kind "syscall"): arguments by Falco's names, straight from e.event.args.
const sys = (e: EnrichedEvent) => e.event as SyscallEvent;
const SYSCALL_RES: ArgDef = {
  rendered: (e) => renderErrno(sys(e).ret),
  raw: { type: "number", extract: (e) => sys(e).ret },
};
function renderSockAddr(a: SockAddr): string {
  if (a.path !== "" || (a.addr === "" && a.port === 0)) return a.path;
  return a.family === 10 ? `[${a.addr}]:${a.port}` : `${a.addr}:${a.port}`;
}
/**
 * A file descriptor argument as libsinsp renders it (PT_FD, resolved): a
 * failed call's errno name, or `<typechar>name` from the fd table — `<f>/etc/passwd`.
 * Sockets (whose text also carries a protocol letter we do not reproduce)
 * and descriptors the fd table does not know have no text: missing.
 */
function renderFileFd(e: EnrichedEvent, fd: number | undefined): string | undefined {
  if (fd === undefined) return undefined;
  if (fd < 0) return resultName(fd);
  const info = e.fd?.num === fd ? e.fd : e.fds.get(e.event.tgid, fd);
  if (info === undefined || info.type === "ipv4" || info.type === "ipv6" || info.type === "unix")
    return undefined;
  return `<${FD_TYPECHAR[info.type] ?? "o"}>${info.name}`;
}

/** Syscalls whose fd argument is a file (not a socket), rendered with renderFileFd. */
const FILE_FD_SYSCALLS = new Set<GenericSyscallName>(["fchmod", "fchown", "fchdir", "finit_module"]);

/** fd arguments: libsinsp renders them through its fd table ("3(<f>/etc/passwd)"); raw values only. */
const FD_ARGS = new Set<keyof SyscallArgs>([
  "fd",
  "dirfd",
  "olddirfd",
  "newdirfd",
  "linkdirfd",
  "oldfd",
  "newfd",
  "fd1",
  "fd2",
  "pid_fd",
  "target_fd",
  "mountfd",
]);

/**
 * Arguments Falco renders as flag or enum names, a signal name or a process
 * (PT_FLAGS*, PT_ENUMFLAGS*, PT_SIGTYPE, PT_PID, hex capability masks) and we
 * do not render yet: raw values only, so a rule on their text is reported
 * instead of comparing with a bare number Falco never shows.
 */
const NAME_RENDERED_ARGS = new Set<keyof SyscallArgs>([
  "flags",
  "option",
  "nstype",
  "sig",
  "tid",
  "cap_effective",
  "cap_permitted",
  "cap_inheritable",
  "mask",
]);

/**
 * Arguments whose raw value Falco gives in its own encoding (an enum or
 * flag table of its own numbering) that we do not reproduce: not
 * answerable, so a rule on them is reported rather than compared with the
 * Linux number.
 */
const FALCO_ENCODED_ARGS: Readonly<Partial<Record<GenericSyscallName, readonly (keyof SyscallArgs)[]>>> = {
  fcntl: ["cmd"],
  epoll_create1: ["flags"],
  io_uring_setup: ["flags", "features"],
};

/** Flag arguments Falco encodes with its open-flags table (file_flags): raw value as PPM flags, like open's. */
const FILE_FLAGS_ARGS = new Set<GenericSyscallName>([
  "pipe2",
  "eventfd2",
  "inotify_init1",
  "open_by_handle_at",
]);

/** Path arguments Falco keeps as given (PT_CHARBUF), by event type. */
const VERBATIM_PATHS: Readonly<Partial<Record<GenericSyscallName, readonly (keyof SyscallArgs)[]>>> = {
  symlink: ["target"],
  symlinkat: ["target"],
  mount: ["dev", "type"],
  chdir: ["path"],
  memfd_create: ["name"],
  delete_module: ["name"],
};

/** Relative paths resolved against a dirfd argument (PT_FSRELPATH); other paths against the cwd (PT_FSPATH). */
const PATH_DIRFD: Readonly<
  Partial<Record<GenericSyscallName, Partial<Record<keyof SyscallArgs, keyof SyscallArgs>>>>
> = {
  unlinkat: { name: "dirfd" },
  mkdirat: { path: "dirfd" },
  renameat: { oldpath: "olddirfd", newpath: "newdirfd" },
  renameat2: { oldpath: "olddirfd", newpath: "newdirfd" },
  linkat: { oldpath: "olddirfd", newpath: "newdirfd" },
  symlinkat: { linkpath: "linkdirfd" },
  fchmodat: { filename: "dirfd" },
  fchownat: { pathname: "dirfd" },
  execveat: { pathname: "dirfd" },
};

const AT_FDCWD = -100;

/** The directory a relative path of this event is relative to: the cwd, or the dirfd's path in the fd table. */
function baseDirectory(e: EnrichedEvent, dirfd: number | undefined): string | undefined {
  if (dirfd === undefined || dirfd === AT_FDCWD) return e.process?.cwd || undefined;
  const dir = e.fds.get(e.event.tgid, dirfd);
  return dir?.name.startsWith("/") ? dir.name : undefined;
}

/** chmod's mode as Falco renders PT_MODE: the set bits' names in its chmod_mode table order. */
const CHMOD_MODE_NAMES: readonly (readonly [string, number])[] = [
  ["S_IXOTH", 0o1],
  ["S_IWOTH", 0o2],
  ["S_IROTH", 0o4],
  ["S_IXGRP", 0o10],
  ["S_IWGRP", 0o20],
  ["S_IRGRP", 0o40],
  ["S_IXUSR", 0o100],
  ["S_IWUSR", 0o200],
  ["S_IRUSR", 0o400],
  ["S_ISVTX", 0o1000],
  ["S_ISGID", 0o2000],
  ["S_ISUID", 0o4000],
];
export function renderChmodMode(mode: number): string {
  return CHMOD_MODE_NAMES.filter(([, bit]) => (mode & bit) !== 0)
    .map(([name]) => name)
    .join("|");
}

/** ptrace requests by Linux number, named as Falco's ptrace_requests table names them. */
const PTRACE_REQUESTS: ReadonlyMap<number, string> = new Map([
  [0, "PTRACE_TRACEME"],
  [1, "PTRACE_PEEKTEXT"],
  [2, "PTRACE_PEEKDATA"],
  [3, "PTRACE_PEEKUSR"],
  [4, "PTRACE_POKETEXT"],
  [5, "PTRACE_POKEDATA"],
  [6, "PTRACE_POKEUSR"],
  [7, "PTRACE_CONT"],
  [8, "PTRACE_KILL"],
  [9, "PTRACE_SINGLESTEP"],
  [16, "PTRACE_ATTACH"],
  [17, "PTRACE_DETACH"],
  [24, "PTRACE_SYSCALL"],
  [0x4200, "PTRACE_SETOPTIONS"],
  [0x4201, "PTRACE_GETEVENTMSG"],
  [0x4202, "PTRACE_GETSIGINFO"],
  [0x4203, "PTRACE_SETSIGINFO"],
  [0x4204, "PTRACE_GETREGSET"],
  [0x4205, "PTRACE_SETREGSET"],
  [0x4206, "PTRACE_SEIZE"],
  [0x4207, "PTRACE_INTERRUPT"],
  [0x4208, "PTRACE_LISTEN"],
  [0x4209, "PTRACE_PEEKSIGINFO"],
  [0x420a, "PTRACE_GETSIGMASK"],
  [0x420b, "PTRACE_SETSIGMASK"],
]);

/**
 * Socket families Falco's rules test for, by Linux number. Others (AF_UNIX,
 * which Falco may print as AF_LOCAL, among them) have no text here: missing.
 */
const SOCKET_FAMILIES: ReadonlyMap<number, string> = new Map([
  [2, "AF_INET"],
  [10, "AF_INET6"],
  [16, "AF_NETLINK"],
  [17, "AF_PACKET"],
]);

/**
 * Flag arguments whose names we know, by event type, in Falco's table order
 * (unlinkat_flags, renameat2_flags, linkat_flags; Linux values). A value
 * with none of them set has no text here (Falco's own text for it is not
 * established): missing.
 */
const FLAG_NAMES: Readonly<Partial<Record<GenericSyscallName, readonly (readonly [string, number])[]>>> = {
  unlinkat: [["AT_REMOVEDIR", 0x200]],
  renameat2: [
    ["RENAME_NOREPLACE", 1],
    ["RENAME_EXCHANGE", 2],
    ["RENAME_WHITEOUT", 4],
  ],
  linkat: [
    ["AT_SYMLINK_FOLLOW", 0x400],
    ["AT_EMPTY_PATH", 0x1000],
  ],
};

function renderFlags(names: readonly (readonly [string, number])[], value: number): string | undefined {
  const set = names.filter(([, bit]) => (value & bit) !== 0).map(([name]) => name);
  return set.length === 0 ? undefined : set.join("|");
}

/** How Falco renders a user/group id argument (PT_UID/PT_GID): the name when known, else the number. */
const UID_ARGS = new Set<keyof SyscallArgs>(["ruid", "euid", "suid"]);
const GID_ARGS = new Set<keyof SyscallArgs>(["rgid", "egid", "sgid"]);

function syscallArg(type: GenericSyscallName, name: keyof SyscallArgs): ArgDef {
  const value = (e: EnrichedEvent) => sys(e).args[name];
  if (FALCO_ENCODED_ARGS[type]?.includes(name) === true) return UNAVAILABLE;
  if (name === "flags" && FILE_FLAGS_ARGS.has(type)) {
    const flags = (e: EnrichedEvent) => sys(e).args.flags;
    return {
      rendered: (e) => {
        const v = flags(e);
        return v === undefined ? undefined : renderOpenFlags(v);
      },
      raw: {
        type: "number",
        extract: (e) => {
          const v = flags(e);
          return v === undefined ? undefined : openFlagsToPpm(v);
        },
      },
    };
  }
  if (type === "open_by_handle_at" && name === "path") {
    // The path the kernel read from the opened file's dentries (absolute); when it could not, the
    // new descriptor's name in the fd table (/proc).
    const path = (e: EnrichedEvent) => {
      const ev = sys(e);
      if (ev.args.path) return ev.args.path;
      const info = ev.ret < 0 ? undefined : e.fd?.num === ev.ret ? e.fd : e.fds.get(e.event.tgid, ev.ret);
      return info?.name || undefined;
    };
    return { rendered: path, raw: { type: "string", extract: path } };
  }
  if (name === "addr") {
    const text = (e: EnrichedEvent) => {
      const a = sys(e).args.addr;
      return a === undefined ? undefined : renderSockAddr(a);
    };
    return { rendered: text, raw: { type: "string", extract: text } };
  }
  const isText = name.endsWith("path") || ["name", "filename", "target", "dev", "dir"].includes(name);
  const isCap = name.startsWith("cap_");
  const scalar = (e: EnrichedEvent) => {
    const v = value(e);
    return v === undefined || typeof v === "object" ? undefined : v;
  };
  const raw = { type: (isText ? "string" : isCap ? "bigint" : "number") as FieldType, extract: scalar };
  const numeric = (e: EnrichedEvent) => {
    const v = scalar(e);
    return typeof v === "number" ? v : undefined;
  };
  if (name === "fd" && FILE_FD_SYSCALLS.has(type)) {
    return {
      rendered: (e) => {
        const v = numeric(e);
        return renderFileFd(e, v);
      },
      raw,
    };
  }
  const flagNames = name === "flags" ? FLAG_NAMES[type] : undefined;
  if (flagNames !== undefined) {
    return {
      rendered: (e) => {
        const v = numeric(e);
        return v === undefined ? undefined : renderFlags(flagNames, v);
      },
      raw,
    };
  }
  if (name === "pid") {
    // PT_PID: the process's comm when the process table knows the pid, else the number.
    return {
      rendered: (e) => {
        const v = numeric(e);
        return v === undefined ? undefined : (e.processes.get(v)?.name ?? String(v));
      },
      raw,
    };
  }
  if (FD_ARGS.has(name) || NAME_RENDERED_ARGS.has(name)) return { raw };
  let rendered: ((e: EnrichedEvent) => string | undefined) | undefined;
  if (isText && !(type === "mount" && name === "type")) {
    const verbatim = VERBATIM_PATHS[type]?.includes(name) ?? false;
    const dirfdArg = PATH_DIRFD[type]?.[name];
    rendered = verbatim
      ? (e) => {
          const v = scalar(e);
          return typeof v === "string" ? v : undefined;
        }
      : (e) => {
          const v = scalar(e);
          if (typeof v !== "string") return undefined;
          const dirfd = dirfdArg === undefined ? undefined : sys(e).args[dirfdArg];
          return resolveAgainst(v, baseDirectory(e, typeof dirfd === "number" ? dirfd : undefined));
        };
  } else if (name === "mode") {
    // chmod's mode is PT_MODE (flag names); mkdir's a hex number whose format we do not reproduce.
    rendered =
      type === "chmod" || type === "fchmod" || type === "fchmodat"
        ? (e) => {
            const v = numeric(e);
            return v === undefined ? undefined : renderChmodMode(v);
          }
        : undefined;
  } else if (name === "request" && type === "ptrace") {
    rendered = (e) => {
      const v = numeric(e);
      return v === undefined ? undefined : PTRACE_REQUESTS.get(v);
    };
  } else if (name === "domain") {
    rendered = (e) => {
      const v = numeric(e);
      return v === undefined ? undefined : SOCKET_FAMILIES.get(v);
    };
  } else if (
    ((name === "uid" || name === "gid") && (type === "setuid" || type === "setgid")) ||
    UID_ARGS.has(name) ||
    GID_ARGS.has(name)
  ) {
    const isGroup = name === "gid" || GID_ARGS.has(name);
    rendered = (e) => {
      const v = numeric(e);
      if (v === undefined) return undefined;
      return (isGroup ? e.users.groupName(v) : e.users.userName(v)) ?? String(v);
    };
  } else if (!isCap) {
    // Plain decimal numbers (PT_UINT32/INT32 PF_DEC): socket type/proto, backlog, bpf cmd, chown uid/gid.
    rendered = (e) => {
      const v = scalar(e);
      return v === undefined ? undefined : String(v);
    };
  }
  return rendered === undefined ? { raw } : { rendered, raw };
}
const SYSCALL_ARGS: Readonly<Record<GenericSyscallName, ArgTable>> = Object.fromEntries(
  Object.entries(SYSCALL_ARG_NAMES).map(([type, names]) => [
    type,
    {
      res: SYSCALL_RES,
      ...Object.fromEntries(names.map((n) => [n, syscallArg(type as GenericSyscallName, n)])),
    },
  ]),
) as unknown as Record<GenericSyscallName, ArgTable>;

// Where Falco's exit event names the descriptor the call returned "fd" (socket, accept*, memfd_create,
// bpf), or returns an fd as "res" (dup*): fd parameters render through libsinsp's fd table, so raw only.
// (Our decoder's accept "fd" is the listening socket, which Falco's accept events do not carry.)
const RETURNED_FD: ArgDef = { raw: { type: "number", extract: (e) => sys(e).ret } };
for (const t of [
  "socket",
  "accept",
  "accept4",
  "memfd_create",
  "bpf",
  "pidfd_open",
  "pidfd_getfd",
] as const) {
  (SYSCALL_ARGS[t] as Record<string, ArgDef>).fd = RETURNED_FD;
}
(SYSCALL_ARGS.open_by_handle_at as Record<string, ArgDef>).fd = RETURNED_FD;
for (const t of [
  "dup",
  "dup2",
  "dup3",
  "eventfd",
  "eventfd2",
  "signalfd",
  "signalfd4",
  "timerfd_create",
  "inotify_init",
  "inotify_init1",
  "fcntl",
] as const) {
  (SYSCALL_ARGS[t] as Record<string, ArgDef>).res = RETURNED_FD;
}

/** Falco's execve and clone exit parameters, in order (see FALCO_PARAMS below): both start with the same 15. */
const PROC_X_HEAD = [
  "res",
  "exe",
  "args",
  "tid",
  "pid",
  "ptid",
  "cwd",
  "fdlimit",
  "pgft_maj",
  "pgft_min",
  "vm_size",
  "vm_rss",
  "vm_swap",
  "comm",
  "cgroups",
] as const;
const EXECVE_X = [
  ...PROC_X_HEAD,
  "env",
  "tty",
  "pgid",
  "loginuid",
  "flags",
  "cap_inheritable",
  "cap_permitted",
  "cap_effective",
  "exe_ino",
  "exe_ino_ctime",
  "exe_ino_mtime",
  "uid",
  "trusted_exepath",
] as const;
const CLONE_X = [...PROC_X_HEAD, "flags", "uid", "gid", "vtid", "vpid", "pidns_init_start_ts"] as const;

/** The execve parameters we answer (a successful exec's record). */
const EXEC_ANSWERED: ArgTable = {
  res: { rendered: () => "0", raw: { type: "number", extract: () => 0 } },
  exe: { rendered: (e) => exec(e).argv[0], raw: { type: "string", extract: (e) => exec(e).argv[0] } },
  comm: { rendered: (e) => exec(e).comm, raw: { type: "string", extract: (e) => exec(e).comm } },
  // execve's enter parameter (PT_FSPATH): the path given, made absolute against the cwd.
  filename: {
    rendered: (e) => {
      const ev = exec(e);
      return ev.evtType === "execve" ? resolveAgainst(ev.filename, e.process?.cwd || undefined) : undefined;
    },
    raw: { type: "string", extract: (e) => (exec(e).evtType === "execve" ? exec(e).filename : undefined) },
  },
  // Falco's execve "uid" argument is the effective uid, a PT_UID: rendered as the user's name when known.
  uid: {
    rendered: (e) => e.users.userName(exec(e).euid) ?? String(exec(e).euid),
    raw: { type: "number", extract: (e) => exec(e).euid },
  },
};

/** Arguments per evt.type, as Falco's exit events define them. */
const BASE_ARGS: Readonly<Record<Exclude<SensorEvent["evtType"], "clone3" | "fork" | "vfork">, ArgTable>> = {
  ...SYSCALL_ARGS,
  open: { ...OPEN_COMMON, flags: OPEN_FLAGS, ...unavailable("dev", "ino") },
  openat: { ...OPEN_COMMON, dirfd: DIRFD, flags: OPEN_FLAGS, ...unavailable("dev", "ino") },
  openat2: { ...OPEN_COMMON, dirfd: DIRFD, flags: OPEN_FLAGS, ...unavailable("resolve") },
  creat: { ...OPEN_COMMON, ...unavailable("dev", "ino") },
  connect: {
    res: { rendered: (e) => renderErrno(conn(e).ret), raw: { type: "number", extract: (e) => conn(e).ret } },
    tuple: {
      rendered: (e) => {
        const s = socketEnds(e);
        return s?.kind === "unix" ? undefined : s?.name;
      },
    },
    fd: { raw: { type: "number", extract: (e) => conn(e).fd } },
  },
  execve: {
    ...EXEC_ANSWERED,
    // Every other parameter, and vpgid and gid, which earlier versions of the event carried.
    ...unavailable(...EXECVE_X.filter((n) => !(n in EXEC_ANSWERED)), "vpgid", "gid"),
  },
  clone: {
    res: { raw: { type: "number", extract: (e) => fork(e).childTid } },
    ...unavailable(...CLONE_X.filter((n) => n !== "res")),
  },
  procexit: {
    status: { raw: { type: "number", extract: (e) => exit(e).exitCode } },
    ...unavailable("ret", "sig", "core", "reaper_tid"),
  },
};
// A successful execveat is an ExecEvent like execve; clone3/fork/vfork are ForkEvents like clone.
const EXEC_ARGS = BASE_ARGS.execve;
const FORK_ARGS = BASE_ARGS.clone;
const ARGS_BY_TYPE: Readonly<Record<SensorEvent["evtType"], ArgTable>> = {
  ...BASE_ARGS,
  clone3: FORK_ARGS,
  fork: FORK_ARGS,
  vfork: FORK_ARGS,
};

/** The table for one event: failed execve/execveat are SyscallEvents, successful ones ExecEvents. */
function argTableOf(e: SensorEvent): ArgTable {
  if (e.kind === "syscall") return SYSCALL_ARGS[e.evtType];
  if (e.kind === "exec") return EXEC_ARGS;
  if (e.kind === "fork") return FORK_ARGS;
  return ARGS_BY_TYPE[e.evtType];
}

export type ArgForm = "rendered" | "raw";

export interface ResolvedArg {
  readonly type: FieldType;
  readonly extract: (e: EnrichedEvent) => RuntimeValue | undefined;
  /** Set when no captured event type has this argument (it is then always missing). */
  readonly warning: string | undefined;
  /** Set when some event type the rule can match has the argument but we cannot answer it there. */
  readonly unsupported: string | undefined;
}

/**
 * Resolves `evt.arg.<name>` / `evt.rawarg.<name>` for the event types a rule
 * can match; `unsupported` names the event types that have the argument
 * when we cannot answer it for them (it is missing on those events).
 */
export function resolveEventArg(
  name: string,
  form: ArgForm,
  eventTypes: (type: string) => boolean,
): ResolvedArg | string {
  return resolveArg(`${form === "raw" ? "evt.rawarg" : "evt.arg"}.${name}`, () => name, form, eventTypes);
}

/**
 * Falco's parameters of each event we capture, in its order: the exit
 * event's parameters, then those of the enter event it does not repeat, as
 * modern libsinsp (exit events only) lays them out (driver/event_table.c:
 * OPENAT_2_X, EXECVE_19_X, CLONE_20_X …; libs' scap converter appends the
 * enter parameters, e.g. socket → fd, domain, type, proto).
 */
const ACCEPT_X = ["fd", "tuple", "queuepct", "queuelen", "queuemax"] as const;
const GENERIC_PARAMS = ["ID", "nativeID"] as const;
export const FALCO_PARAMS: Readonly<Record<SensorEvent["evtType"], readonly string[]>> = {
  open: ["fd", "name", "flags", "mode", "dev", "ino"],
  openat: ["fd", "dirfd", "name", "flags", "mode", "dev", "ino"],
  openat2: ["fd", "dirfd", "name", "flags", "mode", "resolve"],
  creat: ["fd", "name", "mode", "dev", "ino"],
  connect: ["res", "tuple", "fd", "addr"],
  execve: [...EXECVE_X, "filename"],
  execveat: [...EXECVE_X, "dirfd", "pathname"],
  clone: CLONE_X,
  clone3: CLONE_X,
  fork: CLONE_X,
  vfork: CLONE_X,
  procexit: ["status", "ret", "sig", "core", "reaper_tid"],
  unlink: ["res", "path"],
  unlinkat: ["res", "dirfd", "name", "flags"],
  rmdir: ["res", "path"],
  mkdir: ["res", "path", "mode"],
  mkdirat: ["res", "dirfd", "path", "mode"],
  rename: ["res", "oldpath", "newpath"],
  renameat: ["res", "olddirfd", "oldpath", "newdirfd", "newpath"],
  renameat2: ["res", "olddirfd", "oldpath", "newdirfd", "newpath", "flags"],
  link: ["res", "oldpath", "newpath"],
  linkat: ["res", "olddir", "oldpath", "newdir", "newpath", "flags"],
  symlink: ["res", "target", "linkpath"],
  symlinkat: ["res", "target", "linkdirfd", "linkpath"],
  chmod: ["res", "filename", "mode"],
  fchmod: ["res", "fd", "mode"],
  fchmodat: ["res", "dirfd", "filename", "mode"],
  chown: ["res", "path", "uid", "gid"],
  lchown: ["res", "path", "uid", "gid"],
  fchown: ["res", "fd", "uid", "gid"],
  fchownat: ["res", "dirfd", "pathname", "uid", "gid", "flags"],
  setuid: ["res", "uid"],
  setgid: ["res", "gid"],
  setresuid: ["res", "ruid", "euid", "suid"],
  setresgid: ["res", "rgid", "egid", "sgid"],
  setreuid: ["res", "ruid", "euid"],
  setregid: ["res", "rgid", "egid"],
  capset: ["res", "cap_inheritable", "cap_permitted", "cap_effective"],
  ptrace: ["res", "addr", "data", "request", "pid"],
  prctl: ["res", "option", "arg2_str", "arg2_int"],
  setns: ["res", "fd", "nstype"],
  unshare: ["res", "flags"],
  kill: ["res", "pid", "sig"],
  tkill: ["res", "tid", "sig"],
  tgkill: ["res", "pid", "tid", "sig"],
  memfd_create: ["fd", "name", "flags"],
  init_module: ["res", "img", "length", "uargs"],
  finit_module: ["res", "fd", "uargs", "flags"],
  delete_module: ["res", "name", "flags"],
  bpf: ["fd", "cmd"],
  userfaultfd: ["res", "flags"],
  mount: ["res", "dev", "dir", "type", "flags"],
  umount2: ["res", "name", "flags"],
  chdir: ["res", "path"],
  fchdir: ["res", "fd"],
  socket: ["fd", "domain", "type", "proto"],
  accept: ACCEPT_X,
  accept4: [...ACCEPT_X, "flags"],
  bind: ["res", "addr", "fd"],
  listen: ["res", "fd", "backlog"],
  sendto: ["res", "data", "fd", "size", "tuple"],
  sendmsg: ["res", "data", "fd", "size", "tuple"],
  recvfrom: ["res", "data", "tuple", "fd", "size"],
  recvmsg: ["res", "size", "data", "tuple", "msgcontrol", "fd"],
  socketpair: ["res", "fd1", "fd2", "source", "peer", "domain", "type", "proto"],
  dup: ["res", "oldfd"],
  dup2: ["res", "oldfd", "newfd", "fd"],
  dup3: ["res", "oldfd", "newfd", "flags", "fd"],
  close: ["res", "fd"],
  pipe: ["res", "fd1", "fd2", "ino"],
  pipe2: ["res", "fd1", "fd2", "ino", "flags"],
  eventfd: ["res", "initval", "flags"],
  eventfd2: ["res", "flags", "initval"],
  signalfd: ["res", "fd", "mask", "flags"],
  signalfd4: ["res", "flags", "fd", "mask"],
  timerfd_create: ["res", "clockid", "flags"],
  inotify_init: ["res", "flags"],
  inotify_init1: ["res", "flags"],
  epoll_create: ["res", "size"],
  epoll_create1: ["res", "flags"],
  pidfd_open: ["fd", "pid", "flags"],
  pidfd_getfd: ["fd", "pid_fd", "target_fd", "flags"],
  fcntl: ["res", "fd", "cmd"],
  open_by_handle_at: ["fd", "mountfd", "flags", "path"],
  io_uring_setup: [
    "res",
    "entries",
    "sq_entries",
    "cq_entries",
    "flags",
    "sq_thread_cpu",
    "sq_thread_idle",
    "features",
  ],
  // Falco's generic events (no event of their own): the syscall's id, nothing else.
  close_range: GENERIC_PARAMS,
  perf_event_open: GENERIC_PARAMS,
  fanotify_init: GENERIC_PARAMS,
  memfd_secret: GENERIC_PARAMS,
  mq_open: GENERIC_PARAMS,
  fsopen: GENERIC_PARAMS,
  fsmount: GENERIC_PARAMS,
  fspick: GENERIC_PARAMS,
  open_tree: GENERIC_PARAMS,
  landlock_create_ruleset: GENERIC_PARAMS,
};

/** Where Falco's parameter name and the one our tables use differ. */
const PARAM_ALIASES: Readonly<Partial<Record<SensorEvent["evtType"], Readonly<Record<string, string>>>>> = {
  linkat: { olddir: "olddirfd", newdir: "newdirfd" },
};

function positionalName(evtType: SensorEvent["evtType"], index: number): string | undefined {
  const name = FALCO_PARAMS[evtType][index];
  return name === undefined ? undefined : (PARAM_ALIASES[evtType]?.[name] ?? name);
}

/**
 * `evt.arg[N]` / `evt.rawarg[N]`: the event's Nth parameter in Falco's order
 * (FALCO_PARAMS), answered like the named argument it is.
 */
export function resolvePositionalArg(
  index: number,
  form: ArgForm,
  eventTypes: (type: string) => boolean,
): ResolvedArg | string {
  return resolveArg(
    `${form === "raw" ? "evt.rawarg" : "evt.arg"}[${index}]`,
    (t) => positionalName(t, index),
    form,
    eventTypes,
  );
}

function resolveArg(
  label: string,
  nameFor: (evtType: SensorEvent["evtType"]) => string | undefined,
  form: ArgForm,
  eventTypes: (type: string) => boolean,
): ResolvedArg | string {
  let type: FieldType | undefined;
  const unanswered: string[] = [];
  for (const [evtType, table] of Object.entries(ARGS_BY_TYPE)) {
    const name = nameFor(evtType as SensorEvent["evtType"]);
    const def = name === undefined ? undefined : table[name];
    if (def === undefined || !eventTypes(evtType)) continue;
    const answer = form === "raw" ? def.raw : def.rendered;
    if (answer === undefined) {
      unanswered.push(evtType);
      continue;
    }
    const t: FieldType = form === "raw" ? (def.raw?.type ?? "string") : "string";
    if (type !== undefined && type !== t) {
      return `${label} has different types on the event types this rule can match (${type}, ${t}): restrict evt.type`;
    }
    type = t;
  }
  const unsupported =
    unanswered.length === 0
      ? undefined
      : `${label} of ${unanswered.join("/")} events is not available yet (not collected or not rendered like Falco does)`;
  const extract = (e: EnrichedEvent): RuntimeValue | undefined => {
    const name = nameFor(e.event.evtType);
    const def = name === undefined ? undefined : argTableOf(e.event)[name];
    if (def === undefined) return undefined;
    return form === "raw" ? def.raw?.extract(e) : def.rendered?.(e);
  };
  if (type === undefined) {
    return {
      type: "string",
      extract: () => undefined,
      warning:
        unsupported === undefined
          ? `${label} is not an argument of any event type this rule can match that the sensor captures; it is always missing`
          : undefined,
      unsupported,
    };
  }
  return { type, extract, warning: undefined, unsupported };
}

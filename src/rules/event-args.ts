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
import { resultName } from "./errno-names.js";
import { openedPath, socketEnds } from "./fd-info.js";
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
  // fd arguments render through libsinsp's fd table ("3(<f>/etc/passwd)"), which we do not keep yet.
  fd: { raw: { type: "number", extract: (e) => open(e).ret } },
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
function syscallArg(name: keyof SyscallArgs): ArgDef {
  const value = (e: EnrichedEvent) => sys(e).args[name];
  if (name === "addr") {
    const text = (e: EnrichedEvent) => {
      const a = sys(e).args.addr;
      return a === undefined ? undefined : renderSockAddr(a);
    };
    return { rendered: text, raw: { type: "string", extract: text } };
  }
  const isText = name.endsWith("path") || ["name", "filename", "target", "dev", "dir"].includes(name);
  const isCap = name.startsWith("cap_");
  return {
    rendered: (e) => {
      const v = value(e);
      return v === undefined || typeof v === "object" ? undefined : String(v);
    },
    raw: {
      type: isText ? "string" : isCap ? "bigint" : "number",
      extract: (e) => {
        const v = value(e);
        return v === undefined || typeof v === "object" ? undefined : v;
      },
    },
  };
}
const SYSCALL_ARGS: Readonly<Record<GenericSyscallName, ArgTable>> = Object.fromEntries(
  Object.entries(SYSCALL_ARG_NAMES).map(([type, names]) => [
    type,
    { res: SYSCALL_RES, ...Object.fromEntries(names.map((n) => [n, syscallArg(n)])) },
  ]),
) as unknown as Record<GenericSyscallName, ArgTable>;

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
    res: { rendered: () => "0", raw: { type: "number", extract: () => 0 } },
    exe: { rendered: (e) => exec(e).argv[0], raw: { type: "string", extract: (e) => exec(e).argv[0] } },
    comm: { rendered: (e) => exec(e).comm, raw: { type: "string", extract: (e) => exec(e).comm } },
    // Falco's execve "uid" argument is the effective uid.
    uid: { rendered: (e) => String(exec(e).euid), raw: { type: "number", extract: (e) => exec(e).euid } },
    ...unavailable(
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
      "cgroups",
      "env",
      "tty",
      "vpgid",
      "pgid",
      "loginuid",
      "flags",
      "cap_inheritable",
      "cap_permitted",
      "cap_effective",
      "exe_ino",
      "exe_ino_ctime",
      "exe_ino_mtime",
      "trusted_exepath",
      "gid",
      "filename",
    ),
  },
  clone: {
    res: { raw: { type: "number", extract: (e) => fork(e).childTid } },
    ...unavailable(
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
      "flags",
      "uid",
      "gid",
      "vtid",
      "vpid",
      "pidns_init_start_ts",
    ),
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
  const field = form === "raw" ? "evt.rawarg" : "evt.arg";
  let type: FieldType | undefined;
  const unanswered: string[] = [];
  for (const [evtType, table] of Object.entries(ARGS_BY_TYPE)) {
    const def = table[name];
    if (def === undefined || !eventTypes(evtType)) continue;
    const answer = form === "raw" ? def.raw : def.rendered;
    if (answer === undefined) {
      unanswered.push(evtType);
      continue;
    }
    type ??= form === "raw" ? (def.raw?.type ?? "string") : "string";
  }
  const unsupported =
    unanswered.length === 0
      ? undefined
      : `${field}.${name} of ${unanswered.join("/")} events is not available yet (not collected or not rendered like Falco does)`;
  const extract = (e: EnrichedEvent): RuntimeValue | undefined => {
    const def = argTableOf(e.event)[name];
    if (def === undefined) return undefined;
    return form === "raw" ? def.raw?.extract(e) : def.rendered?.(e);
  };
  if (type === undefined) {
    return {
      type: "string",
      extract: () => undefined,
      warning:
        unsupported === undefined
          ? `${field}.${name} is not an argument of any event type this rule can match that the sensor captures; it is always missing`
          : undefined,
      unsupported,
    };
  }
  return { type, extract, warning: undefined, unsupported };
}

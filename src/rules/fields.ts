/**
 * The field registry: every Falco field Peregrine can answer, with its type
 * and how to extract it from an enriched event, plus the Falco fields it
 * cannot answer yet (a rule using one fails to load, naming the reason,
 * instead of silently never matching).
 *
 * A field may take an argument: an index (`proc.aname[2]`; without one it
 * matches any ancestor) or a name (`evt.arg.flags`, `evt.arg[flags]`).
 * Adding a field is adding an entry to FIELD_TABLE.
 */
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { ContainerInfo, ProcessInfo } from "../enrich/process-info.js";
import { resultName } from "./errno-names.js";
import { type ArgForm, resolveEventArg, resolvePositionalArg } from "./event-args.js";
import { eventNumber } from "./event-sequence.js";
import { CAPTURED, type EventTypeSet, setContains } from "./event-types.js";
import { FD_TYPECHAR, type FdView, fdView } from "./fd-view.js";
import { EXEC_MODE_BITS, mayCreate, opensForRead, opensForWrite } from "./open-flags.js";
import { ancestorAt, parentOf, someAncestor } from "./process-ancestry.js";
import { environText, environValue, processEnviron } from "./process-env.js";
import type { FieldType, RuntimeValue } from "./values.js";

export type Extractor = (e: EnrichedEvent) => RuntimeValue | undefined;

/** A field with its argument applied: what the compiler and the output formatter use. */
export interface BoundField {
  /** As written: "proc.aname[2]", "evt.arg.flags". */
  readonly name: string;
  readonly type: FieldType;
  readonly extract: Extractor;
  /** For multi-valued fields (proc.aname without index): true when `test` holds for some value. */
  readonly anyOf: ((e: EnrichedEvent, test: (v: RuntimeValue) => boolean) => boolean) | undefined;
  /** Multi-valued without an index: usable in conditions only, not in outputs. */
  readonly filterOnly: boolean;
  /** Costly to extract (string building, table walks): worth caching per event. */
  readonly costly: boolean;
  /** Output text when it differs from String(value) (evt.time). */
  readonly render: ((v: RuntimeValue) => string) | undefined;
  /** A caveat to report once per rule that uses the field. */
  readonly warning: string | undefined;
  /**
   * Why some events this rule can match cannot answer the field (it is
   * missing there): a load error, or a report when the caller asked for
   * reports (BindingOptions.onUnsupported).
   */
  readonly unsupported?: string;
}

/** What a field binding may depend on besides its argument. */
export interface BindContext {
  /** The event types of the rule the field is used in (ALL for outputs of rules that match everything). */
  readonly eventTypes: EventTypeSet;
}

/** none; index: `[N]`; name: `.name` (evt.arg.flags) or `[name]`; key: `[NAME]` only (proc.env[HOME]). */
export type ArgumentKind = "none" | "index" | "name" | "key";

export interface FieldEntry {
  readonly name: string;
  readonly type: FieldType;
  readonly description: string;
  readonly argument: ArgumentKind;
  /** Binds the argument (undefined when none was written); a string is an error message. */
  bind(arg: string | undefined, ctx: BindContext): BoundField | string;
}

export interface UnsupportedField {
  readonly name: string;
  readonly reason: string;
}

// ---------------------------------------------------------------------------
// Entry builders

interface PlainSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly description: string;
  readonly extract: Extractor;
  readonly costly?: boolean;
  readonly render?: (v: RuntimeValue) => string;
  readonly warning?: string;
}

function plain(spec: PlainSpec): FieldEntry {
  const bound: BoundField = {
    name: spec.name,
    type: spec.type,
    extract: spec.extract,
    anyOf: undefined,
    filterOnly: false,
    costly: spec.costly ?? false,
    render: spec.render,
    warning: spec.warning,
  };
  return {
    name: spec.name,
    type: spec.type,
    description: spec.description,
    argument: "none",
    bind: (arg) => (arg === undefined ? bound : `field '${spec.name}' does not take an argument`),
  };
}

interface IndexedSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly description: string;
  readonly at: (e: EnrichedEvent, index: number) => RuntimeValue | undefined;
  /** Without an index: does some value satisfy the test? */
  readonly any: (e: EnrichedEvent, test: (v: RuntimeValue) => boolean) => boolean;
}

function indexed(spec: IndexedSpec): FieldEntry {
  return {
    name: spec.name,
    type: spec.type,
    description: spec.description,
    argument: "index",
    bind(arg) {
      if (arg === undefined) {
        return {
          name: spec.name,
          type: spec.type,
          extract: () => undefined,
          anyOf: spec.any,
          filterOnly: true,
          costly: false,
          render: undefined,
          warning: undefined,
        };
      }
      if (!/^\d+$/.test(arg)) return `field '${spec.name}' needs a numeric index, not '${arg}'`;
      const index = Number(arg);
      return {
        name: `${spec.name}[${arg}]`,
        type: spec.type,
        extract: (e) => spec.at(e, index),
        anyOf: undefined,
        filterOnly: false,
        costly: true,
        render: undefined,
        warning: undefined,
      };
    },
  };
}

function eventArgEntry(name: string, form: ArgForm, description: string): FieldEntry {
  return {
    name,
    type: form === "raw" ? "number" : "string",
    description,
    argument: "name",
    bind(arg, ctx) {
      if (arg === undefined) return `field '${name}' needs an argument name: ${name}.<name>`;
      const captured = (t: string) => CAPTURED.has(t) && setContains(ctx.eventTypes, t);
      if (/^\d+$/.test(arg)) {
        // Positions follow Falco's parameter order for each event type (event-args.ts FALCO_PARAMS).
        const resolved = resolvePositionalArg(Number(arg), form, captured);
        if (typeof resolved === "string") return resolved;
        return {
          name: `${name}[${arg}]`,
          type: resolved.type,
          extract: resolved.extract,
          anyOf: undefined,
          filterOnly: false,
          costly: form === "rendered",
          render: undefined,
          warning: resolved.warning,
          ...(resolved.unsupported !== undefined && { unsupported: resolved.unsupported }),
        };
      }
      const resolved = resolveEventArg(arg, form, captured);
      if (typeof resolved === "string") return resolved;
      return {
        name: `${name}.${arg}`,
        type: resolved.type,
        extract: resolved.extract,
        anyOf: undefined,
        filterOnly: false,
        // Rendering builds strings (O_RDONLY|O_CLOEXEC): once per event, however many rules ask.
        costly: form === "rendered",
        render: undefined,
        warning: resolved.warning,
        ...(resolved.unsupported !== undefined && { unsupported: resolved.unsupported }),
      };
    },
  };
}

/** proc.env (the whole environment, "A=1 B=2") and proc.env[NAME] (one value). */
function procEnvEntry(): FieldEntry {
  const description =
    "The process's environment as 'NAME=value NAME2=value2', or with [NAME] one variable's value; read from /proc/<pid>/environ when first needed (missing once the process is gone, and in replays).";
  const bound = (name: string, extract: Extractor): BoundField => ({
    name,
    type: "string",
    extract,
    anyOf: undefined,
    filterOnly: false,
    costly: true,
    render: undefined,
    warning: undefined,
  });
  return {
    name: "proc.env",
    type: "string",
    description,
    argument: "key",
    bind(arg) {
      if (arg === undefined) {
        return bound("proc.env", (e) => {
          const env = processEnviron(e);
          return env === undefined ? undefined : environText(env);
        });
      }
      if (arg === "") return "field 'proc.env' needs a variable name inside '[…]'";
      return bound(`proc.env[${arg}]`, (e) => {
        const env = processEnviron(e);
        return env === undefined ? undefined : environValue(env, arg);
      });
    },
  };
}

// ---------------------------------------------------------------------------
// Extraction helpers

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

/** Falco's proc.args: the arguments after argv[0], joined by spaces. */
function argsOf(p: ProcessInfo): string {
  return p.argv.slice(1).join(" ");
}

/** Falco's proc.cmdline: proc.name followed by the arguments. */
function cmdlineOf(p: ProcessInfo): string {
  const args = argsOf(p);
  return args === "" ? p.name : `${p.name} ${args}`;
}

function parent(e: EnrichedEvent): ProcessInfo | undefined {
  return e.process === undefined ? undefined : parentOf(e.process, e.processes);
}

/** The return value of a syscall event; undefined for events without one. */
function returnValue(e: EnrichedEvent): number | undefined {
  const ev = e.event;
  switch (ev.kind) {
    case "open":
    case "connect":
    case "syscall":
      return ev.ret;
    case "exec":
      return 0;
    case "fork":
      return ev.childTid;
    case "exit":
      return undefined;
  }
}

const UNSET_LOGINUID = 4294967295;

/** libsinsp's user.loginuid is signed: an unset audit uid reads as -1. */
function loginuid(p: ProcessInfo): number {
  return p.loginuid === UNSET_LOGINUID ? -1 : p.loginuid;
}

/** evt.time as Falco prints it: local wall-clock time with nanoseconds. */
export function renderEventTime(v: RuntimeValue): string {
  const ns = typeof v === "bigint" ? v : BigInt(String(v));
  const d = new Date(Number(ns / 1_000_000n));
  const pad = (n: number) => String(n).padStart(2, "0");
  const frac = String(ns % 1_000_000_000n).padStart(9, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${frac}`;
}

/** path.lastIndexOf("/") without the call into the runtime String#lastIndexOf makes (~40 ns for a short path). */
function lastSlash(path: string): number {
  for (let i = path.length - 1; i >= 0; i--) if (path.charCodeAt(i) === 0x2f) return i;
  return -1;
}

// The last path split (fd.directory, fd.filename): a file opened again and again (or
// both fields of one event) slices it once. Strings compare by value, so the memo is exact.
let splitPath = "";
let splitDir = "/";
let splitBase = "";

function splitLast(path: string): void {
  if (path === splitPath) return;
  const i = lastSlash(path);
  splitDir = i <= 0 ? "/" : path.slice(0, i);
  splitBase = path.slice(i + 1);
  splitPath = path;
}

function dirname(path: string): string {
  splitLast(path);
  return splitDir;
}

function basename(path: string): string {
  splitLast(path);
  return splitBase;
}

/**
 * fdView(e).path, without building the view when the fd table knows the
 * descriptor (fd-view.ts fromTable): the guard index reads fd.directory and
 * fd.filename on every open.
 */
function filePath(e: EnrichedEvent): string | undefined {
  const fd = e.fd;
  if (fd === undefined) return fdView(e).path;
  return (fd.type === "file" || fd.type === "directory") && fd.name.charCodeAt(0) === 0x2f
    ? fd.name
    : undefined;
}

/** An fd.* field answered from the event's fd view (fd table, or the event itself). */
function fdField(
  name: string,
  type: FieldType,
  description: string,
  pick: (v: FdView, e: EnrichedEvent) => RuntimeValue | undefined,
  costly = false,
): FieldEntry {
  return plain({ name, type, description, extract: (e) => pick(fdView(e), e), costly });
}

/** Linux capability names by bit, as Falco prints them in thread.cap_*. */
const CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/** A capability mask as Falco renders it: the set capabilities' names, space-separated. */
export function capabilityNames(mask: bigint): string {
  const names: string[] = [];
  for (let bit = 0; bit < CAPABILITIES.length; bit++) {
    if ((mask >> BigInt(bit)) & 1n) names.push(CAPABILITIES[bit] as string);
  }
  return names.join(" ");
}

/** Memoized per mask: most processes share a handful of capability sets. */
const capNameCache = new Map<bigint, string>();
function capabilities(mask: bigint | undefined): string | undefined {
  if (mask === undefined) return undefined;
  let s = capNameCache.get(mask);
  if (s === undefined) {
    s = capabilityNames(mask);
    if (capNameCache.size < 1024) capNameCache.set(mask, s);
  }
  return s;
}

/** The session leader: the nearest ancestor (or the process) whose pid is the session id. */
function sessionLeader(e: EnrichedEvent): ProcessInfo | undefined {
  const p = e.process;
  if (p === undefined || p.sid <= 0) return undefined;
  let cur: ProcessInfo | undefined = p;
  for (let depth = 0; cur !== undefined && depth < 64; depth++) {
    if (cur.pid === p.sid) return cur;
    cur = parentOf(cur, e.processes);
  }
  return e.processes.get(p.sid);
}

const positiveNs = (v: bigint | undefined): bigint | undefined =>
  v === undefined || v <= 0n ? undefined : v;

const PROCESS_STATE_FIELDS: readonly FieldEntry[] = [
  plain({
    name: "proc.tty",
    type: "number",
    description: "Controlling terminal device number; 0 when the process has none.",
    extract: (e) => e.process?.tty,
  }),
  plain({
    name: "proc.sid",
    type: "number",
    description: "Session id.",
    extract: (e) => (e.process === undefined || e.process.sid <= 0 ? undefined : e.process.sid),
  }),
  plain({
    name: "proc.sname",
    type: "string",
    description: "proc.name of the session leader.",
    extract: (e) => sessionLeader(e)?.name,
    costly: true,
  }),
  plain({
    name: "proc.is_sid_leader",
    type: "boolean",
    description: "True when the process leads its session (proc.sid = proc.pid).",
    extract: (e) =>
      e.process === undefined || e.process.sid <= 0 ? undefined : e.process.sid === e.process.pid,
  }),
  plain({
    name: "proc.vpgid",
    type: "number",
    description: "Process group id.",
    extract: (e) => (e.process === undefined || e.process.pgid <= 0 ? undefined : e.process.pgid),
  }),
  plain({
    name: "proc.is_vpgid_leader",
    type: "boolean",
    description: "True when the process leads its process group.",
    extract: (e) =>
      e.process === undefined || e.process.pgid <= 0 ? undefined : e.process.pgid === e.process.pid,
  }),
  plain({
    name: "proc.vpid",
    type: "number",
    description: "pid as seen in the process's own pid namespace (1 for a container's init).",
    extract: (e) => (e.process === undefined || e.process.vpid <= 0 ? undefined : e.process.vpid),
  }),
  plain({
    name: "proc.pvpid",
    type: "number",
    description: "Parent's proc.vpid.",
    extract: (e) => {
      const p = parent(e);
      return p === undefined || p.vpid <= 0 ? undefined : p.vpid;
    },
    costly: true,
  }),
  plain({
    name: "proc.exe_ino",
    type: "number",
    description: "Inode number of the executable.",
    extract: (e) => (e.process === undefined || e.process.exeIno === 0 ? undefined : e.process.exeIno),
  }),
  plain({
    name: "proc.exe_ino.ctime",
    type: "bigint",
    description: "Inode change time of the executable, epoch ns.",
    extract: (e) => positiveNs(e.process?.exeCtimeNs),
  }),
  plain({
    name: "proc.exe_ino.mtime",
    type: "bigint",
    description: "Modification time of the executable, epoch ns.",
    extract: (e) => positiveNs(e.process?.exeMtimeNs),
  }),
  plain({
    name: "proc.exe_ino.ctime_duration_proc_start",
    type: "bigint",
    description:
      "Nanoseconds from the executable's inode change to the process start (small: a freshly dropped binary).",
    extract: (e) => {
      const p = e.process;
      if (p === undefined || p.exeCtimeNs <= 0n || p.startNs <= 0n) return undefined;
      return p.startNs - p.exeCtimeNs;
    },
  }),
  plain({
    name: "proc.is_exe_upper_layer",
    type: "boolean",
    description:
      "True when the executable lives in an overlayfs upper layer (written after the container started).",
    extract: (e) => e.process?.exeUpperLayer,
  }),
  plain({
    name: "proc.is_exe_from_memfd",
    type: "boolean",
    description: "True when the executable is a memfd (fileless execution).",
    extract: (e) => e.process?.exeFromMemfd,
  }),
  plain({
    name: "thread.cap_effective",
    type: "string",
    description: "Effective capabilities, names separated by spaces (CAP_SYS_ADMIN …).",
    extract: (e) => capabilities(e.process?.capEffective),
  }),
  plain({
    name: "thread.cap_permitted",
    type: "string",
    description: "Permitted capabilities, names separated by spaces.",
    extract: (e) => capabilities(e.process?.capPermitted),
  }),
  plain({
    name: "thread.cap_inheritable",
    type: "string",
    description: "Inheritable capabilities, names separated by spaces.",
    extract: (e) => capabilities(e.process?.capInheritable),
  }),
  plain({
    name: "evt.hostname",
    type: "string",
    description: "Name of the host the sensor runs on.",
    extract: (e) => nonEmpty(e.hostname),
  }),
];

/** Image reference → repository (no tag, no digest): "docker.io/library/nginx:1.25" → "docker.io/library/nginx". */
export function imageRepository(image: string): string {
  const at = image.indexOf("@");
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = noDigest.lastIndexOf(":");
  return colon > noDigest.lastIndexOf("/") ? noDigest.slice(0, colon) : noDigest;
}

function imageTag(image: string): string | undefined {
  const at = image.indexOf("@");
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = noDigest.lastIndexOf(":");
  return colon > noDigest.lastIndexOf("/") ? noDigest.slice(colon + 1) : undefined;
}

const container = (e: EnrichedEvent) => e.process?.container;
const k8s = (e: EnrichedEvent) => e.process?.container.k8s;

/** Said by Docker/Podman's inspect only: a caveat every rule using these fields gets. */
const RUNTIME_ONLY =
  "answered from the Docker/Podman API once it has answered for the container; missing for containerd and CRI-O containers, on the host, and in replays";

/** The container's runtime facts, unless the process runs on the host. */
function inContainer(e: EnrichedEvent): ContainerInfo | undefined {
  const c = container(e);
  return c === undefined || c.id === "host" ? undefined : c;
}

/**
 * libsinsp's pidns_init_start_ts: the start of the process's pid namespace
 * init, i.e. of the nearest ancestor (or the process) whose vpid is 1.
 */
function pidnsInitStart(e: EnrichedEvent): bigint | undefined {
  let cur = e.process;
  for (let depth = 0; cur !== undefined && depth < 64; depth++) {
    if (cur.vpid === 1) return cur.startNs > 0n ? cur.startNs : undefined;
    cur = parentOf(cur, e.processes);
  }
  return undefined;
}

const CONTAINER_FIELDS: readonly FieldEntry[] = [
  plain({
    name: "container.privileged",
    type: "boolean",
    description: "True when the container runs privileged (the runtime's HostConfig.Privileged).",
    extract: (e) => inContainer(e)?.privileged,
    warning: `container.privileged is ${RUNTIME_ONLY}`,
  }),
  plain({
    name: "container.mounts",
    type: "string",
    description:
      "The container's mounts, space-separated, each 'source:dest:mode:rdrw:propagation' (rdrw true or false).",
    extract: (e) =>
      inContainer(e)
        ?.mounts?.map((m) => `${m.source}:${m.dest}:${m.mode}:${m.rw ? "true" : "false"}:${m.propagation}`)
        .join(" "),
    costly: true,
    warning: `container.mounts is ${RUNTIME_ONLY}`,
  }),
  plain({
    name: "container.start_ts",
    type: "bigint",
    description:
      "Start of the container as libsinsp computes it: the start time (epoch ns) of the process's pid namespace init (the nearest ancestor with vpid 1), from the kernel, not the runtime.",
    extract: pidnsInitStart,
    costly: true,
  }),
  plain({
    name: "container.duration",
    type: "bigint",
    description: "Nanoseconds from container.start_ts to the event.",
    extract: (e) => {
      const start = pidnsInitStart(e);
      return start === undefined ? undefined : e.event.tsNs - start;
    },
    costly: true,
  }),
  plain({
    name: "container.id",
    type: "string",
    description: "Container id (12 hex characters), 'host' outside containers.",
    extract: (e) => container(e)?.id,
  }),
  plain({
    name: "container.full_id",
    type: "string",
    description: "The container's full id (64 hex characters); empty on the host.",
    extract: (e) => nonEmpty(container(e)?.fullId),
  }),
  plain({
    name: "container.name",
    type: "string",
    description: "Container name from the runtime, 'host' outside containers.",
    extract: (e) => nonEmpty(container(e)?.name),
  }),
  plain({
    name: "container.type",
    type: "string",
    description: "Container runtime: docker, containerd, cri-o, podman, or host.",
    extract: (e) => nonEmpty(container(e)?.runtime),
  }),
  plain({
    name: "container.image",
    type: "string",
    description: "Container image as the runtime names it (repository:tag).",
    extract: (e) => nonEmpty(container(e)?.image),
  }),
  plain({
    name: "container.image.repository",
    type: "string",
    description: "Container image repository, without tag or digest.",
    extract: (e) => {
      const image = container(e)?.image;
      return image === undefined || image === "" ? undefined : imageRepository(image);
    },
  }),
  plain({
    name: "container.image.tag",
    type: "string",
    description: "Container image tag.",
    extract: (e) => {
      const image = container(e)?.image;
      return image === undefined || image === "" ? undefined : imageTag(image);
    },
  }),
  plain({
    name: "k8s.ns.name",
    type: "string",
    description: "Kubernetes namespace of the pod.",
    extract: (e) => nonEmpty(k8s(e)?.namespace),
  }),
  plain({
    name: "k8s.pod.name",
    type: "string",
    description: "Kubernetes pod name.",
    extract: (e) => nonEmpty(k8s(e)?.podName),
  }),
  plain({
    name: "k8s.pod.uid",
    type: "string",
    description: "Kubernetes pod uid.",
    extract: (e) => nonEmpty(k8s(e)?.podUid),
  }),
  plain({
    name: "k8s.pod.id",
    type: "string",
    description: "Kubernetes pod uid (older name of k8s.pod.uid).",
    extract: (e) => nonEmpty(k8s(e)?.podUid),
  }),
];

// ---------------------------------------------------------------------------
// The table

const FIELD_TABLE: readonly FieldEntry[] = [
  // evt.*
  plain({
    name: "evt.type",
    type: "string",
    description: "Event type: the syscall name (open, connect, execve …).",
    extract: (e) => e.event.evtType,
  }),
  plain({
    name: "evt.time",
    type: "bigint",
    description:
      "Event timestamp, epoch nanoseconds; outputs show it as local time HH:MM:SS.nnnnnnnnn like Falco.",
    extract: (e) => e.event.tsNs,
    render: renderEventTime,
  }),
  plain({
    name: "evt.num",
    type: "number",
    description:
      "Sequence number of the event: 1 for the first event the agent evaluated, counted across rules reloads.",
    extract: eventNumber,
  }),
  plain({
    name: "evt.rawtime",
    type: "bigint",
    description: "Event timestamp, epoch nanoseconds.",
    extract: (e) => e.event.tsNs,
  }),
  plain({
    name: "evt.dir",
    type: "string",
    description:
      "Event direction: always '<' (exit), as the sensor records syscalls at exit like Falco's modern probe.",
    extract: () => "<",
  }),
  plain({
    name: "evt.res",
    type: "string",
    description: "Result: 'SUCCESS', or the errno name ('ENOENT') when the syscall failed.",
    extract: (e) => {
      const r = returnValue(e);
      return r === undefined ? undefined : resultName(r);
    },
  }),
  plain({
    name: "evt.rawres",
    type: "number",
    description: "Raw return value (fd, 0, or -errno).",
    extract: returnValue,
  }),
  plain({
    name: "evt.failed",
    type: "boolean",
    description: "True when the syscall returned an error.",
    extract: (e) => {
      const r = returnValue(e);
      return r === undefined ? undefined : r < 0;
    },
  }),
  plain({
    name: "evt.is_open_read",
    type: "boolean",
    description: "True for open/openat/openat2 with O_RDONLY or O_RDWR (creat is never one, as in Falco).",
    extract: (e) => {
      const ev = e.event;
      return ev.kind === "open" && ev.evtType !== "creat" && opensForRead(ev.openFlags);
    },
  }),
  plain({
    name: "evt.is_open_write",
    type: "boolean",
    description: "True for open/openat/openat2 with O_WRONLY or O_RDWR (creat is never one, as in Falco).",
    extract: (e) => {
      const ev = e.event;
      return ev.kind === "open" && ev.evtType !== "creat" && opensForWrite(ev.openFlags);
    },
  }),
  plain({
    name: "evt.is_open_exec",
    type: "boolean",
    description: "True when an open/creat may create a file with an execute bit in its mode.",
    extract: (e) => {
      const ev = e.event;
      if (ev.kind !== "open") return false;
      const creates = ev.evtType === "creat" || mayCreate(ev.openFlags);
      return creates && (ev.mode & EXEC_MODE_BITS) !== 0;
    },
  }),
  eventArgEntry(
    "evt.arg",
    "rendered",
    "An event argument as Falco renders it (always a string): evt.arg.name, evt.arg.flags …",
  ),
  eventArgEntry(
    "evt.rawarg",
    "raw",
    "An event argument's raw value: evt.rawarg.flags (Falco's PPM bits), evt.rawarg.fd …",
  ),

  // thread.* / proc.*
  plain({
    name: "thread.tid",
    type: "number",
    description: "Thread id of the thread that made the syscall.",
    extract: (e) => e.event.tid,
  }),
  plain({
    name: "proc.pid",
    type: "number",
    description: "Process id (tgid).",
    extract: (e) => e.event.tgid,
  }),
  plain({
    name: "proc.ppid",
    type: "number",
    description: "Parent process id.",
    extract: (e) => (e.process === undefined || e.process.ppid <= 0 ? undefined : e.process.ppid),
  }),
  plain({
    name: "proc.name",
    type: "string",
    description: "Process name (kernel comm, at most 15 characters).",
    extract: (e) => e.process?.name,
  }),
  plain({
    name: "proc.exe",
    type: "string",
    description: "First command-line argument (argv[0]).",
    extract: (e) => e.process?.argv[0],
  }),
  plain({
    name: "proc.exepath",
    type: "string",
    description: "Full path of the executable.",
    extract: (e) => nonEmpty(e.process?.exePath),
  }),
  plain({
    name: "proc.args",
    type: "string",
    description: "Command-line arguments after argv[0], joined by spaces.",
    extract: (e) => (e.process === undefined ? undefined : argsOf(e.process)),
    costly: true,
  }),
  plain({
    name: "proc.cmdline",
    type: "string",
    description: "proc.name followed by the arguments: 'cat /etc/shadow'.",
    extract: (e) => (e.process === undefined ? undefined : cmdlineOf(e.process)),
    costly: true,
  }),
  plain({
    name: "proc.cwd",
    type: "string",
    description: "Working directory, when known.",
    extract: (e) => nonEmpty(e.process?.cwd),
  }),
  plain({
    name: "proc.duration",
    type: "bigint",
    description: "Nanoseconds since the process started, when its start time is known.",
    extract: (e) => {
      const start = e.process?.startNs ?? 0n;
      return start > 0n ? e.event.tsNs - start : undefined;
    },
  }),
  plain({
    name: "proc.pname",
    type: "string",
    description: "Parent's proc.name.",
    extract: (e) => parent(e)?.name,
    costly: true,
  }),
  plain({
    name: "proc.pexe",
    type: "string",
    description: "Parent's proc.exe.",
    extract: (e) => parent(e)?.argv[0],
    costly: true,
  }),
  plain({
    name: "proc.pexepath",
    type: "string",
    description: "Parent's proc.exepath.",
    extract: (e) => nonEmpty(parent(e)?.exePath),
    costly: true,
  }),
  plain({
    name: "proc.pcmdline",
    type: "string",
    description: "Parent's proc.cmdline.",
    extract: (e) => {
      const p = parent(e);
      return p === undefined ? undefined : cmdlineOf(p);
    },
    costly: true,
  }),
  procEnvEntry(),
  indexed({
    name: "proc.aname",
    type: "string",
    description:
      "proc.name of an ancestor: [0] the process, [1] its parent, [2] its grandparent …; without an index (conditions only) any ancestor matches.",
    at: (e, i) => ancestorAt(e, i)?.name,
    any: (e, test) => someAncestor(e, (p) => test(p.name)),
  }),
  indexed({
    name: "proc.apid",
    type: "number",
    description: "pid of an ancestor, indexed like proc.aname.",
    at: (e, i) => ancestorAt(e, i)?.pid,
    any: (e, test) => someAncestor(e, (p) => test(p.pid)),
  }),
  indexed({
    name: "proc.aexe",
    type: "string",
    description: "proc.exe of an ancestor, indexed like proc.aname.",
    at: (e, i) => ancestorAt(e, i)?.argv[0],
    any: (e, test) => someAncestor(e, (p) => p.argv[0] !== undefined && test(p.argv[0])),
  }),
  indexed({
    name: "proc.aexepath",
    type: "string",
    description: "proc.exepath of an ancestor, indexed like proc.aname.",
    at: (e, i) => nonEmpty(ancestorAt(e, i)?.exePath),
    any: (e, test) => someAncestor(e, (p) => p.exePath !== "" && test(p.exePath)),
  }),
  indexed({
    name: "proc.acmdline",
    type: "string",
    description: "proc.cmdline of an ancestor, indexed like proc.aname.",
    at: (e, i) => {
      const p = ancestorAt(e, i);
      return p === undefined ? undefined : cmdlineOf(p);
    },
    any: (e, test) => someAncestor(e, (p) => test(cmdlineOf(p))),
  }),

  // user.* / group.*
  plain({
    name: "user.uid",
    type: "number",
    description: "Effective user id (as Falco's user.uid).",
    extract: (e) => e.process?.euid,
  }),
  plain({
    name: "user.name",
    type: "string",
    description: "Name of the effective user.",
    extract: (e) => (e.process === undefined ? undefined : e.users.userName(e.process.euid)),
    costly: true,
  }),
  plain({
    name: "user.loginuid",
    type: "number",
    description: "Audit login uid; -1 when unset.",
    extract: (e) => (e.process === undefined ? undefined : loginuid(e.process)),
  }),
  plain({
    name: "user.loginname",
    type: "string",
    description: "Name of the audit login user.",
    extract: (e) => {
      const p = e.process;
      if (p === undefined || p.loginuid === UNSET_LOGINUID) return undefined;
      return e.users.userName(p.loginuid);
    },
    costly: true,
  }),
  plain({
    name: "group.gid",
    type: "number",
    description: "Effective group id of the process (as Falco's group.gid).",
    extract: (e) => e.process?.egid,
  }),
  plain({
    name: "group.name",
    type: "string",
    description: "Name of group.gid.",
    extract: (e) => (e.process === undefined ? undefined : e.users.groupName(e.process.egid)),
    costly: true,
  }),

  // fd.* (the fd table's view of the event's fd, or what the event itself says)
  fdField(
    "fd.num",
    "number",
    "File descriptor number: the fd an open returned (negative when it failed), or the fd the syscall used.",
    (v) => v.num,
  ),
  plain({
    name: "fd.name",
    type: "string",
    description:
      "For files the absolute path; for IP sockets 'clientip:port->serverip:port'; for unix sockets the path.",
    extract: (e) => {
      // From the fd table's entry as fdView would give it, without building the view: the
      // guard index reads fd.name, fd.directory and fd.filename on every open.
      const fd = e.fd;
      if (fd !== undefined) return fd.name === "" ? undefined : fd.name;
      return fdView(e).name;
    },
    // Not memoized per event (field-cache.ts): a property read, or the view fdView keeps per event.
    costly: false,
  }),
  plain({
    name: "fd.nameraw",
    type: "string",
    description: "The path exactly as the open call passed it.",
    extract: (e) => (e.event.kind === "open" ? e.event.path : undefined),
  }),
  plain({
    name: "fd.directory",
    type: "string",
    description: "Directory of a file fd.name.",
    extract: (e) => {
      const path = filePath(e);
      return path === undefined ? undefined : dirname(path);
    },
    // splitLast keeps the last path's split: the memo of field-cache.ts would only add a call.
    costly: false,
  }),
  plain({
    name: "fd.filename",
    type: "string",
    description: "File name of a file fd.name, without its directory.",
    extract: (e) => {
      const path = filePath(e);
      return path === undefined ? undefined : basename(path);
    },
    // splitLast keeps the last path's split: the memo of field-cache.ts would only add a call.
    costly: false,
  }),
  fdField(
    "fd.typechar",
    "string",
    "fd type as one character: f file, d directory, 4 IPv4, 6 IPv6, u unix, p pipe, e eventfd, s signalfd, l eventpoll, i inotify, t timerfd, n netlink, b bpf, r io_uring, m memfd, P pidfd, o other.",
    (v) => (v.type === undefined ? undefined : FD_TYPECHAR[v.type]),
  ),
  fdField(
    "fd.type",
    "string",
    "fd type: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, timerfd, netlink, bpf, userfaultfd, io_uring, memfd, pidfd.",
    (v) => v.type,
  ),
  fdField("fd.sockfamily", "string", "Socket family: 'ip' or 'unix'.", (v) =>
    v.type === "ipv4" || v.type === "ipv6" ? "ip" : v.type === "unix" ? "unix" : undefined,
  ),
  fdField("fd.l4proto", "string", "Transport protocol: 'tcp', 'udp', 'icmp' or 'raw'.", (v) => v.l4proto),
  fdField("fd.connected", "boolean", "True when the socket completed connect or accept.", (v) => v.connected),
  fdField("fd.cip", "ipaddr", "Client IP (the connecting end).", (v) => v.clientIp),
  fdField("fd.sip", "ipaddr", "Server IP (the accepting end).", (v) => v.serverIp),
  fdField("fd.lip", "ipaddr", "Local IP of the socket.", (v) => v.localIp),
  fdField("fd.rip", "ipaddr", "Remote IP of the socket.", (v) => v.remoteIp),
  fdField("fd.cport", "number", "Client port.", (v) => v.clientPort),
  fdField("fd.sport", "number", "Server port.", (v) => v.serverPort),
  fdField("fd.lport", "number", "Local port of the socket.", (v) => v.localPort),
  fdField("fd.rport", "number", "Remote port of the socket.", (v) => v.remotePort),
  fdField("fd.cnet", "ipnet", "fd.cip, compared against networks (fd.cnet = 10.0.0.0/8).", (v) => v.clientIp),
  fdField("fd.snet", "ipnet", "fd.sip, compared against networks.", (v) => v.serverIp),
  fdField("fd.lnet", "ipnet", "fd.lip, compared against networks.", (v) => v.localIp),
  fdField("fd.rnet", "ipnet", "fd.rip, compared against networks.", (v) => v.remoteIp),
  fdField("fd.ino", "number", "Inode number of the file, when the fd table knows it.", (_v, e) =>
    e.fd === undefined || e.fd.ino === 0 ? undefined : e.fd.ino,
  ),

  ...PROCESS_STATE_FIELDS,
  ...CONTAINER_FIELDS,
];
/** Multi-valued fd fields: fd.ip/fd.port/fd.net match either end (conditions only, as in Falco). */
function eitherEnd(name: string, type: FieldType, description: string, pick: "ip" | "port"): FieldEntry {
  const bound: BoundField = {
    name,
    type,
    extract: () => undefined,
    anyOf: (e, test) => {
      const v = fdView(e);
      if (v.type !== "ipv4" && v.type !== "ipv6") return false;
      if (pick === "port")
        return (
          (v.localPort !== undefined && test(v.localPort)) ||
          (v.remotePort !== undefined && test(v.remotePort))
        );
      return (v.localIp !== undefined && test(v.localIp)) || (v.remoteIp !== undefined && test(v.remoteIp));
    },
    filterOnly: true,
    costly: false,
    render: undefined,
    warning: undefined,
  };
  return {
    name,
    type,
    description,
    argument: "none",
    bind: (arg) => (arg === undefined ? bound : `field '${name}' does not take an argument`),
  };
}

const MULTI_VALUED: readonly FieldEntry[] = [
  eitherEnd("fd.ip", "ipaddr", "Either end's IP (conditions only).", "ip"),
  eitherEnd("fd.port", "number", "Either end's port (conditions only).", "port"),
  eitherEnd("fd.net", "ipnet", "Either end's IP compared against networks (conditions only).", "ip"),
];

const NOT_COLLECTED = "not collected by the sensor yet";

/** Falco fields (those the upstream rulesets use, and their neighbours) we cannot answer yet. */
const UNSUPPORTED: readonly UnsupportedField[] = [
  {
    name: "evt.args",
    reason:
      "Falco's text of every argument ('fd=3(<f>/etc/passwd) dirfd=-100(AT_FDCWD) …', fd-table names and its number formats) is not reproduced",
  },
  ...[
    "evt.buffer",
    "evt.cpu",
    "evt.category",
    "evt.is_open_create",
    "evt.latency",
    "evt.info",
    "evt.count",
    "evt.around",
    "evt.abspath",
    "evt.is_io",
    "evt.is_io_read",
    "evt.is_io_write",
    "evt.is_wait",
    "evt.is_syslog",
    "evt.buflen",
    "evt.datetime",
    "evt.deltatime",
    "evt.reltime",
    "evt.source",
    "evt.plugininfo",
  ].map((name) => ({ name, reason: NOT_COLLECTED })),
  ...[
    "proc.aenv",
    "proc.exe_ino.ctime_duration_pidns_start",
    "proc.is_exe_writable",
    "proc.pgid",
    "proc.loginshellid",
    "proc.nthreads",
    "proc.nchilds",
    "proc.fdopencount",
    "proc.fdlimit",
    "proc.vmsize",
    "proc.vmrss",
    "proc.vmswap",
    "proc.pid.ts",
    "proc.ppid.ts",
    "proc.ppid.duration",
    "proc.exeline",
    "proc.cmdnargs",
    "proc.cmdlenargs",
    "proc.is_container_healthcheck",
    "proc.is_container_liveness_probe",
    "proc.is_container_readiness_probe",
    "proc.stdin.type",
    "proc.stdout.type",
    "proc.stderr.type",
    "proc.stdin.name",
    "proc.stdout.name",
    "proc.stderr.name",
    "thread.vtid",
    "thread.ismain",
    "thread.exectime",
    "thread.totexectime",
    "user.shell",
    "user.homedir",
  ].map((name) => ({ name, reason: NOT_COLLECTED })),
  {
    name: "fd.name_changed",
    reason:
      "the fd table does not record that an event renamed a descriptor (an unconnected UDP socket's tuple changing on send/receive)",
  },
  ...[
    "fd.oldname",
    "fd.dev",
    "fd.dev.major",
    "fd.dev.minor",
    "fd.uid",
    "fd.containername",
    "fd.containerdirectory",
    "fd.cproto",
    "fd.sproto",
    "fd.lproto",
    "fd.rproto",
    "fd.is_server",
    "fd.openflags",
    "fd.types",
    "fd.nameraw.name",
  ].map((name) => ({ name, reason: "not tracked by the fd table yet" })),
  ...["fd.cip.name", "fd.sip.name", "fd.lip.name", "fd.rip.name"].map((name) => ({
    name,
    reason: "needs DNS names of addresses, which the sensor does not resolve",
  })),
];

/** Whole namespaces we have no data for yet. */
const UNSUPPORTED_PREFIXES: readonly UnsupportedField[] = [
  {
    name: "container.",
    reason:
      "not answered: the container table knows id, name, image, runtime, labels, privileged and the whole mount list (container.mounts), not one mount by index or source (container.mount.*), IPs or health probes",
  },
  {
    name: "k8s.",
    reason: "not collected: the container table knows pod uid, name, namespace and labels only",
  },
  { name: "k8smeta.", reason: "Kubernetes metadata is not collected yet" },
  { name: "mesos.", reason: "Mesos metadata is not collected" },
  { name: "span.", reason: "tracer spans are not collected" },
  { name: "fdlist.", reason: "poll fd lists are not collected" },
  { name: "syslog.", reason: "syslog events are not collected" },
  { name: "fs.path.", reason: "fs.path fields are not supported yet" },
];

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

export type FieldLookup =
  | { readonly kind: "entry"; readonly entry: FieldEntry; readonly arg: string | undefined }
  | { readonly kind: "unsupported"; readonly reason: string }
  | { readonly kind: "unknown"; readonly suggestion: string | undefined };

export class FieldRegistry {
  readonly #entries: ReadonlyMap<string, FieldEntry>;
  readonly #unsupported: ReadonlyMap<string, string>;
  readonly #unsupportedPrefixes: readonly UnsupportedField[];
  /** Every name an output token may start with, longest first. */
  readonly #outputNames: readonly string[];

  constructor(
    entries: readonly FieldEntry[],
    unsupported: readonly UnsupportedField[] = [],
    unsupportedPrefixes: readonly UnsupportedField[] = [],
  ) {
    this.#entries = new Map(entries.map((e) => [e.name, e]));
    this.#unsupported = new Map(unsupported.map((u) => [u.name, u.reason]));
    this.#unsupportedPrefixes = unsupportedPrefixes;
    this.#outputNames = [...this.#entries.keys(), ...this.#unsupported.keys()].sort(
      (a, b) => b.length - a.length,
    );
  }

  /** All supported fields, for documentation and `peregrine fields`. */
  get entries(): readonly FieldEntry[] {
    return [...this.#entries.values()];
  }

  get unsupported(): readonly UnsupportedField[] {
    return [...this.#unsupported].map(([name, reason]) => ({ name, reason }));
  }

  /**
   * Finds a field by the name written in a condition; `evt.arg.flags` is the
   * entry `evt.arg` with argument `flags`. A `[...]` argument is passed as `arg`.
   */
  lookup(name: string, arg: string | undefined): FieldLookup {
    const entry = this.#entries.get(name);
    if (entry !== undefined) return { kind: "entry", entry, arg };
    const unsupported = this.#unsupported.get(name);
    if (unsupported !== undefined) return { kind: "unsupported", reason: unsupported };
    for (let dot = name.lastIndexOf("."); dot > 0; dot = name.lastIndexOf(".", dot - 1)) {
      const prefix = this.#entries.get(name.slice(0, dot));
      if (prefix?.argument === "name" && arg === undefined) {
        return { kind: "entry", entry: prefix, arg: name.slice(dot + 1) };
      }
    }
    const byPrefix = this.#unsupportedPrefixes.find((p) => name.startsWith(p.name));
    if (byPrefix !== undefined) return { kind: "unsupported", reason: byPrefix.reason };
    return { kind: "unknown", suggestion: this.#suggest(name) };
  }

  /** Why the sensor cannot answer this field, or undefined when it can (or does not know it). */
  unsupportedReason(name: string): string | undefined {
    const found = this.lookup(name, undefined);
    return found.kind === "unsupported" ? found.reason : undefined;
  }

  #suggest(name: string): string | undefined {
    let best: string | undefined;
    let bestDistance = 3;
    for (const candidate of this.#entries.keys()) {
      const d = distance(name, candidate);
      if (d < bestDistance) {
        best = candidate;
        bestDistance = d;
      }
    }
    return best;
  }

  /** Binds a field; a string result is the complete error message. */
  bind(name: string, arg: string | undefined, ctx: BindContext): BoundField | string {
    const found = this.lookup(name, arg);
    switch (found.kind) {
      case "entry":
        return found.entry.bind(found.arg, ctx);
      case "unsupported":
        return `field '${name}' is not supported yet: ${found.reason}`;
      case "unknown":
        return `unknown field '${name}'${found.suggestion === undefined ? "" : ` (did you mean '${found.suggestion}'?)`}`;
    }
  }

  /**
   * The field an output `%token` starts with at `offset`: the longest known
   * name that prefixes the text (libsinsp's rule), plus a `.name` argument for
   * argument-taking fields and an optional `[arg]`.
   */
  matchOutputToken(
    text: string,
    offset: number,
  ): { name: string; arg: string | undefined; end: number } | undefined {
    const candidate = /[a-zA-Z][a-zA-Z0-9_.]*/y;
    candidate.lastIndex = offset;
    const word = candidate.exec(text)?.[0];
    if (word === undefined) return undefined;
    let name: string | undefined;
    let end = offset;
    const dynamic = [...this.#entries.values()].find(
      (e) => e.argument === "name" && word.startsWith(`${e.name}.`),
    );
    if (dynamic !== undefined) {
      const argMatch = /^[a-zA-Z0-9_]+/.exec(word.slice(dynamic.name.length + 1));
      if (argMatch !== null) {
        name = `${dynamic.name}.${argMatch[0]}`;
        end = offset + name.length;
      }
    }
    if (name === undefined) {
      name = this.#outputNames.find((n) => word.startsWith(n));
      if (name === undefined) {
        // Unknown: take the dotted word so the error names what was written.
        const dotted = /^[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)*/.exec(word)?.[0] ?? word;
        return { name: dotted, arg: undefined, end: offset + dotted.length };
      }
      end = offset + name.length;
    }
    let arg: string | undefined;
    if (text[end] === "[") {
      const close = text.indexOf("]", end + 1);
      if (close > end) {
        arg = text.slice(end + 1, close);
        end = close + 1;
      }
    }
    return { name, arg, end };
  }
}

/** Every field Peregrine knows, for the rules engine and documentation. */
export const DEFAULT_FIELDS: FieldRegistry = new FieldRegistry(
  [...FIELD_TABLE, ...MULTI_VALUED],
  UNSUPPORTED,
  UNSUPPORTED_PREFIXES,
);

/**
 * Synthetic events for `peregrine rules test`: a small YAML description of
 * a syscall and the process that made it becomes the EnrichedEvent the
 * rules see live. Pure: text in, cases out, errors name the case.
 *
 *   tests:
 *     - name: cat reads the shadow file
 *       event: {type: openat, path: /etc/shadow, flags: O_RDONLY, ret: 3}
 *       process: {name: cat, exepath: /bin/cat, args: [cat, /etc/shadow], uid: 1000}
 *       parent: {name: bash}
 *       fd: {type: file, name: /etc/shadow}          # optional: as the fd table would know it
 *       fired: [Read sensitive file untrusted]       # the exact set expected to fire
 *       not_fired: [Some other rule]                 # or only rules that must not fire
 */
import { parse } from "yaml";
import {
  DESCRIPTOR_SYSCALLS,
  FILE_SYSCALLS,
  type GenericSyscallName,
  NETWORK_SYSCALLS,
  PROCESS_SYSCALLS,
  type SensorEvent,
  type SyscallArgs,
} from "../decode/events.js";
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { FdInfo, FdType } from "../enrich/fd-info.js";
import { HOST_CONTAINER, type ProcessInfo } from "../enrich/process-info.js";

export interface TestCase {
  readonly name: string;
  readonly event: EnrichedEvent;
  /** The exact set of rules expected to fire, when given. */
  readonly fired: readonly string[] | undefined;
  readonly notFired: readonly string[];
}

export class TestFileError extends Error {
  override readonly name = "TestFileError";
}

type Obj = Record<string, unknown>;

const OPEN_FLAGS: Readonly<Record<string, number>> = {
  O_RDONLY: 0,
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
  O_CLOEXEC: 0o2000000,
  O_PATH: 0o10000000,
  O_TMPFILE: 0o20200000,
};

const GENERIC = new Set<string>([
  ...FILE_SYSCALLS,
  ...PROCESS_SYSCALLS,
  ...NETWORK_SYSCALLS,
  ...DESCRIPTOR_SYSCALLS,
]);
const AF: Readonly<Record<string, number>> = { unix: 1, ipv4: 2, inet: 2, ipv6: 10, inet6: 10 };
const PROTO: Readonly<Record<string, number>> = { tcp: 6, udp: 17, icmp: 1 };
const SOCK_TYPE: Readonly<Record<string, number>> = { tcp: 1, udp: 2 };

const TS_BASE = 1_700_000_000_000_000_000n;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

class Reader {
  constructor(
    readonly where: string,
    readonly o: Obj,
  ) {}
  fail(msg: string): never {
    throw new TestFileError(`${this.where}: ${msg}`);
  }
  str(key: string, dflt: string): string {
    const v = this.o[key];
    if (v === undefined) return dflt;
    if (typeof v !== "string" && typeof v !== "number") this.fail(`'${key}' must be a string`);
    return String(v);
  }
  num(key: string, dflt: number): number {
    const v = this.o[key];
    if (v === undefined) return dflt;
    if (typeof v !== "number" || !Number.isInteger(v)) this.fail(`'${key}' must be an integer`);
    return v;
  }
  bool(key: string, dflt: boolean): boolean {
    const v = this.o[key];
    if (v === undefined) return dflt;
    if (typeof v !== "boolean") this.fail(`'${key}' must be true or false`);
    return v;
  }
  strings(key: string): string[] | undefined {
    const v = this.o[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string" && typeof x !== "number"))
      this.fail(`'${key}' must be a list of strings`);
    return v.map(String);
  }
  flags(key: string): number {
    const v = this.o[key];
    if (v === undefined) return 0;
    if (typeof v === "number") return v;
    if (typeof v !== "string") this.fail(`'${key}' must be a number or O_* names joined by '|'`);
    let out = 0;
    for (const name of v.split("|").map((s) => s.trim())) {
      const bit = OPEN_FLAGS[name];
      if (bit === undefined) this.fail(`unknown open flag '${name}'`);
      out |= bit;
    }
    return out;
  }
  only(keys: readonly string[]): void {
    for (const k of Object.keys(this.o))
      if (!keys.includes(k)) this.fail(`unknown key '${k}' (known: ${keys.join(", ")})`);
  }
}

const PROCESS_KEYS = [
  "pid",
  "ppid",
  "name",
  "exepath",
  "args",
  "uid",
  "gid",
  "euid",
  "egid",
  "loginuid",
  "cwd",
  "tty",
  "sid",
  "vpid",
  "container_id",
  "image",
  "env",
];

function makeProcess(r: Reader, dflt: { pid: number; ppid: number; name: string }): ProcessInfo {
  r.only(PROCESS_KEYS);
  const name = r.str("name", dflt.name);
  const exePath = r.str("exepath", `/usr/bin/${name}`);
  const uid = r.num("uid", 0);
  const gid = r.num("gid", 0);
  const pid = r.num("pid", dflt.pid);
  const containerId = r.str("container_id", "host");
  const envObj = r.o.env;
  if (envObj !== undefined && !isObj(envObj)) r.fail("'env' must be a mapping");
  return {
    pid,
    ppid: r.num("ppid", dflt.ppid),
    name: name.slice(0, 15),
    exePath,
    argv: r.strings("args") ?? [exePath],
    uid,
    gid,
    euid: r.num("euid", uid),
    egid: r.num("egid", gid),
    loginuid: r.num("loginuid", 4294967295),
    cwd: r.str("cwd", "/"),
    startNs: TS_BASE - 1_000_000_000n,
    cgroupId: 0n,
    tty: r.num("tty", 0),
    sid: r.num("sid", 0),
    pgid: 0,
    vpid: r.num("vpid", pid),
    capEffective: 0n,
    capPermitted: 0n,
    capInheritable: 0n,
    exeIno: 0,
    exeCtimeNs: 0n,
    exeMtimeNs: 0n,
    exeUpperLayer: false,
    exeFromMemfd: false,
    container:
      containerId === "host"
        ? HOST_CONTAINER
        : {
            id: containerId,
            fullId: containerId,
            runtime: "docker",
            name: containerId,
            image: r.str("image", ""),
            labels: new Map(),
            k8s: undefined,
          },
    env: new Map(Object.entries((envObj as Obj | undefined) ?? {}).map(([k, v]) => [k, String(v)])),
    source: "exec",
  };
}

function makeEvent(r: Reader, p: ProcessInfo, ts: bigint): SensorEvent {
  const type = r.str("type", "");
  if (type === "") r.fail("'type' (the syscall, e.g. openat) is required");
  const common = { tsNs: ts, tgid: p.pid, tid: p.pid, recordFlags: 0 };
  switch (type) {
    case "open":
    case "openat":
    case "openat2":
    case "creat":
      r.only(["type", "path", "flags", "mode", "ret", "dirfd"]);
      return {
        ...common,
        kind: "open",
        evtType: type,
        path: r.str("path", ""),
        openFlags: r.flags("flags"),
        mode: r.num("mode", 0),
        ret: r.num("ret", 3),
        dirfd: r.num("dirfd", -100),
      };
    case "connect": {
      r.only(["type", "family", "daddr", "dport", "saddr", "sport", "proto", "ret", "fd"]);
      const family = AF[r.str("family", "ipv4")];
      if (family === undefined) r.fail("'family' must be ipv4, ipv6 or unix");
      const proto = r.str("proto", "tcp");
      return {
        ...common,
        kind: "connect",
        evtType: "connect",
        ret: r.num("ret", 0),
        fd: r.num("fd", 3),
        family,
        daddr: r.str("daddr", ""),
        dport: r.num("dport", 0),
        saddr: r.str("saddr", ""),
        sport: r.num("sport", 0),
        sockType: SOCK_TYPE[proto] ?? 0,
        protocol: PROTO[proto] ?? 0,
      };
    }
    case "execve":
    case "execveat":
      if (r.num("ret", 0) === 0) {
        r.only(["type", "ret"]);
        return {
          ...common,
          kind: "exec",
          evtType: type,
          ppid: p.ppid,
          uid: p.uid,
          gid: p.gid,
          euid: p.euid,
          egid: p.egid,
          loginuid: p.loginuid,
          cgroupId: 0n,
          startNs: p.startNs,
          comm: p.name,
          filename: p.exePath,
          argv: p.argv,
        };
      }
      break;
  }
  if (!GENERIC.has(type)) r.fail(`unknown or unsupported event type '${type}'`);
  r.only(["type", "ret", "args"]);
  const args = r.o.args;
  if (args !== undefined && !isObj(args)) r.fail("'args' must be a mapping of argument names to values");
  return {
    ...common,
    kind: "syscall",
    evtType: type as GenericSyscallName,
    ret: r.num("ret", 0),
    args: (args ?? {}) as SyscallArgs,
    tuple: undefined,
    uid: p.uid,
    gid: p.gid,
    euid: p.euid,
    egid: p.egid,
  };
}

function makeFd(r: Reader): FdInfo {
  r.only([
    "num",
    "type",
    "name",
    "l4proto",
    "local_addr",
    "local_port",
    "remote_addr",
    "remote_port",
    "role",
    "connected",
  ]);
  const role = r.str("role", "");
  if (role !== "" && role !== "client" && role !== "server") r.fail("'role' must be client or server");
  const l4 = r.str("l4proto", "");
  if (!["", "tcp", "udp", "icmp", "raw"].includes(l4)) r.fail("'l4proto' must be tcp, udp, icmp or raw");
  return {
    num: r.num("num", 3),
    type: r.str("type", "file") as FdType,
    name: r.str("name", ""),
    openFlags: 0,
    ino: 0,
    l4proto: l4 as FdInfo["l4proto"],
    localAddr: r.str("local_addr", ""),
    localPort: r.num("local_port", 0),
    remoteAddr: r.str("remote_addr", ""),
    remotePort: r.num("remote_port", 0),
    role: role as FdInfo["role"],
    connected: r.bool("connected", false),
  };
}

/** Parses a rules test file; `file` names it in errors. */
export function parseTestFile(text: string, file: string): TestCase[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new TestFileError(`${file}: not valid YAML: ${(e as Error).message}`);
  }
  const tests = isObj(doc) ? doc.tests : undefined;
  if (!Array.isArray(tests) || tests.length === 0)
    throw new TestFileError(`${file}: expected a mapping with a non-empty 'tests' list`);
  return tests.map((t, i): TestCase => {
    const where = `${file}: test ${i + 1}`;
    if (!isObj(t)) throw new TestFileError(`${where}: must be a mapping`);
    const r = new Reader(where, t);
    r.only(["name", "event", "process", "parent", "fd", "fired", "not_fired"]);
    const name = r.str("name", `test ${i + 1}`);
    const sub = (key: string): Reader => {
      const v = t[key];
      if (v !== undefined && !isObj(v)) r.fail(`'${key}' must be a mapping`);
      return new Reader(`${file}: test '${name}' ${key}`, (v as Obj | undefined) ?? {});
    };
    if (t.event === undefined) r.fail("'event' is required");
    const parent = makeProcess(sub("parent"), { pid: 1, ppid: 0, name: "systemd" });
    const process = makeProcess(sub("process"), { pid: 1000 + i, ppid: parent.pid, name: "proc" });
    const event = makeEvent(sub("event"), process, TS_BASE + BigInt(i) * 1000n);
    const fd = t.fd === undefined ? undefined : makeFd(sub("fd"));
    const table = new Map([
      [process.pid, process],
      [parent.pid, parent],
    ]);
    const enriched: EnrichedEvent = {
      event,
      process,
      fd,
      fds: {
        get: (pid, num) => (fd !== undefined && pid === process.pid && num === fd.num ? fd : undefined),
      },
      processes: { get: (pid) => table.get(pid) },
      users: {
        userName: (uid) => (uid === 0 ? "root" : undefined),
        groupName: (gid) => (gid === 0 ? "root" : undefined),
      },
      hostname: "rules-test",
    };
    return { name, event: enriched, fired: r.strings("fired"), notFired: r.strings("not_fired") ?? [] };
  });
}

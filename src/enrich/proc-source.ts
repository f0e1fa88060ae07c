/**
 * Where the state tables ask what /proc says: the live /proc, nothing (a
 * replay that must not read this machine), or a recorded answer (capture
 * replay). Every /proc read of the tables goes through one ProcSource, which
 * is what lets a capture carry exactly the answers the live run got.
 */
import { readdirSync, readlinkSync, statSync } from "node:fs";
import { blankFd, type FdInfo, type FdType } from "./fd-info.js";
import { type ProcSocket, readSocketTables } from "./proc-net.js";
import {
  type ExecProcFacts,
  listPids,
  MountCache,
  readEnviron,
  readExecFacts,
  readProcess,
  readProcText,
  statusTgid,
} from "./proc-reader.js";
import type { EnvironSource, ProcessEnviron, ProcessInfo } from "./process-info.js";

export interface ProcSource extends EnvironSource {
  /** Live processes (thread groups). */
  listPids(): number[];
  /** Everything /proc/<pid> says; undefined when the process is gone. */
  readProcess(pid: number): ProcessInfo | undefined;
  /** The few facts an exec record does not carry; undefined when the process is gone. */
  readExec(pid: number): ExecProcFacts | undefined;
  /** The process a task id belongs to (itself for a thread-group leader); undefined when gone. */
  tgidOf(tid: number): number | undefined;
  /** One open descriptor as /proc/<pid>/fd and fdinfo describe it; undefined when not open. */
  readFd(pid: number, fd: number): FdInfo | undefined;
  /**
   * The open descriptor numbers of a process and when they were listed
   * (epoch ns, taken before the listing); undefined when it is gone.
   */
  listFds(pid: number): FdListing | undefined;
  /**
   * The cgroup v2 path ("/system.slice/docker-….scope") of a cgroup id as
   * the kernel reports it (bpf_get_current_cgroup_id); undefined when unknown.
   * Lets an exec record name its container after the process is gone.
   */
  cgroupPath(id: bigint): string | undefined;
}

export interface FdListing {
  readonly nums: number[];
  /** Wall clock (epoch ns) just before /proc/<pid>/fd was read: events after it are not in the listing. */
  readonly atNs: bigint;
}

/** Wall clock as epoch ns (the unit of event timestamps). */
export function epochNowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** Knows nothing: for replays without a snapshot and for tests. */
export const NO_PROC: ProcSource = {
  listPids: () => [],
  readProcess: () => undefined,
  readExec: () => undefined,
  tgidOf: () => undefined,
  readFd: () => undefined,
  listFds: () => undefined,
  cgroupPath: () => undefined,
};

const ANON_TYPES: readonly (readonly [string, FdType])[] = [
  ["[eventfd]", "event"],
  ["[eventpoll]", "eventpoll"],
  ["[signalfd]", "signalfd"],
  ["[timerfd]", "timerfd"],
  ["inotify", "inotify"],
  ["[userfaultfd]", "userfaultfd"],
  ["[io_uring]", "io_uring"],
  ["[pidfd]", "pidfd"],
];

/** fd.type of an anon_inode:… link target. */
export function anonInodeType(name: string): FdType {
  if (name.startsWith("bpf")) return "bpf";
  for (const [label, type] of ANON_TYPES) if (name === label) return type;
  return "unknown";
}

/** The "flags:" (octal) and "ino:" lines of /proc/<pid>/fdinfo/<fd>. */
export function parseFdInfo(text: string): { flags: number; ino: number } {
  const flags = /(?:^|\n)flags:\s*([0-7]+)/.exec(text);
  const ino = /(?:^|\n)ino:\s*(\d+)/.exec(text);
  return {
    flags: flags?.[1] === undefined ? 0 : Number.parseInt(flags[1], 8),
    ino: ino?.[1] === undefined ? 0 : Number(ino[1]),
  };
}

/** fd.name of a socket tuple: client end first, as Falco writes it. */
export function tupleName(
  role: FdInfo["role"],
  localAddr: string,
  localPort: number,
  remoteAddr: string,
  remotePort: number,
): string {
  if (role === "server") return `${remoteAddr}:${remotePort}->${localAddr}:${localPort}`;
  if (role === "client") return `${localAddr}:${localPort}->${remoteAddr}:${remotePort}`;
  // Bound or listening only: the local end is all there is.
  return localAddr === "" && localPort === 0 ? "" : `${localAddr}:${localPort}`;
}

/** An fd seeded from /proc that points at a socket the net tables know. */
export function fdFromProcSocket(
  num: number,
  ino: number,
  s: ProcSocket,
  listeningPorts: Set<number>,
): FdInfo {
  if (s.type === "unix") return { ...blankFd(num, "unix"), name: s.path, ino, connected: s.connected };
  // /proc does not say who connected: a connected socket on a port this
  // namespace listens on was accepted (server side), otherwise we connected.
  const role: FdInfo["role"] = !s.connected ? "" : listeningPorts.has(s.localPort) ? "server" : "client";
  return {
    num,
    type: s.type,
    name: tupleName(role, s.localAddr, s.localPort, s.remoteAddr, s.remotePort),
    openFlags: 0,
    ino,
    l4proto: s.l4proto,
    localAddr: s.localAddr,
    localPort: s.localPort,
    remoteAddr: s.remoteAddr,
    remotePort: s.remotePort,
    role,
    connected: s.connected,
  };
}

interface NetSnapshot {
  readonly sockets: Map<number, ProcSocket>;
  readonly listeningPorts: Set<number>;
  readonly atMs: number;
}

/** Where the cgroup v2 hierarchy is mounted: its own mount on a hybrid host, else /sys/fs/cgroup. */
export function findCgroup2Root(): string | undefined {
  for (const root of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      statSync(`${root}/cgroup.controllers`);
      return root;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Rescans of the cgroup tree allowed per second (each new cgroup id costs one). */
const CGROUP_SCANS_PER_SECOND = 10;
const MAX_CGROUPS = 100_000;

export interface LiveProcSourceOptions {
  procRoot?: string;
  /** Epoch ns at boot, to turn /proc start times into epoch ns. */
  bootTimeNs: bigint;
  /** How long a network namespace's socket tables are reused before being read again. */
  netTtlMs?: number;
  /** The cgroup v2 mount; default: found at first use. "" disables cgroup id lookups. */
  cgroup2Root?: string;
}

/** Reads the real /proc (or a fake tree under procRoot in tests). */
export class LiveProcSource implements ProcSource {
  private readonly procRoot: string;
  private readonly bootTimeNs: bigint;
  private readonly mounts = new MountCache();
  private readonly netTtlMs: number;
  /** Socket tables per network namespace: reading them costs far more than one fd. */
  private readonly nets = new Map<string, NetSnapshot>();
  private cgroup2Root: string | undefined;
  /** cgroup id (the cgroup directory's inode) → path below the cgroup2 root. */
  private cgroups = new Map<bigint, string>();
  private scanWindowStart = 0;
  private scansInWindow = 0;

  constructor(options: LiveProcSourceOptions) {
    this.procRoot = options.procRoot ?? "/proc";
    this.bootTimeNs = options.bootTimeNs;
    this.netTtlMs = options.netTtlMs ?? 1000;
    this.cgroup2Root = options.cgroup2Root;
  }

  /** proc.env: the whole environment, read when a rule first asks (not on every exec). */
  readEnviron(pid: number): ProcessEnviron | undefined {
    return readEnviron(pid, this.bootTimeNs, this.procRoot);
  }

  cgroupPath(id: bigint): string | undefined {
    if (id === 0n) return undefined;
    const known = this.cgroups.get(id);
    if (known !== undefined) return known;
    // A cgroup created since the last scan (a container started): scan again, a bounded number of times per second.
    const now = Date.now();
    if (now - this.scanWindowStart >= 1000) {
      this.scanWindowStart = now;
      this.scansInWindow = 0;
    }
    if (this.scansInWindow >= CGROUP_SCANS_PER_SECOND) return undefined;
    this.scansInWindow++;
    this.scanCgroups();
    return this.cgroups.get(id);
  }

  private scanCgroups(): void {
    if (this.cgroup2Root === undefined) this.cgroup2Root = findCgroup2Root() ?? "";
    const root = this.cgroup2Root;
    if (root === "") return;
    const found = new Map<bigint, string>();
    const walk = (dir: string, rel: string, depth: number): void => {
      if (found.size >= MAX_CGROUPS || depth > 32) return;
      try {
        found.set(statSync(dir, { bigint: true }).ino, rel === "" ? "/" : rel);
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory()) walk(`${dir}/${entry.name}`, `${rel}/${entry.name}`, depth + 1);
        }
      } catch {
        // removed while we walked
      }
    };
    walk(root, "", 0);
    this.cgroups = found;
  }

  listPids(): number[] {
    try {
      return listPids(this.procRoot);
    } catch {
      return [];
    }
  }

  readProcess(pid: number): ProcessInfo | undefined {
    return readProcess(pid, this.bootTimeNs, this.procRoot, { mounts: this.mounts });
  }

  readExec(pid: number): ExecProcFacts | undefined {
    return readExecFacts(pid, this.procRoot);
  }

  tgidOf(tid: number): number | undefined {
    try {
      const status = readProcText(`${this.procRoot}/${tid}/status`);
      return status === undefined ? undefined : statusTgid(status);
    } catch {
      return undefined;
    }
  }

  listFds(pid: number): FdListing | undefined {
    const atNs = epochNowNs();
    try {
      const nums = readdirSync(`${this.procRoot}/${pid}/fd`)
        .map(Number)
        .filter((n) => Number.isInteger(n));
      return { nums, atNs };
    } catch {
      return undefined;
    }
  }

  readFd(pid: number, fd: number): FdInfo | undefined {
    const link = `${this.procRoot}/${pid}/fd/${fd}`;
    let target: string;
    try {
      target = readlinkSync(link);
    } catch {
      return undefined;
    }
    // Closed in between: describe it from the link alone.
    const fdinfo = readProcText(`${this.procRoot}/${pid}/fdinfo/${fd}`);
    const info = fdinfo === undefined ? { flags: 0, ino: 0 } : parseFdInfo(fdinfo);
    const base: FdInfo = { ...blankFd(fd, "unknown"), name: target, openFlags: info.flags, ino: info.ino };
    if (target.startsWith("/")) {
      if (target.startsWith("/memfd:")) return { ...base, type: "memfd" };
      const name = target.replace(/ \(deleted\)$/, "");
      let isDir = false;
      try {
        isDir = statSync(link).isDirectory();
      } catch {
        // gone
      }
      return { ...base, name, type: isDir ? "directory" : "file" };
    }
    const bracket = /^(socket|pipe):\[(\d+)\]$/.exec(target);
    if (bracket?.[1] === "pipe") return { ...base, type: "pipe", ino: Number(bracket[2]) };
    if (bracket?.[1] === "socket") {
      const ino = Number(bracket[2]);
      let net = this.net(pid, false);
      // A socket newer than the cached tables: read them again once.
      if (net !== undefined && !net.sockets.has(ino) && net.atMs !== Date.now()) net = this.net(pid, true);
      const s = net?.sockets.get(ino);
      if (s === undefined) return { ...base, type: "unknown", ino };
      return fdFromProcSocket(fd, ino, s, net?.listeningPorts ?? new Set());
    }
    if (target.startsWith("anon_inode:")) return { ...base, type: anonInodeType(target.slice(11)) };
    return base;
  }

  private net(pid: number, fresh: boolean): NetSnapshot | undefined {
    let ns = "";
    try {
      ns = readlinkSync(`${this.procRoot}/${pid}/ns/net`);
    } catch {
      // fake /proc trees in tests have no ns links: key by pid
      ns = `pid:${pid}`;
    }
    const now = Date.now();
    const cached = this.nets.get(ns);
    if (!fresh && cached !== undefined && now - cached.atMs < this.netTtlMs) return cached;
    const sockets = readSocketTables(this.procRoot, pid);
    const listeningPorts = new Set<number>();
    for (const s of sockets.values()) if (s.listening && s.localPort !== 0) listeningPorts.add(s.localPort);
    const snap = { sockets, listeningPorts, atMs: now };
    if (this.nets.size > 64) this.nets.clear();
    this.nets.set(ns, snap);
    return snap;
  }
}

import type { ExecEvent, ExitEvent, ForkEvent } from "../decode/events.js";
import { ContainerRegistry, containerFromCgroupPath } from "./container.js";
import type { RuntimeLookup } from "./container-runtime.js";
import { resolveAgainst } from "./path.js";
import { LiveProcSource, NO_PROC, type ProcSource } from "./proc-source.js";
import { type ContainerInfo, HOST_CONTAINER, type ProcessInfo, type ProcessLookup } from "./process-info.js";

export interface ProcessTableOptions {
  /** Epoch ns at boot, to convert /proc start times. */
  bootTimeNs: bigint;
  /** Where procfs is mounted (tests point it elsewhere). */
  procRoot?: string;
  /** Hard bound on entries; exited ones are evicted first, then the oldest. */
  maxEntries?: number;
  /** How long an exited process stays answerable (its children's events may still name it). */
  exitedRetentionNs?: bigint;
  /**
   * Read /proc/<pid> for the exe, cwd and environment at exec and for
   * processes first heard of through an event. Off for replaying captures.
   */
  readProc?: boolean;
  /** Where /proc answers come from (overrides procRoot/readProc): a capture's recording, a replay. */
  source?: ProcSource;
  /** Shared with other tables that want one ContainerInfo per container. */
  containers?: ContainerRegistry;
  /**
   * Ask the container runtime's socket (Docker, Podman, CRI-O) for each new
   * container's name, image and labels, in the background. Off by default
   * (tests, replays); `peregrine run` turns it on.
   */
  runtimeLookup?: RuntimeLookup;
}

/** Ancestors filled in from /proc at most this deep (a pid loop in a corrupt capture cannot spin). */
const MAX_ANCESTRY = 64;
/** Threads remembered (tid → tgid); the oldest are forgotten first. */
const MAX_THREADS = 65_536;

interface ExitedEntry {
  readonly info: ProcessInfo;
  readonly atNs: bigint;
}

/**
 * Every process the sensor knows, keyed by pid (tgid): seeded from /proc at
 * start, then kept current by fork, exec and exit events so that rules can
 * ask about a process, its parent and its ancestors.
 */
export class ProcessTable implements ProcessLookup {
  private readonly entries = new Map<number, ProcessInfo>();
  /** Exited processes in exit order, reaped after the retention time. */
  private readonly exited: ExitedEntry[] = [];
  private exitedHead = 0;
  /** Pids /proc did not know either: not looked up again until the next fork/exec names them. */
  private readonly missing = new Set<number>();
  /** Containers by cgroup v2 id, as exec records name them. */
  private readonly byCgroup = new Map<bigint, ContainerInfo>();
  /** Threads by tid → their process (tgid), from clone events and /proc. */
  private readonly threads = new Map<number, number>();
  private readonly maxEntries: number;
  private readonly retentionNs: bigint;
  readonly source: ProcSource;
  readonly containers: ContainerRegistry;
  /** Processes first heard of through an event and filled in from /proc. */
  lateFills = 0;
  /** Lookups nobody could answer. */
  misses = 0;
  /** Execs whose cgroup (so container) could not be read: the parent's container was assumed. */
  containerMisses = 0;

  constructor(options: ProcessTableOptions) {
    this.maxEntries = options.maxEntries ?? 65_536;
    this.retentionNs = options.exitedRetentionNs ?? 10_000_000_000n;
    this.source =
      options.source ??
      (options.readProc === false
        ? NO_PROC
        : new LiveProcSource({ bootTimeNs: options.bootTimeNs, procRoot: options.procRoot ?? "/proc" }));
    const runtime = options.runtimeLookup;
    this.containers =
      options.containers ??
      new ContainerRegistry(4096, runtime?.available === true ? (c) => runtime.lookup(c) : undefined);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Loads every live process from /proc. */
  seedFromProc(): number {
    for (const pid of this.source.listPids()) {
      const info = this.source.readProcess(pid);
      if (info !== undefined) this.set(info);
    }
    return this.entries.size;
  }

  /** Every entry (capture snapshots, tests). */
  values(): IterableIterator<ProcessInfo> {
    return this.entries.values();
  }

  /** Adds or replaces an entry (used by seeding and by tests); its container object is shared. */
  set(info: ProcessInfo): void {
    const container = this.containers.internInfo(info.container);
    const entry = container === info.container ? info : { ...info, container };
    this.entries.set(entry.pid, entry);
    this.missing.delete(entry.pid);
    this.threads.delete(entry.pid);
  }

  /**
   * The process with this pid, or the process a thread id belongs to. A
   * process the table never heard of (it started before the sensor attached
   * and has not forked or exec'd since) is read from /proc once, with its
   * ancestors, so proc.aname[N] reaches back to init.
   */
  get(pid: number): ProcessInfo | undefined {
    const known = this.entries.get(pid);
    if (known !== undefined || pid <= 0) return known;
    const tgid = this.threads.get(pid);
    if (tgid !== undefined) return this.entries.get(tgid) ?? this.lateFill(tgid);
    return this.lateFill(pid);
  }

  private lateFill(pid: number): ProcessInfo | undefined {
    if (this.missing.has(pid)) {
      this.misses++;
      return undefined;
    }
    const tgid = this.source.tgidOf(pid);
    if (tgid !== undefined && tgid !== pid) {
      // A thread id: answer with its process.
      this.rememberThread(pid, tgid);
      return this.entries.get(tgid) ?? this.lateFill(tgid);
    }
    const info = this.source.readProcess(pid);
    if (info === undefined) {
      if (this.missing.size > MAX_THREADS) this.missing.clear();
      this.missing.add(pid);
      this.misses++;
      return undefined;
    }
    this.lateFills++;
    this.set(info);
    // Its ancestors may be just as new to us: fill the chain while /proc still has it.
    let ppid = info.ppid;
    for (let depth = 0; depth < MAX_ANCESTRY && ppid > 0 && !this.entries.has(ppid); depth++) {
      if (this.missing.has(ppid)) break;
      const parent = this.source.readProcess(ppid);
      if (parent === undefined) {
        this.missing.add(ppid);
        break;
      }
      this.lateFills++;
      this.set(parent);
      ppid = parent.ppid;
    }
    return this.entries.get(pid);
  }

  private rememberThread(tid: number, tgid: number): void {
    if (this.threads.size >= MAX_THREADS) {
      const oldest = this.threads.keys().next().value;
      if (oldest !== undefined) this.threads.delete(oldest);
    }
    this.threads.set(tid, tgid);
  }

  /** Ancestors of pid, parent first, as far as the table (and /proc) knows, at most MAX_ANCESTRY. */
  ancestors(pid: number): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    let p = this.get(pid);
    const seen = new Set<number>([pid]);
    while (p !== undefined && p.ppid > 0 && out.length < MAX_ANCESTRY && !seen.has(p.ppid)) {
      seen.add(p.ppid);
      p = this.get(p.ppid);
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  /** chdir/fchdir succeeded: the new cwd (already resolved by the caller for fchdir). */
  onChdir(pid: number, path: string): void {
    const info = this.entries.get(pid) ?? this.get(pid);
    if (info === undefined) return;
    const cwd = resolveAgainst(path, info.cwd || undefined);
    if (cwd !== undefined) this.entries.set(pid, { ...info, cwd });
  }

  /** set*uid/set*gid/capset succeeded: the ids the kernel reports afterwards. */
  onCredentials(
    pid: number,
    ids: Partial<
      Pick<
        ProcessInfo,
        "uid" | "gid" | "euid" | "egid" | "loginuid" | "capEffective" | "capPermitted" | "capInheritable"
      >
    >,
  ): void {
    const info = this.entries.get(pid) ?? this.get(pid);
    if (info === undefined) return;
    this.entries.set(pid, { ...info, ...ids });
  }

  onFork(event: ForkEvent): void {
    if (event.isThread) {
      // Threads share their process's entry; remember whose they are.
      this.rememberThread(event.childTid, event.tgid);
      return;
    }
    const parent = this.get(event.tgid);
    const child: ProcessInfo = {
      pid: event.childTgid,
      ppid: event.tgid,
      name: parent?.name ?? "",
      exePath: parent?.exePath ?? "",
      argv: parent?.argv ?? [],
      uid: parent?.uid ?? 0,
      gid: parent?.gid ?? 0,
      euid: parent?.euid ?? 0,
      egid: parent?.egid ?? 0,
      loginuid: parent?.loginuid ?? 4294967295,
      cwd: parent?.cwd ?? "",
      startNs: event.childStartNs,
      cgroupId: parent?.cgroupId ?? 0n,
      tty: parent?.tty ?? 0,
      sid: parent?.sid ?? 0,
      pgid: parent?.pgid ?? 0,
      vpid: event.childTgid,
      capEffective: parent?.capEffective ?? 0n,
      capPermitted: parent?.capPermitted ?? 0n,
      capInheritable: parent?.capInheritable ?? 0n,
      exeIno: parent?.exeIno ?? 0,
      exeCtimeNs: parent?.exeCtimeNs ?? 0n,
      exeMtimeNs: parent?.exeMtimeNs ?? 0n,
      exeUpperLayer: parent?.exeUpperLayer ?? false,
      exeFromMemfd: parent?.exeFromMemfd ?? false,
      container: parent?.container ?? HOST_CONTAINER,
      env: parent?.env ?? new Map(),
      source: "fork",
    };
    this.set(child);
    this.enforceBound(event.tsNs);
  }

  onExec(event: ExecEvent): ProcessInfo {
    const before = this.entries.get(event.tgid);
    // /proc/<pid> has what the exec record does not carry: the exe with
    // symlinks resolved (/bin/sh → /usr/bin/dash, which is what proc.exepath
    // means), cwd, environment, cgroup — and, for a record without the
    // kernel's exec facts (tty unset: schema 1), the inode, capabilities,
    // session. The process may be gone, or already be another image: then
    // /proc is not trusted.
    const now =
      event.tty !== undefined ? this.source.readExec(event.tgid) : this.source.readProcess(event.tgid);
    const nowComm = now === undefined ? undefined : "comm" in now ? now.comm : now.name;
    const fromProc = now !== undefined && nowComm === event.comm ? now : undefined;
    const full = fromProc !== undefined && "pid" in fromProc ? fromProc : undefined;
    const container = fromProc?.container ?? this.containerOfCgroup(event.cgroupId) ?? before?.container;
    if (fromProc === undefined && container === undefined && this.source !== NO_PROC) this.containerMisses++;
    const cwd = before?.cwd || fromProc?.cwd || "";
    const exePath = fromProc?.exePath || resolveAgainst(event.filename, cwd || "/") || event.filename;
    const info: ProcessInfo = {
      pid: event.tgid,
      ppid: event.ppid,
      name: event.comm,
      exePath,
      argv: event.argv,
      uid: event.uid,
      gid: event.gid,
      euid: event.euid,
      egid: event.egid,
      loginuid: event.loginuid,
      cwd,
      startNs: event.startNs,
      cgroupId: event.cgroupId,
      // The record's own facts (schema >= 2) win: they hold even when the process is already gone.
      tty: event.tty ?? full?.tty ?? before?.tty ?? 0,
      sid: event.sid ?? full?.sid ?? before?.sid ?? 0,
      pgid: event.pgid ?? full?.pgid ?? before?.pgid ?? 0,
      vpid: event.vpid ?? full?.vpid ?? before?.vpid ?? event.tgid,
      capEffective: event.capEffective ?? full?.capEffective ?? before?.capEffective ?? 0n,
      capPermitted: event.capPermitted ?? full?.capPermitted ?? before?.capPermitted ?? 0n,
      capInheritable: event.capInheritable ?? full?.capInheritable ?? before?.capInheritable ?? 0n,
      exeIno: event.exeIno ?? full?.exeIno ?? 0,
      exeCtimeNs: event.exeCtimeNs ?? full?.exeCtimeNs ?? 0n,
      exeMtimeNs: event.exeMtimeNs ?? full?.exeMtimeNs ?? 0n,
      exeUpperLayer: event.exeUpperLayer ?? full?.exeUpperLayer ?? false,
      exeFromMemfd: event.exeFromMemfd ?? full?.exeFromMemfd ?? false,
      // A runtime moves its child into the container's cgroup between fork and exec.
      container: container ?? HOST_CONTAINER,
      env: fromProc?.env ?? before?.env ?? new Map(),
      source: "exec",
    };
    this.set(info);
    this.enforceBound(event.tsNs);
    return this.entries.get(event.tgid) ?? info;
  }

  /**
   * The container of a cgroup v2 id from an exec record: the way to name a
   * short-lived process's container once /proc/<pid> is gone. undefined when
   * the id is unknown (0, or a cgroup the source cannot find).
   */
  private containerOfCgroup(id: bigint): ContainerInfo | undefined {
    if (id === 0n) return undefined;
    const known = this.byCgroup.get(id);
    if (known !== undefined) return known;
    const path = this.source.cgroupPath(id);
    if (path === undefined) return undefined;
    const info = this.containers.intern(containerFromCgroupPath(path));
    if (this.byCgroup.size >= MAX_THREADS) this.byCgroup.clear();
    this.byCgroup.set(id, info);
    return info;
  }

  /** Marks the process exited; it stays answerable for the retention time. */
  onExit(event: ExitEvent): void {
    const info = this.entries.get(event.tgid);
    if (info !== undefined) this.exited.push({ info, atNs: event.tsNs });
    this.reap(event.tsNs);
  }

  /** Drops exited processes older than the retention time. */
  reap(nowNs: bigint): void {
    while (this.exitedHead < this.exited.length) {
      const next = this.exited[this.exitedHead];
      if (next === undefined || nowNs - next.atNs < this.retentionNs) break;
      this.evictExited(next);
    }
    this.compactExited();
  }

  private evictExited(entry: ExitedEntry): void {
    // The pid may have been reused by a newer process: only remove the one that exited.
    if (this.entries.get(entry.info.pid) === entry.info) this.entries.delete(entry.info.pid);
    this.exitedHead++;
  }

  private compactExited(): void {
    if (this.exitedHead > 1024 && this.exitedHead * 2 > this.exited.length) {
      this.exited.splice(0, this.exitedHead);
      this.exitedHead = 0;
    }
  }

  private enforceBound(nowNs: bigint): void {
    if (this.entries.size <= this.maxEntries) return;
    this.reap(nowNs);
    // Still over: exited entries go first regardless of age, then the oldest inserted.
    while (this.entries.size > this.maxEntries && this.exitedHead < this.exited.length) {
      const next = this.exited[this.exitedHead];
      if (next !== undefined) this.evictExited(next);
    }
    this.compactExited();
    for (const pid of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(pid);
    }
  }
}

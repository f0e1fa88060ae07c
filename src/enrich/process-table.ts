import { readFileSync, readlinkSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { ExecEvent, ExitEvent, ForkEvent } from "../decode/events.js";
import { envOfInterest, listPids, readProcess } from "./proc-reader.js";
import { HOST_CONTAINER, type ProcessInfo, type ProcessLookup } from "./process-info.js";

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
}

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
  private readonly bootTimeNs: bigint;
  private readonly procRoot: string;
  private readonly maxEntries: number;
  private readonly retentionNs: bigint;
  private readonly readProc: boolean;
  /** Processes first heard of through an event and filled in from /proc. */
  lateFills = 0;
  /** Lookups nobody could answer. */
  misses = 0;

  constructor(options: ProcessTableOptions) {
    this.bootTimeNs = options.bootTimeNs;
    this.procRoot = options.procRoot ?? "/proc";
    this.maxEntries = options.maxEntries ?? 65_536;
    this.retentionNs = options.exitedRetentionNs ?? 10_000_000_000n;
    this.readProc = options.readProc ?? true;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Loads every live process from /proc. */
  seedFromProc(): number {
    for (const pid of listPids(this.procRoot)) {
      const info = readProcess(pid, this.bootTimeNs, this.procRoot);
      if (info !== undefined) this.entries.set(pid, info);
    }
    return this.entries.size;
  }

  /** Adds or replaces an entry (used by seeding from a capture and by tests). */
  set(info: ProcessInfo): void {
    this.entries.set(info.pid, info);
    this.missing.delete(info.pid);
  }

  get(pid: number): ProcessInfo | undefined {
    const known = this.entries.get(pid);
    if (known !== undefined || pid <= 0) return known;
    if (!this.readProc || this.missing.has(pid)) {
      this.misses++;
      return undefined;
    }
    // Started before we attached and never forked/exec'd since: ask /proc once.
    const info = readProcess(pid, this.bootTimeNs, this.procRoot);
    if (info === undefined) {
      this.missing.add(pid);
      this.misses++;
      return undefined;
    }
    this.lateFills++;
    this.entries.set(pid, info);
    return info;
  }

  onFork(event: ForkEvent): void {
    if (event.isThread) return; // threads share their process's entry
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
    const cwd = before?.cwd || this.readLink(event.tgid, "cwd");
    // The kernel gives the path as the caller wrote it; /proc/<pid>/exe has it
    // with symlinks resolved (/bin/sh → /usr/bin/dash), which is what
    // proc.exepath means. The process may already be gone: fall back.
    const exe = this.readLink(event.tgid, "exe");
    const exePath =
      exe !== "" ? exe : isAbsolute(event.filename) ? event.filename : resolve(cwd || "/", event.filename);
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
      tty: before?.tty ?? 0,
      sid: before?.sid ?? 0,
      pgid: before?.pgid ?? 0,
      vpid: before?.vpid ?? event.tgid,
      capEffective: before?.capEffective ?? 0n,
      capPermitted: before?.capPermitted ?? 0n,
      capInheritable: before?.capInheritable ?? 0n,
      exeIno: 0,
      exeUpperLayer: false,
      exeFromMemfd: false,
      container: before?.container ?? HOST_CONTAINER,
      env: this.readEnv(event.tgid) ?? before?.env ?? new Map(),
      source: "exec",
    };
    this.set(info);
    this.enforceBound(event.tsNs);
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

  private readLink(pid: number, name: "cwd" | "exe"): string {
    if (!this.readProc) return "";
    try {
      return readlinkSync(`${this.procRoot}/${pid}/${name}`).replace(/ \(deleted\)$/, "");
    } catch {
      return "";
    }
  }

  private readEnv(pid: number): Map<string, string> | undefined {
    if (!this.readProc) return undefined;
    try {
      return envOfInterest(readFileSync(`${this.procRoot}/${pid}/environ`, "latin1"));
    } catch {
      return undefined;
    }
  }
}

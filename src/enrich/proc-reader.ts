import {
  closeSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  statSync,
} from "node:fs";
import { ContainerRegistry, containerFromCgroupFile } from "./container.js";
import type { ProcessEnviron, ProcessInfo } from "./process-info.js";

/**
 * Reads what /proc says about one process. Used to seed the process table at
 * start and to fill in a process the table first hears of through an event
 * (it existed before the sensor attached). Every read is best effort: a
 * process can exit between two reads, and kernel threads have no exe.
 */

/** Environment variables copied into ProcessInfo.env (the rest is never kept). */
export const ENV_OF_INTEREST: ReadonlySet<string> = new Set([
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
  "KUBERNETES_SERVICE_HOST",
  "HOSTNAME",
]);

const USER_HZ = 100; // sysconf(_SC_CLK_TCK) on every Linux architecture we target
const NS_PER_TICK = 1_000_000_000n / BigInt(USER_HZ);
const UNSET_LOGINUID = 4294967295;

/** One buffer for every /proc read: readFileSync sizes by fstat, which /proc answers 0, and costs 2-5× more. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/** A /proc file's text (latin1); undefined when it cannot be read (the process is gone). */
export function readProcText(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    let n = 0;
    for (;;) {
      const got = readSync(fd, READ_BUFFER, n, READ_BUFFER.length - n, null);
      if (got === 0) return READ_BUFFER.toString("latin1", 0, n);
      n += got;
      // Larger than the buffer (a huge environment): read it whole the slow way.
      if (n === READ_BUFFER.length) return readFileSync(path, "latin1");
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

const readText = readProcText;

function readLink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

/** Splits a NUL-separated /proc file (cmdline, environ) into its strings. */
export function splitNul(text: string): string[] {
  if (text.length === 0) return [];
  const parts = text.split("\0");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/** How much of /proc/<pid>/environ proc.env keeps: enough for any real environment, bounded for a hostile one. */
export const ENVIRON_MAX_BYTES = 32 * 1024;

/**
 * A process's whole environment for proc.env, with the comm and start time
 * that tell which image it belongs to; undefined when the process is gone.
 * The block is cut at `maxBytes` and a partial last entry dropped.
 */
export function readEnviron(
  pid: number,
  bootTimeNs: bigint,
  procRoot = "/proc",
  maxBytes = ENVIRON_MAX_BYTES,
): ProcessEnviron | undefined {
  const dir = `${procRoot}/${pid}`;
  const raw = readText(`${dir}/environ`);
  const stat = raw === undefined ? undefined : parseStat(readText(`${dir}/stat`) ?? "");
  if (raw === undefined || stat === undefined) return undefined;
  const cut = raw.length > maxBytes;
  const entries = splitNul(cut ? raw.slice(0, maxBytes) : raw);
  if (cut && raw[maxBytes - 1] !== "\0") entries.pop();
  return { entries, comm: stat.comm, startNs: bootTimeNs + stat.startTicks * NS_PER_TICK };
}

/** Picks the variables of interest out of a NUL-separated environment block. */
export function envOfInterest(environ: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of splitNul(environ)) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    if (ENV_OF_INTEREST.has(key)) env.set(key, entry.slice(eq + 1));
  }
  return env;
}

interface StatFields {
  comm: string;
  ppid: number;
  pgrp: number;
  session: number;
  ttyNr: number;
  startTicks: bigint;
}

/** Parses /proc/<pid>/stat; comm may hold spaces and parentheses, so split at the last ')'. */
export function parseStat(stat: string): StatFields | undefined {
  const open = stat.indexOf("(");
  const close = stat.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const rest = stat.slice(close + 2).split(" ");
  // rest[0] is field 3 (state); ppid is field 4, pgrp 5, session 6,
  // tty_nr 7, starttime 22.
  const ppid = Number(rest[1]);
  const start = rest[19];
  if (!Number.isFinite(ppid) || start === undefined) return undefined;
  return {
    comm: stat.slice(open + 1, close),
    ppid,
    pgrp: Number(rest[2] ?? 0),
    session: Number(rest[3] ?? 0),
    ttyNr: Number(rest[4] ?? 0),
    startTicks: BigInt(start),
  };
}

/** First numeric field of a "Uid:\treal\teffective\tsaved\tfs" line of /proc/<pid>/status. */
function statusIds(status: string, key: "Uid" | "Gid"): [number, number] {
  const at = status.indexOf(`\n${key}:`);
  if (at < 0) return [0, 0];
  const line = status.slice(at + key.length + 2, status.indexOf("\n", at + 1));
  const ids = line.trim().split(/\s+/);
  return [Number(ids[0] ?? 0), Number(ids[1] ?? 0)];
}

const CAP_PATTERNS = {
  CapEff: /\nCapEff:\s*([0-9a-f]+)/,
  CapPrm: /\nCapPrm:\s*([0-9a-f]+)/,
  CapInh: /\nCapInh:\s*([0-9a-f]+)/,
} as const;

/** A "CapEff:\t000001ffffffffff" line of /proc/<pid>/status as a mask (0n when absent). */
function statusCap(status: string, key: keyof typeof CAP_PATTERNS): bigint {
  const match = CAP_PATTERNS[key].exec(status);
  return match?.[1] === undefined ? 0n : BigInt(`0x${match[1]}`);
}

/** The Tgid: line of /proc/<tid>/status: the process a thread belongs to. */
export function statusTgid(status: string): number | undefined {
  const match = /(?:^|\n)Tgid:\s*(\d+)/.exec(status);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** The innermost NSpid: value: the pid inside the process's own pid namespace. */
function statusVpid(status: string, pid: number): number {
  const match = /\nNSpid:([^\n]*)/.exec(status);
  const ids = match?.[1]?.trim().split(/\s+/);
  const last = ids?.[ids.length - 1];
  return last === undefined || last === "" ? pid : Number(last);
}

/** One line of /proc/<pid>/mountinfo, the parts the upper-layer test needs. */
export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
  /** overlayfs upperdir= from the super options ("" for other file systems). */
  readonly upperDir: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Parses /proc/<pid>/mountinfo: "id parent maj:min root mountpoint opts [tags] - fstype source superopts". */
export function parseMountInfo(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const mountPoint = left[4];
    const fsType = right[0];
    if (mountPoint === undefined || fsType === undefined) continue;
    let upperDir = "";
    if (fsType === "overlay") {
      for (const opt of (right[2] ?? "").split(",")) {
        if (opt.startsWith("upperdir=")) upperDir = unescapeMount(opt.slice("upperdir=".length));
      }
    }
    mounts.push({ mountPoint: unescapeMount(mountPoint), fsType, upperDir });
  }
  return mounts;
}

/** The mount a path lies on: the longest mount point that prefixes it (the last one mounted wins ties). */
export function mountOf(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const covers = mp === "/" || path === mp || path.startsWith(mp.endsWith("/") ? mp : `${mp}/`);
    if (covers && (best === undefined || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/**
 * Whether an executable path lies in an overlayfs upper layer: the file
 * exists in the mount's upperdir (so it was written or copied up after the
 * overlay was mounted, e.g. dropped into a running container). A whiteout
 * (character device 0:0) in the upper layer is a deletion, not a file.
 */
export function isInUpperLayer(mounts: readonly MountEntry[], exePath: string): boolean {
  const mount = mountOf(mounts, exePath);
  if (mount === undefined || mount.fsType !== "overlay" || mount.upperDir === "") return false;
  const rel = mount.mountPoint === "/" ? exePath : exePath.slice(mount.mountPoint.length);
  try {
    const st = lstatSync(`${mount.upperDir}${rel}`);
    return !(st.isCharacterDevice() && st.rdev === 0);
  } catch {
    return false;
  }
}

/** Facts about a process's executable that need a stat or the mount table. */
export interface ExeFacts {
  readonly exeIno: number;
  readonly exeCtimeNs: bigint;
  readonly exeMtimeNs: bigint;
  readonly exeFromMemfd: boolean;
  readonly exeUpperLayer: boolean;
}

/** Memoizes parsed mountinfo per mount namespace for a few seconds: every exec would otherwise reparse it. */
export class MountCache {
  private readonly byNs = new Map<string, { mounts: MountEntry[]; atMs: number }>();
  constructor(private readonly ttlMs = 5000) {}

  mounts(dir: string): MountEntry[] {
    const ns = readLink(`${dir}/ns/mnt`);
    const now = Date.now();
    const cached = ns === "" ? undefined : this.byNs.get(ns);
    if (cached !== undefined && now - cached.atMs < this.ttlMs) return cached.mounts;
    const mounts = parseMountInfo(readText(`${dir}/mountinfo`) ?? "");
    if (ns !== "") {
      if (this.byNs.size > 256) this.byNs.clear();
      this.byNs.set(ns, { mounts, atMs: now });
    }
    return mounts;
  }
}

const DEFAULT_MOUNTS = new MountCache();

/** exe inode (stat through the /proc/<pid>/exe link), memfd origin, overlay upper layer. */
export function readExeFacts(dir: string, exeLink: string, mounts: MountCache = DEFAULT_MOUNTS): ExeFacts {
  let exeIno = 0;
  let exeCtimeNs = 0n;
  let exeMtimeNs = 0n;
  try {
    const st = statSync(`${dir}/exe`, { bigint: true });
    exeIno = Number(st.ino);
    exeCtimeNs = st.ctimeNs;
    exeMtimeNs = st.mtimeNs;
  } catch {
    // kernel thread or gone
  }
  const exeFromMemfd = exeLink.startsWith("/memfd:");
  const exeUpperLayer =
    exeLink !== "" && !exeFromMemfd && exeLink.startsWith("/")
      ? isInUpperLayer(mounts.mounts(dir), exeLink.replace(/ \(deleted\)$/, ""))
      : false;
  return { exeIno, exeCtimeNs, exeMtimeNs, exeFromMemfd, exeUpperLayer };
}

/** Options of readProcess beyond the pid. */
export interface ReadProcessOptions {
  /** Shares one ContainerInfo per container; without it each read builds its own. */
  containers?: ContainerRegistry;
  mounts?: MountCache;
}

/**
 * Reads /proc/<pid>; undefined when the process is gone.
 * @param bootTimeNs epoch ns at boot, to turn the start time in ticks into epoch ns.
 */
export function readProcess(
  pid: number,
  bootTimeNs: bigint,
  procRoot = "/proc",
  options: ReadProcessOptions = {},
): ProcessInfo | undefined {
  const dir = `${procRoot}/${pid}`;
  const statText = readText(`${dir}/stat`);
  if (statText === undefined) return undefined;
  const stat = parseStat(statText);
  if (stat === undefined) return undefined;
  const status = readText(`${dir}/status`) ?? "";
  const [uid, euid] = statusIds(status, "Uid");
  const [gid] = statusIds(status, "Gid");
  const loginuid = Number(readText(`${dir}/loginuid`) ?? UNSET_LOGINUID);
  const exeLink = readLink(`${dir}/exe`);
  const exe = readExeFacts(dir, exeLink, options.mounts);
  const cgroup = containerFromCgroupFile(readText(`${dir}/cgroup`) ?? "");
  return {
    pid,
    ppid: stat.ppid,
    name: stat.comm,
    exePath: exeLink.replace(/ \(deleted\)$/, ""),
    argv: splitNul(readText(`${dir}/cmdline`) ?? ""),
    uid,
    gid,
    euid,
    loginuid: Number.isFinite(loginuid) ? loginuid : UNSET_LOGINUID,
    cwd: readLink(`${dir}/cwd`),
    startNs: bootTimeNs + stat.startTicks * NS_PER_TICK,
    cgroupId: 0n,
    egid: statusIds(status, "Gid")[1],
    tty: stat.ttyNr,
    sid: stat.session,
    pgid: stat.pgrp,
    vpid: statusVpid(status, pid),
    capEffective: statusCap(status, "CapEff"),
    capPermitted: statusCap(status, "CapPrm"),
    capInheritable: statusCap(status, "CapInh"),
    exeIno: exe.exeIno,
    exeCtimeNs: exe.exeCtimeNs,
    exeMtimeNs: exe.exeMtimeNs,
    exeUpperLayer: exe.exeUpperLayer,
    exeFromMemfd: exe.exeFromMemfd,
    container: (options.containers ?? new ContainerRegistry(1)).intern(cgroup),
    env: envOfInterest(readText(`${dir}/environ`) ?? ""),
    source: "proc",
  };
}

/**
 * What an exec needs from /proc when its record already carries the rest
 * (ids, tty/session, capabilities, exe inode and flags): five small reads
 * instead of a whole readProcess.
 */
export interface ExecProcFacts {
  /** To tell the image we read from a later one (the process may have exec'd again). */
  readonly comm: string;
  /** /proc/<pid>/exe: the executable with symlinks resolved. */
  readonly exePath: string;
  readonly cwd: string;
  readonly env: ReadonlyMap<string, string>;
  readonly container: ProcessInfo["container"];
}

export function readExecFacts(pid: number, procRoot = "/proc"): ExecProcFacts | undefined {
  const dir = `${procRoot}/${pid}`;
  const comm = readText(`${dir}/comm`);
  if (comm === undefined) return undefined;
  return {
    comm: comm.endsWith("\n") ? comm.slice(0, -1) : comm,
    exePath: readLink(`${dir}/exe`).replace(/ \(deleted\)$/, ""),
    cwd: readLink(`${dir}/cwd`),
    env: envOfInterest(readText(`${dir}/environ`) ?? ""),
    container: new ContainerRegistry(1).intern(containerFromCgroupFile(readText(`${dir}/cgroup`) ?? "")),
  };
}

/** Every numeric entry of /proc: the live processes (thread groups). */
export function listPids(procRoot = "/proc"): number[] {
  const pids: number[] = [];
  for (const name of readdirSync(procRoot)) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid > 0) pids.push(pid);
  }
  return pids;
}

/** Boot time as epoch ns, from /proc/stat's btime (seconds): the fallback when no stream header gives it. */
export function procBootTimeNs(procRoot = "/proc"): bigint {
  const stat = readText(`${procRoot}/stat`) ?? "";
  const match = /\nbtime (\d+)/.exec(stat);
  return match?.[1] === undefined ? 0n : BigInt(match[1]) * 1_000_000_000n;
}

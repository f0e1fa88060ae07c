/**
 * What the process table knows about one process (a thread group).
 * Kept mutable inside enrich/; every later stage reads it only.
 */
export interface ProcessInfo {
  /** Process id (tgid). */
  pid: number;
  /** Parent's process id; 0 when unknown. */
  ppid: number;
  /** Kernel comm: Falco's proc.name. */
  name: string;
  /** Full path of the executable: Falco's proc.exepath. */
  exePath: string;
  /** argv, argv[0] included (Falco's proc.exe is argv[0], proc.args the rest). */
  argv: readonly string[];
  uid: number;
  gid: number;
  euid: number;
  /** Audit login uid; 4294967295 when unset. */
  loginuid: number;
  /** Working directory when known ("" otherwise). */
  cwd: string;
  /** Process start time, epoch ns (0n when unknown). */
  startNs: bigint;
  /** cgroup v2 id from the kernel (0n when unknown). */
  cgroupId: bigint;
  /** Environment variables of interest (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, …). */
  env: ReadonlyMap<string, string>;
  /** Where this entry came from: an exec we saw, a fork of a known process, or /proc at start. */
  source: "exec" | "fork" | "proc";
}

/** Looks processes up by pid; ancestry is walked through ppid. */
export interface ProcessLookup {
  get(pid: number): ProcessInfo | undefined;
}

/** uid/gid → names. */
export interface UserLookup {
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
}

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
  /** Effective gid (Falco's group.gid is the effective one in libsinsp's thread info). */
  egid: number;
  /** Audit login uid; 4294967295 when unset. */
  loginuid: number;
  /** Working directory when known ("" otherwise). */
  cwd: string;
  /** Process start time, epoch ns (0n when unknown). */
  startNs: bigint;
  /** cgroup v2 id from the kernel (0n when unknown). */
  cgroupId: bigint;
  /** Controlling terminal device number (0 = none): Falco's proc.tty. */
  tty: number;
  /** Session id and process group id (0 when unknown): proc.sid, proc.vpgid. */
  sid: number;
  pgid: number;
  /** pid as seen inside the process's own pid namespace (= pid on the host). */
  vpid: number;
  /** Capability sets as 64-bit masks (0n when unknown): proc.cap_effective, … */
  capEffective: bigint;
  capPermitted: bigint;
  capInheritable: bigint;
  /** The executable's inode number (0 when unknown): proc.exe_ino. */
  exeIno: number;
  /** The executable's inode change and modification times, epoch ns (0n when unknown): proc.exe_ino.ctime/mtime. */
  exeCtimeNs: bigint;
  exeMtimeNs: bigint;
  /** The executable lives in an overlayfs upper layer (written after the container started). */
  exeUpperLayer: boolean;
  /** The executable is a memfd (fileless execution). */
  exeFromMemfd: boolean;
  /** The container the process runs in; HOST_CONTAINER outside containers. */
  container: ContainerInfo;
  /** Environment variables of interest (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, …). */
  env: ReadonlyMap<string, string>;
  /** Where this entry came from: an exec we saw, a fork of a known process, or /proc at start. */
  source: "exec" | "fork" | "proc";
}

/** Looks processes up by pid; ancestry is walked through ppid. */
export interface ProcessLookup {
  get(pid: number): ProcessInfo | undefined;
  /** Where /proc is read (the process table's ProcSource); proc.env reads a process's environment through it. */
  readonly source?: EnvironSource;
}

/** A process's environment as /proc/<pid>/environ shows it, with what identifies the image it belongs to. */
export interface ProcessEnviron {
  /** NAME=value entries in order, cut at a size bound (a partial last entry is dropped). */
  readonly entries: readonly string[];
  /** /proc/<pid>/stat comm and start time (epoch ns): the caller checks they are the process it means. */
  readonly comm: string;
  readonly startNs: bigint;
}

export interface EnvironSource {
  /** undefined when the process is gone, or the source must not read this machine (replays). */
  readEnviron?(pid: number): ProcessEnviron | undefined;
}

/** uid/gid → names. */
export interface UserLookup {
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
}

/**
 * A container and, when its cgroup path or runtime says so, its Kubernetes
 * pod. Shared by every process of the container (one object per container).
 */
export interface ContainerInfo {
  /** Falco's container.id: 12 hex characters for a runtime's 64-hex id, "host" outside containers. */
  readonly id: string;
  /** The full id as the cgroup path gave it ("" on the host). */
  readonly fullId: string;
  /** docker | containerd | cri-o | podman | host | "" when unknown. */
  readonly runtime: string;
  /** From the runtime when it could be asked ("" otherwise). */
  readonly name: string;
  readonly image: string;
  readonly labels: ReadonlyMap<string, string>;
  /** Kubernetes pod identity when the cgroup path or runtime labels carry it. */
  readonly k8s: K8sInfo | undefined;
  /** Runs privileged (Docker/Podman HostConfig.Privileged); undefined until a runtime said so. */
  readonly privileged?: boolean;
  /** The container's mounts as the runtime lists them; undefined until a runtime answered. */
  readonly mounts?: readonly ContainerMount[];
}

/** One mount of a container, as Docker/Podman inspect lists it (Falco's container.mounts items). */
export interface ContainerMount {
  readonly source: string;
  readonly dest: string;
  /** "" when the runtime gives none ("z", "ro", …). */
  readonly mode: string;
  readonly rw: boolean;
  /** "" when the runtime gives none ("rprivate", …). */
  readonly propagation: string;
}

export interface K8sInfo {
  readonly podUid: string;
  readonly podName: string;
  readonly namespace: string;
  readonly containerName: string;
  readonly podLabels: ReadonlyMap<string, string>;
}

/** Processes outside any container. */
export const HOST_CONTAINER: ContainerInfo = Object.freeze({
  id: "host",
  fullId: "",
  runtime: "host",
  name: "host",
  image: "",
  labels: new Map<string, string>(),
  k8s: undefined,
});

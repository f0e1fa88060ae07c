/**
 * Typed events, as the decoder produces them from wire records
 * (bpf/include/peregrine_wire.h). Every stage after decode sees only these.
 *
 * Times are epoch nanoseconds (bigint: boot time + the kernel's boot clock),
 * so they keep nanosecond precision for OTLP.
 */

/** Falco's evt.type names for the syscalls the sensor records. */
export type SyscallName = "open" | "openat" | "openat2" | "creat" | "connect";

interface EventCommon {
  /** Epoch nanoseconds of the kernel event. */
  readonly tsNs: bigint;
  /** Process id (the kernel's tgid). */
  readonly tgid: number;
  /** Thread id. */
  readonly tid: number;
  /** enum pg_record_flags bits (PG_F_TRUNCATED, PG_F_THREAD). */
  readonly recordFlags: number;
}

/** A process image was replaced (execve/execveat succeeded). */
export interface ExecEvent extends EventCommon {
  readonly kind: "exec";
  /** Falco's name for it. */
  readonly evtType: "execve";
  readonly ppid: number;
  readonly uid: number;
  readonly gid: number;
  readonly euid: number;
  readonly egid: number;
  /** Audit login uid; 4294967295 (-1) when unset. */
  readonly loginuid: number;
  readonly cgroupId: bigint;
  /** Task start time, epoch ns. */
  readonly startNs: bigint;
  /** Kernel comm (at most 15 bytes). */
  readonly comm: string;
  /** The path given to execve. */
  readonly filename: string;
  /** argv, argv[0] included. */
  readonly argv: readonly string[];
}

/** A task was created. tgid/tid are the parent's. */
export interface ForkEvent extends EventCommon {
  readonly kind: "fork";
  readonly evtType: "clone";
  readonly childTgid: number;
  readonly childTid: number;
  /** Child start time, epoch ns. */
  readonly childStartNs: bigint;
  /** The new task is a thread of the parent's process, not a new process. */
  readonly isThread: boolean;
}

/** A whole thread group exited. */
export interface ExitEvent extends EventCommon {
  readonly kind: "exit";
  readonly evtType: "procexit";
  /** wait(2) status: (code << 8) | signal. */
  readonly exitCode: number;
}

/** open/openat/openat2/creat returned. */
export interface OpenEvent extends EventCommon {
  readonly kind: "open";
  readonly evtType: "open" | "openat" | "openat2" | "creat";
  /** The fd, or -errno. */
  readonly ret: number;
  /** O_* flags. */
  readonly openFlags: number;
  readonly mode: number;
  /** -100 (AT_FDCWD) for open/creat. */
  readonly dirfd: number;
  /** The path exactly as the caller passed it. */
  readonly path: string;
}

/** connect returned. */
export interface ConnectEvent extends EventCommon {
  readonly kind: "connect";
  readonly evtType: "connect";
  /** 0, or -errno (-115 EINPROGRESS for a non-blocking socket). */
  readonly ret: number;
  readonly fd: number;
  /** 1 unix, 2 inet, 10 inet6. */
  readonly family: number;
  /** Destination address as text (dotted quad, or RFC 5952 IPv6); "" if none. */
  readonly daddr: string;
  readonly dport: number;
  /** Local address as text; "" when the kernel had not bound one. */
  readonly saddr: string;
  readonly sport: number;
  /** SOCK_STREAM 1, SOCK_DGRAM 2, … */
  readonly sockType: number;
  /** IPPROTO_TCP 6, IPPROTO_UDP 17, … (0 when unknown). */
  readonly protocol: number;
}

/** Everything the kernel reports about a process or a syscall. */
export type SensorEvent = ExecEvent | ForkEvent | ExitEvent | OpenEvent | ConnectEvent;

/** Kernel counters summed over CPUs, totals since the programs were loaded. */
export interface KernelStats {
  readonly kind: "stats";
  readonly tsNs: bigint;
  readonly eventsSeen: number;
  readonly eventsEmitted: number;
  readonly ringbufFull: number;
  readonly truncated: number;
  readonly readFailed: number;
}

/** What the decoder yields: an event, or a counters snapshot. */
export type DecodedRecord = SensorEvent | KernelStats;

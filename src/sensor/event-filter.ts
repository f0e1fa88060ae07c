/**
 * Which syscalls the kernel sends: the event types the loaded rules can match,
 * plus what the state tables need to stay right (process tree, fd table,
 * cwd, credentials). Everything else is dropped in the kernel before any
 * work (bpf/peregrine.bpf.c, pg_filter), and counted as filtered.
 */
import { DESCRIPTOR_SYSCALLS } from "../decode/events.js";
import { PG_SYSCALL } from "../decode/layout.generated.js";
import { SYSCALL_IDS } from "../decode/syscall-args.js";

/**
 * Needed by src/enrich whatever the rules say: process lifecycle (fork/exec/
 * exit), the fd table (socket and connection ends, dup, and every other
 * syscall that makes a descriptor: pipe, eventfd, …, close_range), cwd
 * (chdir) and credentials (set*id, capset). File opens are not: without a
 * rule on them the fd table keeps sockets and what /proc said at start.
 *
 * close is not either: the fd table replaces an entry (a file's or a
 * socket's) whenever its number is reused, which these syscalls make sure
 * it sees, so a closed descriptor's entry only stays until then (or until
 * exec or exit). Closes are sent only when a rule can match close, and then
 * every one of them; with none, the kernel runs no program on close at all.
 *
 * fcntl is sent only in part for the state alone (the F_DUPFD* commands),
 * whole when a rule can match it (PG_FILTER_ALL_FCNTL below).
 */
export const STATE_EVENT_TYPES: ReadonlySet<string> = new Set([
  "execve",
  "execveat",
  "clone",
  "clone3",
  "fork",
  "vfork",
  "procexit",
  "dup",
  "dup2",
  "dup3",
  "socket",
  "socketpair",
  "connect",
  "accept",
  "accept4",
  "bind",
  "listen",
  "chdir",
  "fchdir",
  "setuid",
  "setgid",
  "setresuid",
  "setresgid",
  "setreuid",
  "setregid",
  "capset",
  ...DESCRIPTOR_SYSCALLS,
]);

/**
 * Filter slots (enum pg_syscall, not syscalls) the agent adds to the ids:
 * every fcntl when a requested type is fcntl (as state alone only its
 * F_DUPFD* are sent), and recvmsg that received descriptors whenever the
 * state tables are kept. close needs none: it is sent whole, and only when
 * requested.
 */
const ALL_FCNTL = PG_SYSCALL.PG_FILTER_ALL_FCNTL;
const RECEIVED_FDS = PG_SYSCALL.PG_FILTER_RECEIVED_FDS;

export interface KernelFilter {
  /** enum pg_syscall ids to send, ascending (with the PG_FILTER_* slots that apply). */
  readonly ids: readonly number[];
  /** The evt.type names they stand for (rules' ∪ state's, known to the sensor). */
  readonly eventTypes: ReadonlySet<string>;
  /** Names in the request the sensor cannot produce (they can never match). */
  readonly unknown: readonly string[];
}

/**
 * The kernel filter for a set of Falco evt.type names. `withState: false`
 * leaves out STATE_EVENT_TYPES (captures and tests that want exactly a set).
 */
export function kernelFilter(evtTypes: ReadonlySet<string>, withState = true): KernelFilter {
  const wanted = new Set<string>();
  const unknown: string[] = [];
  const ids = new Set<number>();
  const add = (name: string): void => {
    const id = SYSCALL_IDS.get(name);
    if (id === undefined) {
      unknown.push(name);
      return;
    }
    ids.add(id);
    wanted.add(name);
  };
  for (const name of evtTypes) add(name);
  // Asked for by the caller (a rule), not only by the state: sent whole.
  if (evtTypes.has("fcntl")) ids.add(ALL_FCNTL);
  if (withState) {
    for (const name of STATE_EVENT_TYPES) add(name);
    ids.add(RECEIVED_FDS);
  }
  return { ids: [...ids].sort((a, b) => a - b), eventTypes: wanted, unknown };
}

/** The loader's stdin command that installs a filter. */
export function filterCommand(filter: KernelFilter): string {
  return `syscalls ${filter.ids.join(",")}\n`;
}

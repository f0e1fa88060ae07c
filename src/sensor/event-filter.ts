/**
 * Which syscalls the kernel sends: the event types the loaded rules can match,
 * plus what the state tables need to stay right (process tree, fd table,
 * cwd, credentials). Everything else is dropped in the kernel before any
 * work (bpf/peregrine.bpf.c, pg_filter), and counted as filtered.
 */
import { SYSCALL_IDS } from "../decode/syscall-args.js";

/**
 * Needed by src/enrich whatever the rules say: process lifecycle (fork/exec/
 * exit), the fd table (socket and connection ends, dup, close), cwd (chdir)
 * and credentials (set*id, capset). File opens are not: without a rule on
 * them the fd table keeps sockets and what /proc said at start.
 */
export const STATE_EVENT_TYPES: ReadonlySet<string> = new Set([
  "execve",
  "execveat",
  "clone",
  "clone3",
  "fork",
  "vfork",
  "procexit",
  "close",
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
]);

export interface KernelFilter {
  /** enum pg_syscall ids to send, ascending. */
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
  if (withState) for (const name of STATE_EVENT_TYPES) add(name);
  return { ids: [...ids].sort((a, b) => a - b), eventTypes: wanted, unknown };
}

/** The loader's stdin command that installs a filter. */
export function filterCommand(filter: KernelFilter): string {
  return `syscalls ${filter.ids.join(",")}\n`;
}

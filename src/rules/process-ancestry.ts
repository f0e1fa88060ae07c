/**
 * Walking a process's ancestry through the process table (ppid links), for
 * proc.pname, proc.aname[N] and friends. The walk is bounded: a table with a
 * ppid cycle (pid reuse) must not hang the pipeline.
 */
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { ProcessInfo, ProcessLookup } from "../enrich/process-info.js";

/** Deeper than any real process tree; stops walks over corrupt tables. */
export const MAX_ANCESTRY_DEPTH = 64;

export function parentOf(p: ProcessInfo, processes: ProcessLookup): ProcessInfo | undefined {
  if (p.ppid <= 0 || p.ppid === p.pid) return undefined;
  return processes.get(p.ppid);
}

/** Level 0 is the process itself, 1 its parent, 2 its grandparent … */
export function ancestorAt(e: EnrichedEvent, level: number): ProcessInfo | undefined {
  if (level > MAX_ANCESTRY_DEPTH) return undefined;
  let cur = e.process;
  for (let i = 0; i < level && cur !== undefined; i++) cur = parentOf(cur, e.processes);
  return cur;
}

/** True when `test` holds for some ancestor (parent upwards; the process itself excluded, as in libsinsp). */
export function someAncestor(e: EnrichedEvent, test: (p: ProcessInfo) => boolean): boolean {
  let cur = e.process === undefined ? undefined : parentOf(e.process, e.processes);
  for (let depth = 0; cur !== undefined && depth < MAX_ANCESTRY_DEPTH; depth++) {
    if (test(cur)) return true;
    cur = parentOf(cur, e.processes);
  }
  return false;
}

/**
 * proc.env: a process's environment, read from /proc/<pid>/environ through
 * the process table's ProcSource the first time a rule asks, and kept with
 * the process entry (a WeakMap keyed by it, so it goes when the entry goes;
 * an exec makes a new entry, hence a new read). Replays, whose ProcSource
 * must not read this machine, have no environment: proc.env is missing.
 */
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { ProcessInfo } from "../enrich/process-info.js";

/** /proc start times are in clock ticks and boot time in seconds: allow for both roundings. */
const START_TOLERANCE_NS = 2_000_000_000n;

/** null: read once and found nothing usable (gone, another image, no source). */
const environs = new WeakMap<ProcessInfo, readonly string[] | null>();

/** The NAME=value entries of the event's process, or undefined when they cannot be known. */
export function processEnviron(e: EnrichedEvent): readonly string[] | undefined {
  const p = e.process;
  if (p === undefined) return undefined;
  const known = environs.get(p);
  if (known !== undefined) return known ?? undefined;
  const read = e.processes.source?.readEnviron?.(p.pid);
  let entries: readonly string[] | null = null;
  // The pid may be another process by now (an exec, a reuse): only this image's environment is its answer.
  if (read !== undefined && read.comm === p.name) {
    const skew = p.startNs > 0n ? read.startNs - p.startNs : 0n;
    if (skew <= START_TOLERANCE_NS && skew >= -START_TOLERANCE_NS) entries = read.entries;
  }
  environs.set(p, entries);
  return entries ?? undefined;
}

/** Falco's proc.env: the entries joined by spaces ("A=1 B=2"). */
export function environText(entries: readonly string[]): string {
  return entries.join(" ");
}

/** Falco's proc.env[NAME]: the value of NAME (its first definition), undefined when unset. */
export function environValue(entries: readonly string[], name: string): string | undefined {
  const prefix = `${name}=`;
  for (const entry of entries) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}

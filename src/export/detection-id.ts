import { randomBytes } from "node:crypto";
import type { Detection } from "../rules/detection.js";

/**
 * A unique id per detection, shared by everything that reports it: the log
 * record's `peregrine.detection.id` attribute and the exemplar on
 * peregrine_rule_matches_total, so a spike on a graph leads to the exact
 * record. 12 random hex characters per agent run (2^48: two runs colliding
 * is negligible) then a 10-hex-digit counter: unique without a syscall per id.
 *
 * Both ask while the pipeline handles the detection, one right after the
 * other (pipeline.ts: the metrics, then the sinks), so the ids of the last
 * few detections are remembered, by identity, in a small ring. Why not a
 * WeakMap of every detection: an insert per detection into a table that
 * grows with the rate and is swept at each GC cost about 1 µs per
 * detection (bench/export-throughput.mjs, CPU profile). A detection asked
 * about again after RECENT others gets a new id.
 */
const RUN_PREFIX = randomBytes(6).toString("hex");
const RECENT = 8;
const recentDetections: (Detection | undefined)[] = new Array(RECENT).fill(undefined);
const recentIds: string[] = new Array(RECENT).fill("");
let slot = 0;
let next = 0;

export function detectionId(detection: Detection): string {
  for (let i = 0; i < RECENT; i++) {
    if (recentDetections[i] === detection) return recentIds[i] as string;
  }
  const id = RUN_PREFIX + (next++).toString(16).padStart(10, "0");
  recentDetections[slot] = detection;
  recentIds[slot] = id;
  slot = (slot + 1) % RECENT;
  return id;
}

import { randomBytes } from "node:crypto";
import type { Detection } from "../rules/detection.js";

/**
 * A unique id per detection, shared by everything that reports it: the log
 * record's `peregrine.detection.id` attribute and the exemplar on
 * peregrine_rule_matches_total, so a spike on a graph leads to the exact
 * record. 12 random hex characters per agent run (2^48: two runs colliding
 * is negligible) then a 10-hex-digit counter: unique without a syscall per id.
 */
const RUN_PREFIX = randomBytes(6).toString("hex");
const ids = new WeakMap<Detection, string>();
let next = 0;

export function detectionId(detection: Detection): string {
  let id = ids.get(detection);
  if (id === undefined) {
    id = RUN_PREFIX + (next++).toString(16).padStart(10, "0");
    ids.set(detection, id);
  }
  return id;
}

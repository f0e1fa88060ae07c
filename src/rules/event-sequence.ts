/**
 * evt.num: the event's sequence number, 1 for the first event this agent
 * evaluated. Ruleset.evaluate numbers each event once, before any rule runs,
 * and the pipeline hands every event it decodes to evaluate, so the number
 * counts the events the agent saw; it survives rules reloads (one counter per
 * process, not per ruleset). 0 is never an event's number, so upstream's
 * `never_true` macro (`evt.num = 0`) stays false.
 */
import type { EnrichedEvent } from "../enrich/enriched-event.js";

const sequence = { count: 0, event: undefined as EnrichedEvent | undefined, num: 0 };

/** Gives `e` the next number, unless it already is the event being numbered (two rulesets, one event). */
export function numberEvent(e: EnrichedEvent): void {
  if (sequence.event === e) return;
  sequence.event = e;
  sequence.num = ++sequence.count;
}

/** evt.num of `e`: defined while `e` is the event being evaluated (rules and their outputs). */
export function eventNumber(e: EnrichedEvent): number | undefined {
  return sequence.event === e ? sequence.num : undefined;
}

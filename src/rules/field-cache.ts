/**
 * Per-event memo of costly field values. Several rules (and the output of
 * the one that fires) often read the same fields of one event (proc.cmdline,
 * fd.name); each costly field gets a slot holding the last event it was
 * extracted for and the value, so an event pays for each at most once and the
 * hot path allocates nothing.
 */
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { Extractor } from "./fields.js";
import type { RuntimeValue } from "./values.js";

export class FieldCache {
  readonly #slots = new Map<string, Extractor>();
  readonly #events: (EnrichedEvent | undefined)[] = [];
  readonly #values: (RuntimeValue | undefined)[] = [];

  /** The extractor for `key`, memoized per event; one slot per distinct key. */
  cached(key: string, extract: Extractor): Extractor {
    const existing = this.#slots.get(key);
    if (existing !== undefined) return existing;
    const slot = this.#events.length;
    this.#events.push(undefined);
    this.#values.push(undefined);
    const events = this.#events;
    const values = this.#values;
    const memo: Extractor = (e) => {
      if (events[slot] === e) return values[slot];
      const v = extract(e);
      events[slot] = e;
      values[slot] = v;
      return v;
    };
    this.#slots.set(key, memo);
    return memo;
  }
}

/**
 * Per-event memo of macro results, shared by the rules of one ruleset. Most
 * rules for an event type start with the same macros (file_opened_for_reading,
 * open_write …); compiled per rule, each rule would evaluate them again for
 * the same event. Uses of a macro whose compiled predicates are identical
 * share one memoized predicate: a slot holding the last event it answered for
 * and the answer, so the hot path allocates nothing (as field-cache.ts does
 * for field values).
 *
 * Identical means: same macro (a ruleset has one definition per name, and its
 * expanded tree is one object), compiled against the same field registry and
 * field cache (one per ruleset), with the same binding inputs. Of those, only
 * the rule's event-type set (evt.type folding, event-argument binding) and
 * whether unsupported fields are reported or are errors vary between rules,
 * so they are the key. One memo per ruleset: a hot reload builds a new one.
 */
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { EventTypeSet } from "./event-types.js";

type Predicate = (e: EnrichedEvent) => boolean;

/** What a macro's compiled predicate depends on besides the macro itself. */
export function macroKey(name: string, eventTypes: EventTypeSet, reportsUnsupported: boolean): string {
  const types = [...eventTypes.names].sort().join(",");
  return `${name}\u0000${eventTypes.negated ? "!" : ""}${types}\u0000${reportsUnsupported ? "report" : "error"}`;
}

export class MacroMemo {
  readonly #shared = new Map<string, Predicate>();
  readonly #events: (EnrichedEvent | undefined)[] = [];
  readonly #answers: boolean[] = [];

  /** Distinct memoized macro predicates (for tests and benches). */
  get size(): number {
    return this.#shared.size;
  }

  /**
   * The shared, memoized predicate for `key`; `compiled` (this use's own
   * compilation) becomes it on the key's first use and is dropped after.
   */
  share(key: string, compiled: Predicate): Predicate {
    const existing = this.#shared.get(key);
    if (existing !== undefined) return existing;
    const slot = this.#events.length;
    this.#events.push(undefined);
    this.#answers.push(false);
    const events = this.#events;
    const answers = this.#answers;
    const memo: Predicate = (e) => {
      if (events[slot] === e) return answers[slot] as boolean;
      // Evaluated before the slot is written: a throw leaves the slot as it was,
      // so the next rule evaluates (and throws) again, as without the memo.
      const answer = compiled(e);
      events[slot] = e;
      answers[slot] = answer;
      return answer;
    };
    this.#shared.set(key, memo);
    return memo;
  }
}

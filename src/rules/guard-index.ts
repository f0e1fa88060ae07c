/**
 * Which of one event type's rules can match an event, from the rules' guards
 * (guards.ts): a few field values read once per event rule out most rules
 * before any is called. An openat meets ~25 default rules; all but a few
 * need a particular path, directory, file name, open mode or process name.
 *
 * Rules are bits in a mask (rule i of the type's list, in load order). Per
 * distinct field extractor (a "dimension"), each rule has at most one guard;
 * the rules a dimension lets through are those without a guard on it plus
 * those whose guard holds for the event's value. A rule is a candidate when
 * every dimension lets it through; the ruleset then evaluates the candidates
 * in load order, so detections and their order are those of evaluating
 * every rule (a rule left out has a guard that is false, hence is false).
 *
 * Per event: for each dimension one extraction (skipped when no rule it
 * guards is still a candidate); when the value is the one the dimension
 * met last (below), nothing else; otherwise one Map lookup for `=`/`in`
 * guards and the distinct other tests (startswith, pmatch …) of rules still
 * in play. The masks are preallocated: nothing is allocated per event.
 *
 * Last-value memo: a guard's test is a pure function of the value (guards.ts,
 * GUARD_OPERATORS), so what a dimension let through for its last value holds
 * for the next event with the same value — the same file opened again, the
 * same process name. The dimension keeps the pass mask and which tests have
 * run for that value; tests still run lazily, only for rules in play and not
 * yet decided, and add their answer, so the result is the one the tests
 * would give on the spot. One value per dimension, in preallocated arrays: a
 * new value overwrites them, so a stream of ever-new paths (a build, `find
 * /`) costs what it did without the memo. (A Map of many values, tried
 * first, tripled the cost of an open of a never-seen path: an entry per
 * value and dimension to allocate and insert.)
 */
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { Extractor } from "./fields.js";
import type { Guard } from "./guards.js";
import type { ValueTest } from "./operators.js";
import type { RuntimeValue } from "./values.js";

interface TestSlot {
  readonly test: ValueTest;
  /** The rules whose guard on this dimension is this test. */
  readonly mask: Uint32Array;
}

interface Dimension {
  readonly field: string;
  readonly extract: Extractor;
  /** Rules with a guard on this dimension. */
  readonly guarded: Uint32Array;
  /** Rules without a guard on this dimension: what a missing value lets through. */
  readonly unguarded: Uint32Array;
  /** Value → rules whose `=`/`in` guard has it. */
  readonly exact: Map<RuntimeValue, Uint32Array>;
  readonly tests: readonly TestSlot[];
  /** The last present value met (see the last-value memo above); undefined: none yet. */
  lastValue: RuntimeValue | undefined;
  /** For lastValue: rules without a guard here, with an `=`/`in` guard holding it, or with a test that held. */
  readonly pass: Uint32Array;
  /** For lastValue, per test slot: 0 not run yet, 1 held, 2 failed. */
  readonly ran: Uint8Array;
  /** For lastValue: rules not in `pass` with a test not run yet (none in play: `pass` is the answer). */
  readonly pending: Uint32Array;
  /** Rules with a test slot here (what `pending` starts from for a new value). */
  readonly tested: Uint32Array;
}

function newMask(words: number): Uint32Array {
  return new Uint32Array(words);
}

function setBit(m: Uint32Array, i: number): void {
  m[i >>> 5] = ((m[i >>> 5] as number) | (1 << (i & 31))) >>> 0;
}

/** Is some bit set in both? */
function overlaps(a: Uint32Array, b: Uint32Array, words: number): boolean {
  for (let w = 0; w < words; w++) if (((a[w] as number) & (b[w] as number)) !== 0) return true;
  return false;
}

export class GuardIndex {
  /** Number of rules (bits). */
  readonly size: number;
  readonly #words: number;
  readonly #dims: readonly Dimension[];
  /** The candidates of the last event (returned by candidates(); reused). */
  readonly #mask: Uint32Array;

  /** `guards[i]`: the guards of rule i of the event type's list (load order), at most one per extractor. */
  constructor(guards: readonly (readonly Guard[])[]) {
    const n = guards.length;
    const words = Math.max(1, Math.ceil(n / 32));
    this.size = n;
    this.#words = words;
    this.#mask = newMask(words);
    const byExtractor = new Map<Extractor, (Guard | undefined)[]>();
    guards.forEach((list, i) => {
      for (const g of list) {
        let perRule = byExtractor.get(g.extract);
        if (perRule === undefined) {
          perRule = new Array<Guard | undefined>(n).fill(undefined);
          byExtractor.set(g.extract, perRule);
        }
        // extractGuards gives at most one guard per extractor and rule.
        perRule[i] = g;
      }
    });
    const dims: Dimension[] = [];
    for (const [extract, perRule] of byExtractor) {
      const guarded = newMask(words);
      const exact = new Map<RuntimeValue, Uint32Array>();
      const tests = new Map<string, TestSlot>();
      let field = "";
      perRule.forEach((g, i) => {
        if (g === undefined) return;
        field = g.field;
        setBit(guarded, i);
        // The rule passes this dimension when any of its atoms holds.
        for (const atom of g.atoms) {
          if (atom.values !== undefined) {
            for (const v of atom.values) {
              let m = exact.get(v);
              if (m === undefined) {
                m = newMask(words);
                exact.set(v, m);
              }
              setBit(m, i);
            }
            continue;
          }
          let slot = tests.get(atom.key);
          if (slot === undefined) {
            slot = { test: atom.test, mask: newMask(words) };
            tests.set(atom.key, slot);
          }
          setBit(slot.mask, i);
        }
      });
      const unguarded = newMask(words);
      for (let w = 0; w < words; w++) unguarded[w] = ~(guarded[w] as number) >>> 0;
      const tested = newMask(words);
      for (const slot of tests.values())
        for (let w = 0; w < words; w++) tested[w] = ((tested[w] as number) | (slot.mask[w] as number)) >>> 0;
      dims.push({
        field,
        extract,
        guarded,
        unguarded,
        exact,
        tests: [...tests.values()],
        lastValue: undefined,
        pass: newMask(words),
        ran: new Uint8Array(tests.size),
        pending: newMask(words),
        tested,
      });
    }
    // Value lookups first (cheap, and they shrink the set the tests must run for), then by test count.
    dims.sort((a, b) => a.tests.length - b.tests.length);
    this.#dims = dims;
  }

  /** The fields the index reads, in the order it reads them (for tests and benches). */
  get fields(): readonly string[] {
    return this.#dims.map((d) => d.field);
  }

  /**
   * The rules that can match `e`: bit i set for rule i. The array is reused
   * by the next call. Throws what an extractor throws (the caller then
   * evaluates every rule, which reports the error as before).
   */
  candidates(e: EnrichedEvent): Uint32Array {
    const words = this.#words;
    const mask = this.#mask;
    const dims = this.#dims;
    if (words === 1) {
      // Up to 32 rules (every type of the default rules): the mask in a local, no word loops.
      let m = 0xffffffff;
      for (let d = 0; d < dims.length; d++) {
        const dim = dims[d] as Dimension;
        if (((dim.guarded[0] as number) & m) === 0) continue;
        const v = dim.extract(e);
        if (v === undefined) m &= dim.unguarded[0] as number;
        else {
          mask[0] = m;
          m &= this.#passFor(dim, v, mask)[0] as number;
        }
      }
      mask[0] = m;
      return mask;
    }
    // A loop, not mask.fill(): fill() is a call into the runtime (~25 ns for one word).
    for (let w = 0; w < words; w++) mask[w] = 0xffffffff;
    for (let d = 0; d < dims.length; d++) {
      const dim = dims[d] as Dimension;
      // No rule this dimension guards is still in play: nothing to decide here.
      if (!overlaps(dim.guarded, mask, words)) continue;
      const v = dim.extract(e);
      // A missing value fails every guard: only the rules without one here go through.
      const pass = v === undefined ? dim.unguarded : this.#passFor(dim, v, mask);
      for (let w = 0; w < words; w++) mask[w] = ((mask[w] as number) & (pass[w] as number)) >>> 0;
    }
    return mask;
  }

  /**
   * The rules `dim` lets through for the present value `v`, for every rule
   * still in `mask`: the last-value memo, reset first when `v` is another
   * value, with the tests of the rules in play that have not run for `v` yet
   * run now. Bits of rules out of `mask` may be undecided; the caller ANDs
   * them away.
   */
  #passFor(dim: Dimension, v: RuntimeValue, mask: Uint32Array): Uint32Array {
    const words = this.#words;
    const tests = dim.tests;
    const pass = dim.pass;
    const ran = dim.ran;
    const pending = dim.pending;
    // Strings compare by value. A bytes value (an object) is never taken for the last one.
    if (dim.lastValue !== v || typeof v === "object") {
      const hit = dim.exact.get(v);
      for (let w = 0; w < words; w++) {
        const p = ((dim.unguarded[w] as number) | (hit === undefined ? 0 : (hit[w] as number))) >>> 0;
        pass[w] = p;
        pending[w] = ((dim.tested[w] as number) & ~p) >>> 0;
      }
      for (let t = 0; t < ran.length; t++) ran[t] = 0;
      dim.lastValue = typeof v === "object" ? undefined : v;
    }
    // The common case once a value has been met: no test left that could change a rule in play.
    if (!overlaps(pending, mask, words)) return pass;
    for (let t = 0; t < tests.length; t++) {
      if (ran[t] !== 0) continue;
      const slot = tests[t] as TestSlot;
      // Skip a test whose rules are all out already, or all through already.
      let open = 0;
      for (let w = 0; w < words; w++)
        open |= (slot.mask[w] as number) & (mask[w] as number) & ~(pass[w] as number);
      if (open === 0) continue;
      // Recorded after the test returns: a throw leaves the slot to run again next time.
      if (slot.test(v)) {
        ran[t] = 1;
        for (let w = 0; w < words; w++) pass[w] = ((pass[w] as number) | (slot.mask[w] as number)) >>> 0;
      } else ran[t] = 2;
    }
    // What is still pending: the rules of tests not run yet, less those that passed since.
    for (let w = 0; w < words; w++) pending[w] = 0;
    for (let t = 0; t < tests.length; t++) {
      if (ran[t] !== 0) continue;
      const m = (tests[t] as TestSlot).mask;
      for (let w = 0; w < words; w++) pending[w] = ((pending[w] as number) | (m[w] as number)) >>> 0;
    }
    for (let w = 0; w < words; w++) pending[w] = ((pending[w] as number) & ~(pass[w] as number)) >>> 0;
    return pass;
  }
}

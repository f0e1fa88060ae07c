/**
 * Keeps the SDK's record attribute objects in V8's fast (hidden-class)
 * representation, without touching the SDK.
 *
 * Why: `@opentelemetry/sdk-logs` starts each record's attributes as `{}`
 * and adds every attribute with a keyed store (`attributes[key] = value`).
 * V8 gives an object built that way no more than ~16 named properties:
 * adding more through keyed stores turns it into a hash table ("dictionary
 * mode"). Our records have ~40 attributes, so every one was a hash table,
 * and the SDK's serializer walks each twice (size pass, write pass) with
 * `for…in` + `hasOwnProperty` + a load — hash lookups and a key sort per
 * walk, instead of the cached key list and field loads of a fast object.
 *
 * How: V8 only refuses to *create* the 17th+ transition from a keyed store;
 * a transition that already exists is followed whatever the store. Named
 * stores (`o["k"] = v` with a literal key) may create up to 128. So, once
 * per distinct key sequence, we build one object from `{}` with named
 * stores in the SDK's order (a function compiled for that sequence) and
 * keep it, which keeps the chain of hidden classes alive; every later
 * record of that sequence the SDK builds follows the chain and stays fast.
 * The records are the SDK's, made by its API and checked by it; only their
 * memory layout changes (`bench/export-cost.mjs --baseline`, 5 runs each,
 * per record of 41 attributes: the SDK making its records 6.4 µs instead of
 * 8.3, its serializer 19.3 µs instead of 21.7).
 *
 * Bounded: at most MAX_SHAPES sequences are kept (then new ones are left as
 * they are: hash tables, as before). Where code cannot be generated (node
 * --disallow-code-generation-from-strings) this does nothing.
 */
import type { LogAttributes } from "@opentelemetry/api-logs";

/** Key sequences kept (each: one object and its chain of hidden classes, a few KB). */
export const MAX_SHAPES = 1024;

export class AttributeShapes {
  private readonly seen = new Set<string>();
  /** Hold the chains alive: V8 drops a transition to a hidden class no object uses. */
  private readonly keep: object[] = [];
  private disabled = false;

  /** Key sequences laid down so far. */
  get size(): number {
    return this.keep.length;
  }

  /**
   * Lays down the key sequence of `attributes` (an SDK record's, in its
   * insertion order) if it is new. Costs a key list and a string per call:
   * callers call it when a record's layers differ from the previous one's.
   */
  note(attributes: LogAttributes): void {
    if (this.disabled || this.keep.length >= MAX_SHAPES) return;
    const keys = Object.keys(attributes);
    // A key past the limit of named properties, or one a store does not add as a property.
    if (keys.length > 120 || keys.some((k) => k === "__proto__" || isArrayIndex(k))) return;
    const signature = keys.join("\u0000");
    if (this.seen.has(signature)) return;
    this.seen.add(signature);
    let build: (values: unknown[]) => object;
    try {
      // Literal keys (JSON-escaped): each line compiles to a named store.
      const body = keys.map((k, i) => `o[${JSON.stringify(k)}] = v[${i}];`).join("\n");
      build = new Function("v", `"use strict";\nconst o = {};\n${body}\nreturn o;`) as typeof build;
    } catch {
      this.disabled = true; // code generation from strings is off in this process
      return;
    }
    // Values of the same kinds as the record's (so the fields get the representation the SDK's
    // objects will need), but no detection's content kept in memory: strings empty, numbers as is.
    this.keep.push(build(keys.map((k) => placeholder(attributes[k]))));
  }
}

function placeholder(value: unknown): unknown {
  if (typeof value === "string") return "";
  if (Array.isArray(value)) return [];
  if (value instanceof Uint8Array) return new Uint8Array(0);
  if (typeof value === "object" && value !== null) return {};
  return value;
}

function isArrayIndex(key: string): boolean {
  const n = Number(key);
  return Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1 && String(n) === key;
}

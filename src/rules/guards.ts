/**
 * Guards: checks a rule's condition cannot hold without, found on its
 * macro-expanded tree, so a ruleset can rule out many rules per event from a
 * few field values (guard-index.ts) instead of calling each rule.
 *
 * A guard is a check that is a conjunct of the condition's top-level AND:
 * reached from the root through `and` nodes and macro bodies only — never
 * under `not`, where a check is no longer necessary. Under an `or`, a
 * check is necessary only as one of several: a field guarded in every
 * branch (that can hold for the event type) gives a guard that holds when
 * any of those branches' guards does. Only plain
 * `field op constants` checks qualify: no transformer, no field argument
 * (`proc.aname[2]`), no list modifier, no `val()`, no multi-valued field, no
 * field the sensor cannot answer, and only the fields in GUARD_FIELDS. The
 * guard's test is built by the same operator table from the same converted
 * constants as the rule's own check, and reads the field through the same
 * (per-event memoized) extractor, so "guard false" implies "check false"
 * implies "rule false": skipping the rule changes no detection.
 */
import type { CheckNode, Expr } from "./ast.js";
import type { BindingOptions } from "./binding.js";
import { convertAll, eventTypeCheckAnswer } from "./compiler.js";
import type { EventTypeSet } from "./event-types.js";
import type { Extractor } from "./fields.js";
import { OPERATORS, type ValueTest } from "./operators.js";
import type { RuntimeValue } from "./values.js";

/**
 * The fields guards are taken on: the ones the openat and execve rules of
 * our default rules and Falco's published files test on their top-level AND
 * path (bench/rules-guards.mjs counts them: on openat, open read/write on 14
 * of 14 default and 16 of 20 upstream rules, fd.name/directory/filename on
 * 12 of 14 and 12 of 20; on execve, proc.name on 9 of 13 and 25 of 37).
 * Others seen there hold for nearly every event (fd.typechar = 'f', evt.dir
 * = '<') or guard a rule or two at the price of building a string per
 * event (proc.args, proc.cmdline).
 */
export const GUARD_FIELDS: ReadonlySet<string> = new Set([
  "fd.name",
  "fd.directory",
  "fd.filename",
  "evt.is_open_read",
  "evt.is_open_write",
  "proc.name",
]);

/** Operators a guard may use: their test is a pure function of one present value. */
const GUARD_OPERATORS: ReadonlySet<string> = new Set([
  "=",
  "==",
  "in",
  "startswith",
  "endswith",
  "contains",
  "pmatch",
  "glob",
]);

/** One test a guard may pass by. */
export interface GuardAtom {
  readonly op: string;
  /**
   * For `=`, `==` and `in`: the values, so an index can look the event's
   * value up instead of testing (for string and boolean values the
   * operator's test is `===` / Set membership, the same as a Map lookup).
   */
  readonly values: readonly (string | boolean)[] | undefined;
  /** The check's own test of a present value. */
  readonly test: ValueTest;
  /** Same key, same test: `op` and the converted constants. */
  readonly key: string;
  /** As written, for people: `startswith /etc/`, `in (a, b)`. */
  readonly text: string;
}

/**
 * A necessary condition of a rule on one field: the field's value is present
 * and passes at least one of the atoms (one atom from a conjunct; several
 * when the rule is an `or` whose every branch has a guard on the field).
 */
export interface Guard {
  /** The field, as bound ("fd.name"). */
  readonly field: string;
  /** The extractor the rule's own checks call (the field cache's memo for costly fields). */
  readonly extract: Extractor;
  readonly atoms: readonly GuardAtom[];
}

/** Necessary conditions of a subtree, at most one per extractor. */
type Guards = Map<Extractor, Guard>;

/** Is `e` true (false) for every event of type `type`, whatever else the event holds? undefined: it depends. */
function staticAnswer(e: Expr, types: EventTypeSet): boolean | undefined {
  switch (e.kind) {
    case "check":
      return eventTypeCheckAnswer(e, types);
    case "macro-body":
      return staticAnswer(e.body, types);
    case "not": {
      const a = staticAnswer(e.child, types);
      return a === undefined ? undefined : !a;
    }
    case "and": {
      let all = true;
      for (const c of e.children) {
        const a = staticAnswer(c, types);
        if (a === false) return false;
        if (a === undefined) all = false;
      }
      return all ? true : undefined;
    }
    case "or": {
      let none = true;
      for (const c of e.children) {
        const a = staticAnswer(c, types);
        if (a === true) return true;
        if (a === undefined) none = false;
      }
      return none ? false : undefined;
    }
    case "macro":
      return undefined;
  }
}

/** Of two guards on one field, the cheaper to index: fewer tests, then fewer atoms. */
function better(a: Guard, b: Guard): Guard {
  const tests = (g: Guard) => g.atoms.filter((x) => x.values === undefined).length;
  if (tests(a) !== tests(b)) return tests(a) < tests(b) ? a : b;
  return a.atoms.length <= b.atoms.length ? a : b;
}

/**
 * The guards of a macro-expanded condition, for events of one type (a
 * ruleset indexes each event type's rules on its own): at most one per
 * field. An `evt.type` check is decided for that type, so an `or` branch
 * that cannot hold for it (`evt.type = unlink and …` on openat) is left out.
 */
export function extractGuards(condition: Expr, opts: BindingOptions, eventType: string): Guard[] {
  const types: EventTypeSet = { negated: false, names: new Set([eventType]) };
  const walk = (e: Expr): Guards => {
    switch (e.kind) {
      case "macro-body":
        // A macro's body stands where the macro is used.
        return walk(e.body);
      case "check": {
        const g = checkGuard(e, opts);
        return g === undefined ? new Map() : new Map([[g.extract, g]]);
      }
      case "and": {
        // Every conjunct is necessary: keep one guard per field, the cheaper.
        const out: Guards = new Map();
        for (const c of e.children) {
          for (const [k, g] of walk(c)) {
            const had = out.get(k);
            out.set(k, had === undefined ? g : better(had, g));
          }
        }
        return out;
      }
      case "or": {
        // One of the branches that can hold for this type holds: a field every such
        // branch guards has a value passing one of their atoms.
        const live = e.children.filter((c) => staticAnswer(c, types) !== false);
        const branches = live.map(walk);
        const first = branches[0];
        if (first === undefined) return new Map();
        const out: Guards = new Map();
        for (const [k, g] of first) {
          const atoms: GuardAtom[] = [];
          let everywhere = true;
          for (const b of branches) {
            const bg = b.get(k);
            if (bg === undefined) {
              everywhere = false;
              break;
            }
            atoms.push(...bg.atoms);
          }
          if (everywhere) out.set(k, { field: g.field, extract: k, atoms });
        }
        return out;
      }
      default:
        // not, or an unexpanded macro: nothing below is necessary.
        return new Map();
    }
  };
  return [...walk(condition).values()];
}

function checkGuard(c: CheckNode, opts: BindingOptions): Guard | undefined {
  const left = c.left;
  if (left.kind !== "field" || left.arg !== undefined || !GUARD_FIELDS.has(left.name)) return undefined;
  if (c.modifier !== undefined || !GUARD_OPERATORS.has(c.op)) return undefined;
  const right = c.right;
  if (right === undefined || (right.kind !== "value" && right.kind !== "list")) return undefined;
  if (opts.fields.unsupportedReason(left.name) !== undefined) return undefined;
  const def = OPERATORS.get(c.op);
  if (def === undefined) return undefined;
  const bound = opts.fields.bind(left.name, undefined, opts.bind);
  // Anything the compiler treats specially is left to the rule itself.
  if (typeof bound === "string" || bound.unsupported !== undefined || bound.anyOf !== undefined)
    return undefined;
  // String and boolean fields only: their constants compare by `===` and key a Map exactly.
  if (bound.type !== "string" && bound.type !== "boolean") return undefined;
  if (!def.types.has(bound.type)) return undefined;
  let test: ValueTest;
  let constants: ReturnType<typeof convertAll>;
  try {
    // The compiler's own conversion and operator build: the rule's check has this very test.
    constants = convertAll(c, bound);
    test = def.build(bound.type, constants);
  } catch {
    return undefined; // the rule's compilation reports it
  }
  const extract = bound.costly ? opts.cache.cached(bound.name, bound.extract) : bound.extract;
  const exact =
    (c.op === "=" || c.op === "==" || c.op === "in") &&
    constants.every((k) => typeof k === "string" || typeof k === "boolean");
  const atom: GuardAtom = {
    op: c.op,
    values: exact ? (constants as (string | boolean)[]) : undefined,
    test,
    key: `${c.op} ${constants.map((k) => `${typeof k}:${String(k)}`).join("\u0000")}`,
    text:
      right.kind === "list"
        ? `${c.op} (${constants.map(String).join(", ")})`
        : `${c.op} ${String(constants[0])}`,
  };
  return { field: bound.name, extract, atoms: [atom] };
}

/** A guard as text: `fd.name startswith /etc/ | in (/x, /y)`. */
export function describeGuard(g: Guard): string {
  return `${g.field} ${g.atoms.map((a) => a.text).join(" | ")}`;
}

/** Does a guard hold for a value, as the rule's checks would see it? */
export function guardHolds(g: Guard, v: RuntimeValue | undefined): boolean {
  return v !== undefined && g.atoms.some((a) => a.test(v));
}

/**
 * Compiles a macro-expanded condition into a tree of closures, once per rule:
 * fields are bound to extractors, constants converted to the field's type,
 * `in` lists turned into Sets, globs and regexes compiled. Evaluating a rule
 * is then calling one function per node, with no parsing or lookups.
 *
 * Missing values follow libsinsp: a comparison on a field that cannot be
 * extracted is false (so `!=` is false too, and `not (f = x)` is true);
 * `exists` tests presence.
 */
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { CheckNode, Expr, FieldExpr, ListModifier, Operand } from "./ast.js";
import type { BindingOptions } from "./binding.js";
import { FieldError, RulesError } from "./errors.js";
import type { EventTypeSet } from "./event-types.js";
import { inMacro } from "./expand.js";
import type { Extractor } from "./fields.js";
import { macroKey } from "./macro-memo.js";
import { OPERATORS, type OperatorDef, type ValueTest } from "./operators.js";
import { TRANSFORMERS } from "./transformers.js";
import { type Constant, convertConstant, describeType, type FieldType, type RuntimeValue } from "./values.js";

export type Predicate = (e: EnrichedEvent) => boolean;

/** A compiled field expression: a field, possibly under transformers. */
interface Access {
  readonly name: string;
  readonly type: FieldType;
  readonly get: Extractor;
  readonly anyOf: ((e: EnrichedEvent, test: (v: RuntimeValue) => boolean) => boolean) | undefined;
}

export function compileFieldExpr(f: FieldExpr, opts: BindingOptions): Access {
  if (f.kind === "field") {
    const bound = opts.fields.bind(f.name, f.arg, opts.bind);
    if (typeof bound === "string") throw new FieldError(bound, f.pos);
    if (bound.warning !== undefined) opts.warn(bound.warning, f.pos);
    if (bound.unsupported !== undefined) {
      if (opts.onUnsupported === undefined) throw new FieldError(bound.unsupported, f.pos);
      opts.onUnsupported(bound.name, bound.unsupported, f.pos);
    }
    const get = bound.costly ? opts.cache.cached(bound.name, bound.extract) : bound.extract;
    return { name: bound.name, type: bound.type, get, anyOf: bound.anyOf };
  }
  const t = TRANSFORMERS.get(f.transformer);
  if (t === undefined) throw new RulesError(`unknown transformer '${f.transformer}'`, f.pos);
  const inner = compileFieldExpr(f.operand, opts);
  if (!t.accepts.has(inner.type)) {
    throw new RulesError(
      `transformer '${t.name}' cannot be applied to ${describeType(inner.type)} field ('${inner.name}')`,
      f.pos,
    );
  }
  const apply = t.apply;
  const innerGet = inner.get;
  const innerAny = inner.anyOf;
  return {
    name: `${t.name}(${inner.name})`,
    type: t.output(inner.type),
    get: (e) => {
      const v = innerGet(e);
      return v === undefined ? undefined : apply(v);
    },
    anyOf:
      innerAny === undefined
        ? undefined
        : (e, test) =>
            innerAny(e, (v) => {
              const w = apply(v);
              return w !== undefined && test(w);
            }),
  };
}

/** The check's constants converted to the field's type (also used by guards.ts, so guards test what the rule tests). */
export function convertAll(c: CheckNode, access: Pick<Access, "name" | "type">): Constant[] {
  const right: Operand | undefined = c.right;
  if (right === undefined) throw new RulesError(`operator '${c.op}' needs a value`, c.opPos);
  const items = right.kind === "list" ? right.items : right.kind === "value" ? [right] : [];
  return items.map((item) => {
    const c = convertConstant(access.type, item.text);
    if (!c.ok) {
      throw new RulesError(
        `${c.message}: field '${access.name}' is ${describeType(access.type)} field`,
        item.pos,
      );
    }
    return c.value;
  });
}

function compileFieldComparison(c: CheckNode, access: Access, opts: BindingOptions): Predicate {
  const def = OPERATORS.get(c.op);
  const right = c.right;
  if (def === undefined || right === undefined || (right.kind !== "val" && right.kind !== "transform")) {
    throw new RulesError(`operator '${c.op}' cannot compare with a field`, c.opPos);
  }
  const rightExpr = right.kind === "val" ? right.field : right;
  const other = compileFieldExpr(rightExpr, opts);
  if (other.anyOf !== undefined) {
    throw new RulesError(
      `field '${other.name}' cannot be used on the right-hand side without an index`,
      right.pos,
    );
  }
  if (other.type !== access.type) {
    throw new RulesError(
      `cannot compare ${describeType(access.type)} field ('${access.name}') with ${describeType(other.type)} field ('${other.name}')`,
      right.pos,
    );
  }
  if (def.pair === undefined) {
    throw new RulesError(`operator '${c.op}' does not accept a field on the right-hand side`, c.opPos);
  }
  const test = def.pair(access.type);
  const getB = other.get;
  if (access.anyOf !== undefined) {
    const anyOf = access.anyOf;
    return (e) => {
      const b = getB(e);
      return b !== undefined && anyOf(e, (a) => test(a, b));
    };
  }
  const getA = access.get;
  return (e) => {
    const a = getA(e);
    if (a === undefined) return false;
    const b = getB(e);
    return b !== undefined && test(a, b);
  };
}

/** The field under any transformers: `tolower(proc.name)` → proc.name. */
function baseField(f: FieldExpr): Extract<FieldExpr, { kind: "field" }> {
  return f.kind === "field" ? f : baseField(f.operand);
}

const NEVER: Predicate = () => false;
const ALWAYS: Predicate = () => true;

/** How Falco prints a field without a value; rules test for it (`not container.mount.dest[/proc*] in ("<NA>","N/A")`). */
const NA_TEXTS = new Set(["<NA>", "N/A"]);

/**
 * A check on a field the sensor cannot answer: the field has no value, so
 * every comparison is false — except the rules' explicit test for Falco's
 * "no value" text, which holds (and its `!=`, which does not).
 */
function unsupportedCheck(c: CheckNode): Predicate {
  const r = c.right;
  const texts = r?.kind === "list" ? r.items.map((i) => i.text) : r?.kind === "value" ? [r.text] : [];
  const testsForNa = c.left.kind === "field" && texts.some((t) => NA_TEXTS.has(t));
  if (!testsForNa) return NEVER;
  // Of the modifiers only anyof reads as "the value is one of these".
  if (c.modifier !== undefined && c.modifier !== "anyof") return NEVER;
  if (c.op === "=" || c.op === "==" || c.op === "in") return ALWAYS;
  return NEVER;
}

/**
 * `evt.type = x` / `in (…)` / `!=` decided at compile time: the ruleset
 * index hands a rule only events of its own types, so when every one of
 * them is (or none is) among the constants, the check's answer is known.
 */
function foldEventTypeCheck(c: CheckNode, opts: BindingOptions): Predicate | undefined {
  const answer = eventTypeCheckAnswer(c, opts.bind.eventTypes);
  return answer === undefined ? undefined : answer ? ALWAYS : NEVER;
}

/**
 * The answer of an `evt.type` check for every event whose type is in
 * `types`, when it is the same for all of them; undefined otherwise (or when
 * `c` is not such a check). Also used by guards.ts for one event type.
 */
export function eventTypeCheckAnswer(c: CheckNode, types: EventTypeSet): boolean | undefined {
  if (types.negated || types.names.size === 0) return undefined;
  if (c.left.kind !== "field" || c.left.name !== "evt.type" || c.left.arg !== undefined) return undefined;
  if (c.modifier !== undefined) return undefined;
  const right = c.right;
  if (right === undefined || (right.kind !== "value" && right.kind !== "list")) return undefined;
  const positive = c.op === "=" || c.op === "==" || c.op === "in";
  if (!positive && c.op !== "!=") return undefined;
  const constants = new Set(right.kind === "list" ? right.items.map((i) => i.text) : [right.text]);
  let all = true;
  let none = true;
  for (const t of types.names) {
    if (constants.has(t)) none = false;
    else all = false;
  }
  if (all) return positive;
  if (none) return !positive;
  return undefined;
}

function compileCheck(c: CheckNode, opts: BindingOptions): Predicate {
  if (opts.onUnsupported !== undefined) {
    for (const f of [
      c.left,
      ...(c.right?.kind === "val" ? [c.right.field] : c.right?.kind === "transform" ? [c.right] : []),
    ]) {
      const base = baseField(f);
      const reason = opts.fields.unsupportedReason(base.name);
      if (reason !== undefined) {
        opts.onUnsupported(base.name, reason, base.pos);
        return unsupportedCheck(c);
      }
    }
  }
  const access = compileFieldExpr(c.left, opts);
  const folded = foldEventTypeCheck(c, opts);
  if (folded !== undefined) return folded;
  const def = OPERATORS.get(c.op);
  if (def === undefined) throw new RulesError(`unknown operator '${c.op}'`, c.opPos);
  if (!def.types.has(access.type)) {
    throw new RulesError(
      `operator '${c.op}' cannot be used with ${describeType(access.type)} field ('${access.name}')`,
      c.opPos,
    );
  }
  if (c.modifier !== undefined) return compileModifierCheck(c, c.modifier, access, def);
  const anyOf = access.anyOf;
  const get = access.get;
  if (def.operand === "none") {
    return anyOf === undefined ? (e) => get(e) !== undefined : (e) => anyOf(e, () => true);
  }
  if (c.right?.kind === "val" || c.right?.kind === "transform")
    return compileFieldComparison(c, access, opts);
  const constants = convertAll(c, access);
  let test: ValueTest;
  try {
    test = def.build(access.type, constants);
  } catch (err) {
    throw new RulesError((err as Error).message, c.right?.pos ?? c.opPos);
  }
  if (anyOf !== undefined) return (e) => anyOf(e, test);
  return (e) => {
    const v = get(e);
    return v !== undefined && test(v);
  };
}

/**
 * `field op oneof|anyof|allof (e1, …, en)`: Falco's syntactic sugar for the
 * checks `field op ei`, of which exactly one (oneof), at least one (anyof)
 * or every one (allof) must hold. The field is extracted once; an empty list
 * never matches, and neither does a missing value.
 */
function compileModifierCheck(
  c: CheckNode,
  modifier: ListModifier,
  access: Access,
  def: OperatorDef,
): Predicate {
  if (access.anyOf !== undefined) {
    throw new RulesError(
      `'${c.op} ${modifier}' needs a field with a single value, but '${access.name}' has several: give it an index`,
      c.opPos,
    );
  }
  const right = c.right;
  if (right?.kind !== "list") throw new RulesError(`'${c.op} ${modifier}' needs a list '(…)'`, c.opPos);
  const constants = convertAll(c, access);
  if (constants.length === 0) return NEVER;
  const get = access.get;
  // `= anyof` is `in` and `!= allof` is `not in`: one Set lookup instead of a loop.
  const inList = OPERATORS.get("in");
  if (inList !== undefined && (c.op === "=" || c.op === "==") && modifier === "anyof") {
    const member = inList.build(access.type, constants);
    return (e) => {
      const v = get(e);
      return v !== undefined && member(v);
    };
  }
  if (inList !== undefined && c.op === "!=" && modifier === "allof") {
    const member = inList.build(access.type, constants);
    return (e) => {
      const v = get(e);
      return v !== undefined && !member(v);
    };
  }
  const tests = constants.map((k, i) => {
    try {
      return def.build(access.type, [k]);
    } catch (err) {
      throw new RulesError((err as Error).message, right.items[i]?.pos ?? right.pos);
    }
  });
  const n = tests.length;
  switch (modifier) {
    case "anyof":
      return (e) => {
        const v = get(e);
        if (v === undefined) return false;
        for (let i = 0; i < n; i++) if ((tests[i] as ValueTest)(v)) return true;
        return false;
      };
    case "allof":
      return (e) => {
        const v = get(e);
        if (v === undefined) return false;
        for (let i = 0; i < n; i++) if (!(tests[i] as ValueTest)(v)) return false;
        return true;
      };
    case "oneof":
      return (e) => {
        const v = get(e);
        if (v === undefined) return false;
        let hits = 0;
        for (let i = 0; i < n; i++) if ((tests[i] as ValueTest)(v) && ++hits > 1) return false;
        return hits === 1;
      };
  }
}

function allOf(all: Predicate[]): Predicate {
  if (all.includes(NEVER)) return NEVER;
  const parts = all.filter((p) => p !== ALWAYS);
  if (parts.length === 0) return ALWAYS;
  const [a, b, c] = parts;
  if (parts.length === 1 && a !== undefined) return a;
  if (parts.length === 2 && a !== undefined && b !== undefined) return (e) => a(e) && b(e);
  if (parts.length === 3 && a !== undefined && b !== undefined && c !== undefined)
    return (e) => a(e) && b(e) && c(e);
  const n = parts.length;
  return (e) => {
    // Indexed loop: for…of would allocate an iterator per event.
    for (let i = 0; i < n; i++) if (!(parts[i] as Predicate)(e)) return false;
    return true;
  };
}

function anyOfPredicates(all: Predicate[]): Predicate {
  if (all.includes(ALWAYS)) return ALWAYS;
  const parts = all.filter((p) => p !== NEVER);
  if (parts.length === 0) return NEVER;
  const [a, b, c] = parts;
  if (parts.length === 1 && a !== undefined) return a;
  if (parts.length === 2 && a !== undefined && b !== undefined) return (e) => a(e) || b(e);
  if (parts.length === 3 && a !== undefined && b !== undefined && c !== undefined)
    return (e) => a(e) || b(e) || c(e);
  const n = parts.length;
  return (e) => {
    for (let i = 0; i < n; i++) if ((parts[i] as Predicate)(e)) return true;
    return false;
  };
}

/** Compiles a macro-expanded condition; throws RulesError (FieldError for unknown/unsupported fields). */
export function compileCondition(e: Expr, opts: BindingOptions): Predicate {
  switch (e.kind) {
    case "and":
      return allOf(e.children.map((c) => compileCondition(c, opts)));
    case "or":
      return anyOfPredicates(e.children.map((c) => compileCondition(c, opts)));
    case "not": {
      const child = compileCondition(e.child, opts);
      if (child === ALWAYS) return NEVER;
      if (child === NEVER) return ALWAYS;
      return (ev) => !child(ev);
    }
    case "check":
      return compileCheck(e, opts);
    case "macro-body":
      try {
        // Compiled for every use, so each rule still gets its own warnings,
        // unsupported-field reports and errors; only the predicate is shared.
        const compiled = compileCondition(e.body, opts);
        const memo = opts.macros;
        // Constants stay constants, so the enclosing and/or still folds them.
        if (memo === undefined || compiled === ALWAYS || compiled === NEVER) return compiled;
        return memo.share(macroKey(e.name, opts.bind.eventTypes, opts.onUnsupported !== undefined), compiled);
      } catch (err) {
        if (err instanceof FieldError) {
          const wrapped = inMacro(err, e.name);
          throw wrapped === err ? err : new FieldError(wrapped.reason, wrapped.position);
        }
        throw err instanceof RulesError ? inMacro(err, e.name) : err;
      }
    case "macro":
      throw new RulesError(`macro '${e.name}' was not expanded`, e.pos);
  }
}

/**
 * The comparison operators, one table entry each. An entry says how the
 * parser reads its right-hand side, which field types it applies to (the same
 * matrix as libsinsp's flt_is_comparable), and how to build the per-event test
 * once the constants are converted. Adding an operator is adding an entry.
 */

import type { ListModifier } from "./ast.js";
import { globToRegExp } from "./glob.js";
import { networkContains, parseIpAddress } from "./ip-address.js";
import { PathPrefixSet } from "./path-prefix.js";
import type { Constant, FieldType, IpConstant, RuntimeValue } from "./values.js";

/** How the parser reads what follows the operator. */
export type OperandKind =
  /** nothing (`exists`) */
  | "none"
  /** a number, or a field (`<`, `>`; as libsinsp's NumOperator) */
  | "number"
  /** one quoted or bare value, or a field */
  | "value"
  /** `(a, b, …)` or a list name */
  | "list";

export type ValueTest = (v: RuntimeValue) => boolean;
export type PairTest = (a: RuntimeValue, b: RuntimeValue) => boolean;

export interface OperatorDef {
  readonly name: string;
  readonly operand: OperandKind;
  /** Field types the operator applies to. */
  readonly types: ReadonlySet<FieldType>;
  /**
   * The test of a present field value against the constants (already of the
   * field's type). Throws an Error whose message explains a bad constant.
   */
  readonly build: (type: FieldType, constants: readonly Constant[]) => ValueTest;
  /** Comparison of two present field values (`val(f)` or a transformer on the right); absent: unsupported. */
  readonly pair?: (type: FieldType) => PairTest;
}

const ALL: ReadonlySet<FieldType> = new Set([
  "string",
  "number",
  "bigint",
  "boolean",
  "ipaddr",
  "ipnet",
  "bytes",
]);
const ORDERED: ReadonlySet<FieldType> = new Set(["string", "number", "bigint"]);
const STRING: ReadonlySet<FieldType> = new Set(["string"]);
const STRING_OR_BYTES: ReadonlySet<FieldType> = new Set(["string", "bytes"]);
const BYTES: ReadonlySet<FieldType> = new Set(["bytes"]);

function only(constants: readonly Constant[]): Constant {
  const c = constants[0];
  if (c === undefined) throw new Error("a value is needed");
  return c;
}

function isIpConstant(c: Constant): c is IpConstant {
  return typeof c === "object" && !(c instanceof Uint8Array);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function bytesIndexOf(haystack: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle);
}

function asBytes(v: RuntimeValue): Uint8Array {
  return v instanceof Uint8Array ? v : Buffer.from(String(v));
}

/** Equality with one constant, per type. */
function equalsConstant(c: Constant): ValueTest {
  if (c instanceof Uint8Array) return (v) => v instanceof Uint8Array && bytesEqual(v, c);
  if (isIpConstant(c)) {
    if (c.kind === "addr") {
      const text = c.text;
      return (v) => v === text;
    }
    const net = c.net;
    return (v) => {
      const bytes = typeof v === "string" ? parseIpAddress(v) : undefined;
      return bytes !== undefined && networkContains(net, bytes);
    };
  }
  return (v) => v === c;
}

/** A key for set membership, or undefined when the constant needs a real comparison. */
function setKey(c: Constant): string | number | bigint | boolean | undefined {
  if (c instanceof Uint8Array) return undefined;
  if (isIpConstant(c)) return c.kind === "addr" ? c.text : undefined;
  return c;
}

/** `in`/`intersects`: a Set when every constant has a key, a loop over tests otherwise. */
function memberOf(constants: readonly Constant[]): ValueTest {
  const keys = constants.map(setKey);
  if (keys.every((k) => k !== undefined)) {
    const set = new Set<RuntimeValue>(keys as (string | number | bigint | boolean)[]);
    return (v) => set.has(v);
  }
  const tests = constants.map(equalsConstant);
  return (v) => {
    for (const t of tests) if (t(v)) return true;
    return false;
  };
}

function ordered(cmp: (a: number | bigint | string, b: number | bigint | string) => boolean) {
  return (_type: FieldType, constants: readonly Constant[]): ValueTest => {
    const c = only(constants) as number | bigint | string;
    return (v) => cmp(v as number | bigint | string, c);
  };
}

function orderedPair(cmp: (a: number | bigint | string, b: number | bigint | string) => boolean) {
  return (): PairTest => (a, b) => cmp(a as number | bigint | string, b as number | bigint | string);
}

function stringOp(
  test: (v: string, c: string) => boolean,
  bytesTest?: (v: Uint8Array, c: Uint8Array) => boolean,
) {
  return (type: FieldType, constants: readonly Constant[]): ValueTest => {
    const c = only(constants);
    if (type === "bytes" && bytesTest !== undefined) {
      const needle = asBytes(c as RuntimeValue);
      return (v) => bytesTest(asBytes(v), needle);
    }
    const s = String(c);
    return (v) => test(v as string, s);
  };
}

function stringPair(
  test: (v: string, c: string) => boolean,
  bytesTest?: (v: Uint8Array, c: Uint8Array) => boolean,
) {
  return (type: FieldType): PairTest =>
    type === "bytes" && bytesTest !== undefined
      ? (a, b) => bytesTest(asBytes(a), asBytes(b))
      : (a, b) => test(a as string, b as string);
}

const contains = (v: string, c: string) => v.includes(c);
const icontains = (v: string, c: string) => v.toLowerCase().includes(c.toLowerCase());
const startsWith = (v: string, c: string) => v.startsWith(c);
const endsWith = (v: string, c: string) => v.endsWith(c);
const bytesContains = (v: Uint8Array, c: Uint8Array) => bytesIndexOf(v, c) >= 0;
const bytesStartsWith = (v: Uint8Array, c: Uint8Array) =>
  c.length <= v.length && bytesEqual(v.subarray(0, c.length), c);
const bytesEndsWith = (v: Uint8Array, c: Uint8Array) =>
  c.length <= v.length && bytesEqual(v.subarray(v.length - c.length), c);

function pairEquals(type: FieldType): PairTest {
  return type === "bytes" ? (a, b) => bytesEqual(asBytes(a), asBytes(b)) : (a, b) => a === b;
}

const OPERATOR_LIST: readonly OperatorDef[] = [
  { name: "exists", operand: "none", types: ALL, build: () => () => true },
  { name: "=", operand: "value", types: ALL, build: (_t, c) => equalsConstant(only(c)), pair: pairEquals },
  { name: "==", operand: "value", types: ALL, build: (_t, c) => equalsConstant(only(c)), pair: pairEquals },
  {
    name: "!=",
    operand: "value",
    types: ALL,
    build: (_t, c) => {
      const eq = equalsConstant(only(c));
      return (v) => !eq(v);
    },
    pair: (type) => {
      const eq = pairEquals(type);
      return (a, b) => !eq(a, b);
    },
  },
  {
    name: "<",
    operand: "number",
    types: ORDERED,
    build: ordered((a, b) => a < b),
    pair: orderedPair((a, b) => a < b),
  },
  {
    name: "<=",
    operand: "number",
    types: ORDERED,
    build: ordered((a, b) => a <= b),
    pair: orderedPair((a, b) => a <= b),
  },
  {
    name: ">",
    operand: "number",
    types: ORDERED,
    build: ordered((a, b) => a > b),
    pair: orderedPair((a, b) => a > b),
  },
  {
    name: ">=",
    operand: "number",
    types: ORDERED,
    build: ordered((a, b) => a >= b),
    pair: orderedPair((a, b) => a >= b),
  },
  {
    name: "contains",
    operand: "value",
    types: STRING_OR_BYTES,
    build: stringOp(contains, bytesContains),
    pair: stringPair(contains, bytesContains),
  },
  {
    name: "icontains",
    operand: "value",
    types: STRING,
    build: stringOp(icontains),
    pair: stringPair(icontains),
  },
  { name: "bcontains", operand: "value", types: BYTES, build: stringOp(contains, bytesContains) },
  {
    name: "startswith",
    operand: "value",
    types: STRING_OR_BYTES,
    build: stringOp(startsWith, bytesStartsWith),
    pair: stringPair(startsWith, bytesStartsWith),
  },
  { name: "bstartswith", operand: "value", types: BYTES, build: stringOp(startsWith, bytesStartsWith) },
  {
    name: "endswith",
    operand: "value",
    types: STRING_OR_BYTES,
    build: stringOp(endsWith, bytesEndsWith),
    pair: stringPair(endsWith, bytesEndsWith),
  },
  {
    name: "glob",
    operand: "value",
    types: STRING,
    build: (_t, c) => {
      const re = globToRegExp(String(only(c)));
      return (v) => re.test(v as string);
    },
  },
  {
    name: "iglob",
    operand: "value",
    types: STRING,
    build: (_t, c) => {
      const re = globToRegExp(String(only(c)), true);
      return (v) => re.test(v as string);
    },
  },
  {
    name: "regex",
    operand: "value",
    types: STRING,
    build: (_t, c) => {
      const pattern = String(only(c));
      let re: RegExp;
      try {
        // libsinsp matches the whole value (RE2 ANCHOR_BOTH).
        re = new RegExp(`^(?:${pattern})$`);
      } catch (err) {
        throw new Error(`invalid regular expression '${pattern}': ${(err as Error).message}`);
      }
      return (v) => re.test(v as string);
    },
  },
  { name: "in", operand: "list", types: ALL, build: (_t, c) => memberOf(c), pair: pairEquals },
  // On single-valued fields libsinsp treats intersects like in; multi-valued fields
  // (proc.aname without index) compare each of their values.
  { name: "intersects", operand: "list", types: ALL, build: (_t, c) => memberOf(c), pair: pairEquals },
  {
    name: "pmatch",
    operand: "list",
    types: STRING,
    build: (_t, c) => {
      const set = new PathPrefixSet(c.map(String));
      return (v) => set.matches(v as string);
    },
  },
];

export const OPERATORS: ReadonlyMap<string, OperatorDef> = new Map(OPERATOR_LIST.map((op) => [op.name, op]));

/** Spellings longest first, so the lexer prefers `<=` over `<` and `intersects` over `in`. */
export const OPERATOR_SPELLINGS: readonly string[] = [...OPERATORS.keys()].sort(
  (a, b) => b.length - a.length,
);

/**
 * The operators Falco lets take a list modifier (`startswith anyof (…)`):
 * the string comparisons, as in Falco's rule loader (rule_loader_cmpop.h);
 * `in`, `pmatch` and the ordering operators take none.
 */
export const MODIFIABLE_OPERATORS: ReadonlySet<string> = new Set([
  "=",
  "==",
  "!=",
  "contains",
  "icontains",
  "bcontains",
  "startswith",
  "bstartswith",
  "endswith",
  "glob",
  "iglob",
  "regex",
]);

export const LIST_MODIFIERS: readonly ListModifier[] = ["oneof", "anyof", "allof"];

/** An exception `comps` entry: a plain operator (`startswith`) or one with a list modifier (`startswith anyof`). */
export function parseComparison(
  text: string,
): { op: string; modifier: ListModifier | undefined } | undefined {
  const words = text.trim().split(/\s+/);
  const [op, second] = words;
  if (op === undefined || words.length > 2 || !OPERATORS.has(op)) return undefined;
  if (second === undefined) return { op, modifier: undefined };
  const modifier = LIST_MODIFIERS.find((m) => m === second);
  if (modifier === undefined || !MODIFIABLE_OPERATORS.has(op)) return undefined;
  return { op, modifier };
}

/** Operators whose right-hand side is a list (Falco parenthesizes scalar exception values for them). */
export function isListOperator(name: string): boolean {
  return OPERATORS.get(name)?.operand === "list";
}

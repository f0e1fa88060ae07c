/**
 * Rule exceptions as syntax: Falco turns them into
 * `(<condition>) and not ((f1 c1 v1 and f2 c2 v2) or …)`, one `and not` per
 * exception. We build that tree directly instead of pasting text, so values
 * need no quoting and every node keeps the YAML position of its field or value.
 */
import type { CheckNode, Expr, ListNode, Operand, ValueNode } from "./ast.js";
import { parseFieldExpression } from "./condition-parser.js";
import { RulesError } from "./errors.js";
import { isListOperator, parseComparison } from "./operators.js";
import type { ExceptionDef } from "./rule-collector.js";
import type { ExceptionEntry } from "./rules-file.js";
import { plainSourceText } from "./source-text.js";

function valueNode(entry: ExceptionEntry): ValueNode {
  return { kind: "value", text: entry.item, quoted: false, pos: entry.pos };
}

/** `(a, b)` from a YAML list, or `(name)` from a scalar (a list name or a single value, as Falco does). */
function listOperand(entry: ExceptionEntry): ListNode {
  const items = entry.isList ? entry.items : [entry];
  for (const i of items) {
    if (i.isList) throw new RulesError("exception values may nest lists only one level deep", i.pos);
  }
  return { kind: "list", items: items.map(valueNode), parenthesized: true, pos: entry.pos };
}

function check(fieldEntry: ExceptionEntry, compText: string, value: ExceptionEntry | undefined): CheckNode {
  const left = parseFieldExpression(plainSourceText(fieldEntry.item, fieldEntry.pos.file, fieldEntry.pos));
  const parsed = parseComparison(compText);
  const comp = parsed?.op ?? compText;
  const modifier = parsed?.modifier;
  let right: Operand | undefined;
  if (modifier !== undefined) {
    if (value === undefined) throw new RulesError(`operator '${compText}' needs a value`, fieldEntry.pos);
    // `startswith anyof`: the values form the list, as for `in`.
    const right = listOperand(value);
    return { kind: "check", left, op: comp, opPos: fieldEntry.pos, modifier, right, pos: fieldEntry.pos };
  }
  if (comp !== "exists") {
    if (value === undefined) throw new RulesError(`operator '${comp}' needs a value`, fieldEntry.pos);
    if (isListOperator(comp)) right = listOperand(value);
    else if (value.isList)
      throw new RulesError(`operator '${comp}' needs a single value, not a list`, value.pos);
    else right = valueNode(value);
  }
  return { kind: "check", left, op: comp, opPos: fieldEntry.pos, right, pos: fieldEntry.pos };
}

function or(children: Expr[], ex: ExceptionDef): Expr {
  return children.length === 1 ? (children[0] as Expr) : { kind: "or", children, pos: ex.pos };
}

/** The `(…)` part of one exception; undefined when it has no values (it then excludes nothing). */
function exceptionExpr(ex: ExceptionDef): Expr | undefined {
  if (ex.values.length === 0) return undefined;
  if (!ex.fields.isList) {
    // Single field: `field comp (v1, v2, …)`; every value must be a scalar.
    for (const v of ex.values) {
      if (v.isList)
        throw new RulesError(
          `exception '${ex.name}': values must be single values for a single field`,
          v.pos,
        );
    }
    const list: ExceptionEntry = {
      isList: true,
      item: "",
      items: ex.values,
      pos: ex.values[0]?.pos ?? ex.pos,
    };
    return check(ex.fields, ex.comps.item, list);
  }
  const tuples = ex.values.map((tuple) => {
    if (!tuple.isList || tuple.items.length !== ex.fields.items.length) {
      throw new RulesError(
        `exception '${ex.name}': each value must be a list of ${ex.fields.items.length} values, one per field`,
        tuple.pos,
      );
    }
    const checks = ex.fields.items.map((f, k) => check(f, ex.comps.items[k]?.item ?? "=", tuple.items[k]));
    return checks.length === 1
      ? (checks[0] as Expr)
      : ({ kind: "and", children: checks, pos: tuple.pos } as Expr);
  });
  return or(tuples, ex);
}

/** The rule condition with its exceptions applied; throws RulesError for malformed exceptions. */
export function applyExceptions(condition: Expr, exceptions: readonly ExceptionDef[]): Expr {
  const nots: Expr[] = [];
  for (const ex of exceptions) {
    const e = exceptionExpr(ex);
    if (e !== undefined) nots.push({ kind: "not", child: e, pos: ex.pos });
  }
  return nots.length === 0 ? condition : { kind: "and", children: [condition, ...nots], pos: condition.pos };
}

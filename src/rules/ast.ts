/**
 * Syntax tree of a Falco condition. Macros and lists are resolved on this
 * tree (not on text), and every node keeps the file position it came from so
 * later stages (field lookup, value conversion) can report exact places.
 */
import type { SourcePosition } from "./errors.js";

/** `proc.name`, `proc.aname[2]`, `evt.arg.flags` (the argument stays in the name here). */
export interface FieldNode {
  readonly kind: "field";
  readonly name: string;
  /** The text between `[` and `]`, if any. */
  readonly arg: string | undefined;
  readonly pos: SourcePosition;
}

/** `tolower(proc.name)`; transformers nest. */
export interface TransformNode {
  readonly kind: "transform";
  readonly transformer: string;
  readonly operand: FieldExpr;
  readonly pos: SourcePosition;
}

/** `val(proc.pname)`: the right-hand side is another field's value. */
export interface ValNode {
  readonly kind: "val";
  readonly field: FieldNode;
  readonly pos: SourcePosition;
}

export type FieldExpr = FieldNode | TransformNode;

/** A constant: quoted ('…' or "…") or bare. */
export interface ValueNode {
  readonly kind: "value";
  readonly text: string;
  readonly quoted: boolean;
  readonly pos: SourcePosition;
}

/**
 * The right-hand side of a list operator: `(a, b, "c d")`, or a bare list
 * name (`in shell_binaries`, `parenthesized: false`). Bare items that name a
 * list are replaced by the list's items during expansion.
 */
export interface ListNode {
  readonly kind: "list";
  readonly items: readonly ValueNode[];
  readonly parenthesized: boolean;
  readonly pos: SourcePosition;
}

export type Operand = ValueNode | ListNode | TransformNode | ValNode;

/**
 * Falco's list modifiers on a comparison operator (`proc.name startswith
 * anyof (a, b)`): the check is `field op e` for each list item `e`, combined
 * by "exactly one" (oneof), "at least one" (anyof) or "every" (allof); an
 * empty list never matches.
 */
export type ListModifier = "oneof" | "anyof" | "allof";

/** `field op [operand]`, or `field op modifier (list)`. */
export interface CheckNode {
  readonly kind: "check";
  readonly left: FieldExpr;
  readonly op: string;
  readonly opPos: SourcePosition;
  /** Set for `op oneof|anyof|allof (…)`; `right` is then a ListNode. */
  readonly modifier?: ListModifier;
  readonly right: Operand | undefined;
  readonly pos: SourcePosition;
}

/** A bare identifier in condition position: a macro reference. */
export interface MacroRefNode {
  readonly kind: "macro";
  readonly name: string;
  readonly pos: SourcePosition;
}

export interface AndNode {
  readonly kind: "and";
  readonly children: readonly Expr[];
  readonly pos: SourcePosition;
}

export interface OrNode {
  readonly kind: "or";
  readonly children: readonly Expr[];
  readonly pos: SourcePosition;
}

export interface NotNode {
  readonly kind: "not";
  readonly child: Expr;
  readonly pos: SourcePosition;
}

/**
 * A subtree that came from expanding a macro; kept so errors inside it can say
 * "in macro 'x'", and so positions stay those of the macro's own text.
 */
export interface MacroBodyNode {
  readonly kind: "macro-body";
  readonly name: string;
  readonly body: Expr;
  readonly pos: SourcePosition;
}

export type Expr = AndNode | OrNode | NotNode | CheckNode | MacroRefNode | MacroBodyNode;

/** The innermost field of a field expression (under its transformers). */
export function baseField(e: FieldExpr): FieldNode {
  let cur: FieldExpr = e;
  while (cur.kind === "transform") cur = cur.operand;
  return cur;
}

/** Display text of a field reference, as it appears in a condition. */
export function fieldText(f: FieldNode): string {
  return f.arg === undefined ? f.name : `${f.name}[${f.arg}]`;
}

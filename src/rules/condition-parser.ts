/**
 * Recursive-descent parser for Falco conditions, with Falco's precedence:
 * `not` binds tighter than `and`, which binds tighter than `or`.
 *
 *   Expr      ::= And ('or' And)*
 *   And       ::= Not ('and' Not)*
 *   Not       ::= ('not')* Check
 *   Check     ::= '(' Expr ')' | FieldExpr Condition | Identifier
 *   FieldExpr ::= Field | Transformer '(' FieldExpr ')'
 *   Field     ::= FieldName ('[' Arg ']')?
 *   Condition ::= 'exists' | NumOp (Number | RhsField) | StrOp (Value | RhsField)
 *               | StrOp Modifier List
 *               | ListOp (List | RhsField)
 *   List      ::= '(' Value (',' Value)* ')' | ListName
 *   Modifier  ::= 'oneof' | 'anyof' | 'allof'   (Falco 0.44; a modifier word not followed
 *                                                 by a list stays a plain value)
 *   RhsField  ::= 'val(' Field ')' | Transformer '(' FieldExpr ')'
 *
 * Any malformed input ends in a RulesError at the offending character;
 * nothing else is thrown.
 */
import type {
  CheckNode,
  Expr,
  FieldExpr,
  FieldNode,
  ListModifier,
  ListNode,
  Operand,
  ValueNode,
} from "./ast.js";
import { ConditionCursor } from "./condition-lexer.js";
import { RulesError, type SourcePosition } from "./errors.js";
import {
  LIST_MODIFIERS,
  MODIFIABLE_OPERATORS,
  OPERATOR_SPELLINGS,
  OPERATORS,
  type OperandKind,
} from "./operators.js";
import type { SourceText } from "./source-text.js";
import { TRANSFORMERS } from "./transformers.js";

/** Deep enough for any real rule, shallow enough for the JS stack. */
const MAX_NESTING = 200;

const KEYWORDS = new Set(["and", "or", "not"]);
const TRANSFORMER_NAMES: ReadonlySet<string> = new Set(TRANSFORMERS.keys());
const VAL_CALL: ReadonlySet<string> = new Set(["val"]);

class Parser {
  readonly #cur: ConditionCursor;
  readonly #source: SourceText;
  #depth = 0;

  constructor(source: SourceText) {
    this.#source = source;
    this.#cur = new ConditionCursor(source.text);
  }

  #pos(offset = this.#cur.pos): SourcePosition {
    return this.#source.positionAt(offset);
  }

  #fail(reason: string, offset = this.#cur.pos): never {
    throw new RulesError(reason, this.#pos(offset));
  }

  parse(): Expr {
    this.#cur.skipBlank();
    if (this.#cur.atEnd()) this.#fail("empty condition");
    const expr = this.#parseOr();
    this.#cur.skipBlank();
    if (!this.#cur.atEnd()) {
      if (this.#cur.peek() === ")") this.#fail("unbalanced parenthesis: ')' without a matching '('");
      this.#fail(`unexpected '${this.#cur.excerpt()}': expected 'and', 'or' or the end of the condition`);
    }
    return expr;
  }

  /** A lone field expression (exception `fields:` entries). */
  parseFieldOnly(): FieldExpr {
    this.#cur.skipBlank();
    const field = this.#tryFieldExpr();
    this.#cur.skipBlank();
    if (field === undefined || !this.#cur.atEnd()) {
      this.#fail(`'${this.#source.text}' is not a field name`, 0);
    }
    return field;
  }

  #parseOr(): Expr {
    const start = this.#skipToToken();
    const children = [this.#parseAnd()];
    while (this.#skipToToken() >= 0 && this.#cur.tryKeyword("or")) children.push(this.#parseAnd());
    return children.length === 1 ? (children[0] as Expr) : { kind: "or", children, pos: this.#pos(start) };
  }

  #parseAnd(): Expr {
    const start = this.#skipToToken();
    const children = [this.#parseNot()];
    while (this.#skipToToken() >= 0 && this.#cur.tryKeyword("and")) children.push(this.#parseNot());
    return children.length === 1 ? (children[0] as Expr) : { kind: "and", children, pos: this.#pos(start) };
  }

  #parseNot(): Expr {
    const start = this.#skipToToken();
    let negate = false;
    while (this.#cur.tryKeyword("not")) {
      negate = !negate;
      this.#cur.skipBlank();
    }
    const child = this.#parseCheck();
    return negate ? { kind: "not", child, pos: this.#pos(start) } : child;
  }

  #skipToToken(): number {
    this.#cur.skipBlank();
    return this.#cur.pos;
  }

  #parseCheck(): Expr {
    const start = this.#skipToToken();
    if (this.#cur.tryChar("(")) {
      if (++this.#depth > MAX_NESTING)
        this.#fail(`parentheses nest deeper than ${MAX_NESTING} levels`, start);
      const inner = this.#parseOr();
      this.#cur.skipBlank();
      if (!this.#cur.tryChar(")")) {
        if (this.#cur.atEnd()) this.#fail("unbalanced parenthesis: '(' is never closed", start);
        this.#fail(`unexpected '${this.#cur.excerpt()}': expected 'and', 'or' or ')'`);
      }
      this.#depth--;
      return inner;
    }
    if (this.#cur.atEnd())
      this.#fail("expected a field check, a macro name or '(' but the condition ends here");
    const field = this.#tryFieldExpr();
    if (field !== undefined) return this.#parseCondition(field, start);
    const word = this.#cur.tryIdentifier();
    if (word !== undefined) {
      if (KEYWORDS.has(word))
        this.#fail(`unexpected '${word}': expected a field check, a macro name or '('`, start);
      return { kind: "macro", name: word, pos: this.#pos(start) };
    }
    if (this.#cur.peek() === ")") this.#fail("unbalanced parenthesis: ')' without a matching '('");
    this.#fail(`unexpected '${this.#cur.excerpt()}': expected a field check, a macro name or '('`);
  }

  /** A field, or a transformer applied to a field expression. */
  #tryFieldExpr(): FieldExpr | undefined {
    const start = this.#cur.pos;
    const transformer = this.#cur.tryCall(TRANSFORMER_NAMES);
    if (transformer !== undefined) {
      if (++this.#depth > MAX_NESTING)
        this.#fail(`transformers nest deeper than ${MAX_NESTING} levels`, start);
      this.#cur.skipBlank();
      const operand = this.#tryFieldExpr();
      if (operand === undefined) this.#fail(`transformer '${transformer}' needs a field`);
      this.#cur.skipBlank();
      if (!this.#cur.tryChar(")"))
        this.#fail(`unbalanced parenthesis: expected ')' closing '${transformer}('`);
      this.#depth--;
      return { kind: "transform", transformer, operand, pos: this.#pos(start) };
    }
    return this.#tryField();
  }

  #tryField(): FieldNode | undefined {
    const start = this.#cur.pos;
    const name = this.#cur.tryFieldName();
    if (name === undefined) return undefined;
    let arg: string | undefined;
    if (this.#cur.tryChar("[")) {
      arg = this.#cur.tryFieldArg();
      if (arg === undefined) this.#fail(`field '${name}' needs an argument inside '[…]'`);
      if (!this.#cur.tryChar("]")) this.#fail(`expected ']' closing the argument of '${name}'`);
    }
    return { kind: "field", name, arg, pos: this.#pos(start) };
  }

  #parseCondition(left: FieldExpr, start: number): CheckNode {
    this.#cur.skipBlank();
    const opStart = this.#cur.pos;
    const op = this.#cur.tryOperator(OPERATOR_SPELLINGS);
    const fieldName = left.kind === "field" ? left.name : left.transformer;
    if (op === undefined) {
      if (this.#cur.atEnd()) this.#fail(`field '${fieldName}' needs an operator`);
      this.#fail(`unknown operator '${this.#cur.excerpt()}' after '${fieldName}'`);
    }
    const def = OPERATORS.get(op);
    const modifierStart = this.#cur.pos + (/^\s*/.exec(this.#cur.text.slice(this.#cur.pos))?.[0].length ?? 0);
    const modifier = def?.operand === "none" ? undefined : this.#tryModifier();
    if (modifier !== undefined && !MODIFIABLE_OPERATORS.has(op)) {
      this.#fail(
        `operator '${op}' takes no list modifier ('${modifier}'): oneof/anyof/allof go after ${[...MODIFIABLE_OPERATORS].join(", ")}`,
        modifierStart,
      );
    }
    if (modifier !== undefined) {
      this.#cur.skipBlank();
      const right = this.#parseList(`${op} ${modifier}`, this.#cur.pos);
      return { kind: "check", left, op, opPos: this.#pos(opStart), modifier, right, pos: this.#pos(start) };
    }
    const kind: OperandKind = def?.operand ?? "value";
    const right = kind === "none" ? undefined : this.#parseOperand(op, kind);
    return { kind: "check", left, op, opPos: this.#pos(opStart), right, pos: this.#pos(start) };
  }

  /**
   * `oneof`/`anyof`/`allof` after a string operator, when a list ('(' or a
   * list name) follows it; otherwise nothing is consumed, so `proc.name =
   * anyof` still compares with the text "anyof".
   */
  #tryModifier(): ListModifier | undefined {
    const save = this.#cur.pos;
    this.#cur.skipBlank();
    const modifier = LIST_MODIFIERS.find((m) => this.#cur.tryKeyword(m));
    if (modifier !== undefined) {
      this.#cur.skipBlank();
      if (this.#cur.peek() === "(") return modifier;
      const listStart = this.#cur.pos;
      const word = this.#cur.tryIdentifier();
      this.#cur.pos = listStart;
      if (word !== undefined && !KEYWORDS.has(word)) return modifier;
    }
    this.#cur.pos = save;
    return undefined;
  }

  #parseOperand(op: string, kind: OperandKind): Operand {
    this.#cur.skipBlank();
    const start = this.#cur.pos;
    const fieldOperand = this.#tryRhsField();
    if (fieldOperand !== undefined) return fieldOperand;
    if (kind === "list") return this.#parseList(op, start);
    if (this.#cur.atUnterminatedQuote()) this.#fail("unterminated quoted string");
    const quoted = this.#cur.tryQuoted();
    if (quoted !== undefined) {
      if (kind === "number") this.#fail(`operator '${op}' needs a number`, start);
      return { kind: "value", text: quoted.text, quoted: true, pos: this.#pos(start) };
    }
    const bare = kind === "number" ? this.#cur.tryNumber() : this.#cur.tryBareString();
    if (bare === undefined) {
      this.#fail(`operator '${op}' needs ${kind === "number" ? "a number" : "a value"}`, start);
    }
    return { kind: "value", text: bare, quoted: false, pos: this.#pos(start) };
  }

  /** `val(field)` or a transformer on the right-hand side. */
  #tryRhsField(): Operand | undefined {
    const start = this.#cur.pos;
    if (this.#cur.tryCall(VAL_CALL) !== undefined) {
      this.#cur.skipBlank();
      const field = this.#tryField();
      if (field === undefined) this.#fail("'val(' needs a field");
      this.#cur.skipBlank();
      if (!this.#cur.tryChar(")")) this.#fail("unbalanced parenthesis: expected ')' closing 'val('");
      return { kind: "val", field, pos: this.#pos(start) };
    }
    if (this.#cur.tryCall(TRANSFORMER_NAMES) !== undefined) {
      this.#cur.pos = start;
      return this.#tryFieldExpr() as Operand;
    }
    return undefined;
  }

  #parseList(op: string, start: number): ListNode {
    if (!this.#cur.tryChar("(")) {
      const name = this.#cur.tryIdentifier();
      if (name === undefined) this.#fail(`operator '${op}' needs a list '(…)' or a list name`, start);
      const item: ValueNode = { kind: "value", text: name, quoted: false, pos: this.#pos(start) };
      return { kind: "list", items: [item], parenthesized: false, pos: this.#pos(start) };
    }
    const items: ValueNode[] = [];
    this.#cur.skipBlank();
    if (this.#cur.tryChar(")")) return { kind: "list", items, parenthesized: true, pos: this.#pos(start) };
    for (;;) {
      this.#cur.skipBlank();
      const itemStart = this.#cur.pos;
      if (this.#cur.atUnterminatedQuote()) this.#fail("unterminated quoted string");
      const quoted = this.#cur.tryQuoted();
      const text = quoted?.text ?? this.#cur.tryBareString();
      if (text === undefined) {
        if (this.#cur.atEnd()) this.#fail("unbalanced parenthesis: list '(' is never closed", start);
        this.#fail(`expected a list value but found '${this.#cur.excerpt()}'`);
      }
      items.push({ kind: "value", text, quoted: quoted !== undefined, pos: this.#pos(itemStart) });
      this.#cur.skipBlank();
      if (this.#cur.tryChar(",")) continue;
      if (this.#cur.tryChar(")")) break;
      if (this.#cur.atEnd()) this.#fail("unbalanced parenthesis: list '(' is never closed", start);
      this.#fail(`expected ',' or ')' in list but found '${this.#cur.excerpt()}'`);
    }
    return { kind: "list", items, parenthesized: true, pos: this.#pos(start) };
  }
}

/** Parses a condition; throws RulesError (only) on malformed input. */
export function parseCondition(source: SourceText): Expr {
  return new Parser(source).parse();
}

/** Parses a field expression such as `proc.aname[2]` or `tolower(proc.name)`; throws RulesError. */
export function parseFieldExpression(source: SourceText): FieldExpr {
  return new Parser(source).parseFieldOnly();
}

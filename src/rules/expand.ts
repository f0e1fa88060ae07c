/**
 * Resolves macros and lists on the syntax tree: a macro reference becomes
 * the macro's (expanded) tree, and a bare list item that names a list becomes
 * that list's items. Done on the tree rather than on text, so positions stay
 * exact and a list name inside a quoted value is never touched.
 */
import type { CheckNode, Expr, ListNode, ValueNode } from "./ast.js";
import { unescapeQuoted } from "./condition-lexer.js";
import { parseCondition } from "./condition-parser.js";
import { RulesError } from "./errors.js";
import type { MacroDef } from "./rule-collector.js";

/** Adds "(in macro 'x')" to an error from inside a macro's body, naming the innermost macro only. */
export function inMacro(err: RulesError, macro: string): RulesError {
  if (err.item !== undefined || err.reason.includes("(in macro '")) return err;
  return new RulesError(`${err.reason} (in macro '${macro}')`, err.position);
}

/**
 * A list item as the condition sees it. Falco pastes items into the
 * condition text, so an item written with its own quotes in YAML
 * ('"10.0.0.0/8"', '"(systemd)"') is a quoted token: its value is inside.
 */
export function listItemValue(text: string): string {
  if (text.length >= 2) {
    const q = text[0];
    if ((q === '"' || q === "'") && text[text.length - 1] === q) {
      return unescapeQuoted(text.slice(1, -1));
    }
  }
  return text;
}

export class Expander {
  readonly #macros: ReadonlyMap<string, MacroDef>;
  readonly #lists: ReadonlyMap<string, readonly string[]>;
  readonly #parsed = new Map<string, Expr>();
  readonly #expanded = new Map<string, Expr>();
  readonly #stack: string[] = [];
  /** Macros some rule used. */
  readonly used = new Set<string>();
  /** Lists some rule or macro named after `in`/`pmatch`. */
  readonly usedLists = new Set<string>();

  constructor(macros: ReadonlyMap<string, MacroDef>, lists: ReadonlyMap<string, readonly string[]>) {
    this.#macros = macros;
    this.#lists = lists;
  }

  /** Parses every macro once, so a syntax error in one is reported even if no rule uses it (as Falco does). */
  parseAllMacros(onError?: (err: RulesError) => void): void {
    for (const m of this.#macros.values()) {
      try {
        this.#parse(m);
      } catch (err) {
        if (onError === undefined || !(err instanceof RulesError)) throw err;
        onError(err);
      }
    }
  }

  /** Macros parsed without error (the others were reported by parseAllMacros). */
  parsed(name: string): boolean {
    return this.#parsed.has(name);
  }

  #parse(m: MacroDef): Expr {
    let ast = this.#parsed.get(m.name);
    if (ast === undefined) {
      try {
        ast = parseCondition(m.condition);
      } catch (err) {
        throw err instanceof RulesError ? err.within({ kind: "macro", name: m.name }) : err;
      }
      this.#parsed.set(m.name, ast);
    }
    return ast;
  }

  expand(e: Expr): Expr {
    switch (e.kind) {
      case "and":
      case "or":
        return { ...e, children: e.children.map((c) => this.expand(c)) };
      case "not":
        return { ...e, child: this.expand(e.child) };
      case "macro-body":
        return e;
      case "check":
        return this.#expandCheck(e);
      case "macro":
        return this.#expandMacro(e.name, e.pos);
    }
  }

  #expandMacro(name: string, pos: Expr["pos"]): Expr {
    const macro = this.#macros.get(name);
    if (macro === undefined) {
      if (this.#lists.has(name))
        throw new RulesError(`'${name}' is a list, not a macro: use it after 'in' or 'pmatch'`, pos);
      throw new RulesError(`unknown macro or list '${name}'`, pos);
    }
    if (this.#stack.includes(name)) {
      throw new RulesError(`macro '${name}' uses itself (${[...this.#stack, name].join(" → ")})`, pos);
    }
    this.used.add(name);
    let body = this.#expanded.get(name);
    if (body === undefined) {
      this.#stack.push(name);
      try {
        body = this.expand(this.#parse(macro));
      } catch (err) {
        throw err instanceof RulesError ? inMacro(err, name) : err;
      } finally {
        this.#stack.pop();
      }
      this.#expanded.set(name, body);
    }
    return { kind: "macro-body", name, body, pos };
  }

  #expandCheck(c: CheckNode): CheckNode {
    const r = c.right;
    if (r?.kind !== "list") return c;
    const items: ValueNode[] = [];
    for (const item of r.items) {
      const list = item.quoted ? undefined : this.#lists.get(item.text);
      if (list === undefined) {
        if (!r.parenthesized) {
          throw new RulesError(
            `unknown list '${item.text}' (write '(${item.text})' for a one-value list)`,
            item.pos,
          );
        }
        items.push(item);
      } else {
        this.usedLists.add(item.text);
        for (const text of list)
          items.push({ kind: "value", text: listItemValue(text), quoted: true, pos: item.pos });
      }
    }
    const right: ListNode = { ...r, items };
    return { ...c, right };
  }
}

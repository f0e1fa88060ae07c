/**
 * Reads one Falco rules file: YAML → typed items, each with the file
 * position of every part. Only the shape of items is checked here (keys,
 * value types, priorities, override syntax); what items mean together
 * (appends, overrides, references) is rule-collector's job.
 */
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseAllDocuments,
  type Scalar,
  type YAMLMap,
} from "yaml";
import {
  makeWarning,
  RulesError,
  type RulesItemRef,
  type RulesWarning,
  type SourcePosition,
} from "./errors.js";
import { type Priority, parsePriority } from "./priority.js";
import type { SourceText } from "./source-text.js";
import { positionOfOffset, scalarSourceText } from "./yaml-positions.js";

/** A value of an exception's fields/comps/values: a scalar or a (nested) sequence. */
export interface ExceptionEntry {
  readonly isList: boolean;
  /** The scalar's text (when !isList). */
  readonly item: string;
  readonly items: readonly ExceptionEntry[];
  readonly pos: SourcePosition;
}

export interface RawException {
  readonly name: string;
  readonly pos: SourcePosition;
  readonly fields: ExceptionEntry | undefined;
  readonly comps: ExceptionEntry | undefined;
  /** Each entry is one value (single-field exceptions) or one tuple (multi-field ones). */
  readonly values: readonly ExceptionEntry[] | undefined;
}

export interface RuleFields {
  readonly desc: string | undefined;
  readonly condition: SourceText | undefined;
  readonly output: SourceText | undefined;
  readonly priority: Priority | undefined;
  readonly source: string | undefined;
  readonly enabled: boolean | undefined;
  readonly tags: readonly string[] | undefined;
  readonly exceptions: readonly RawException[] | undefined;
  readonly warnEvttypes: boolean | undefined;
  readonly skipIfUnknownFilter: boolean | undefined;
}

/**
 * How a rule item changes the rule set:
 * - define: a full definition (replaces an earlier one of the same name);
 * - append: legacy `append: true` (condition and exceptions appended);
 * - override: `override:` with per-key append/replace;
 * - enable: legacy form with only `enabled:` (turns an earlier rule on or off).
 */
export type RuleMode =
  | { readonly kind: "define" }
  | { readonly kind: "append" }
  | { readonly kind: "override"; readonly append: ReadonlySet<string>; readonly replace: ReadonlySet<string> }
  | { readonly kind: "enable" };

export interface RuleItem extends RuleFields {
  readonly kind: "rule";
  readonly name: string;
  readonly pos: SourcePosition;
  readonly mode: RuleMode;
}

export interface MacroItem {
  readonly kind: "macro";
  readonly name: string;
  readonly pos: SourcePosition;
  readonly condition: SourceText;
  readonly append: boolean;
}

export interface ListItemValue {
  readonly value: string;
  readonly pos: SourcePosition;
}

export interface ListItem {
  readonly kind: "list";
  readonly name: string;
  readonly pos: SourcePosition;
  readonly items: readonly ListItemValue[];
  readonly append: boolean;
}

export interface EngineVersionItem {
  readonly kind: "required_engine_version";
  readonly version: string;
  readonly pos: SourcePosition;
}

export interface PluginRequirement {
  readonly name: string;
  readonly version: string;
  readonly alternatives: readonly { readonly name: string; readonly version: string }[];
}

export interface PluginVersionsItem {
  readonly kind: "required_plugin_versions";
  readonly plugins: readonly PluginRequirement[];
  readonly pos: SourcePosition;
}

export type RulesFileItem = RuleItem | MacroItem | ListItem | EngineVersionItem | PluginVersionsItem;

export interface RulesFileContent {
  readonly items: readonly RulesFileItem[];
  readonly warnings: readonly RulesWarning[];
}

/** Rule keys Falco lets `override:` append to, and replace. */
const RULE_APPENDABLE = new Set(["condition", "output", "desc", "tags", "exceptions"]);
const RULE_REPLACEABLE = new Set([
  "condition",
  "output",
  "desc",
  "priority",
  "tags",
  "exceptions",
  "enabled",
  "warn_evttypes",
  "skip-if-unknown-filter",
]);
const RULE_KEYS = new Set([
  "rule",
  "desc",
  "condition",
  "output",
  "priority",
  "source",
  "enabled",
  "tags",
  "exceptions",
  "override",
  "append",
  "warn_evttypes",
  "skip-if-unknown-filter",
]);
const MACRO_KEYS = new Set(["macro", "condition", "append", "override"]);
const LIST_KEYS = new Set(["list", "items", "append", "override"]);
const EXCEPTION_KEYS = new Set(["name", "fields", "comps", "values"]);

/** Falco's name rules: macros are identifiers, lists bare strings. */
const MACRO_NAME = /^[a-zA-Z]+[a-zA-Z0-9_]*$/;
const LIST_NAME = /^[^()"'\s=,]+$/;

const TRUE_WORDS = new Set(["true", "yes", "on", "y"]);
const FALSE_WORDS = new Set(["false", "no", "off", "n"]);

class FileReader {
  readonly #text: string;
  readonly #file: string;
  readonly #lines = new LineCounter();
  readonly warnings: RulesWarning[] = [];
  /** The item being read, for error attribution. */
  #item: RulesItemRef | undefined;

  constructor(text: string, file: string) {
    this.#text = text;
    this.#file = file;
  }

  #at(offset: number): SourcePosition {
    return positionOfOffset(this.#lines, this.#file, offset);
  }

  #posOf(node: Node | Pair | null | undefined, fallback = 0): SourcePosition {
    const range = node !== null && node !== undefined && "range" in node ? node.range : undefined;
    return this.#at(range?.[0] ?? fallback);
  }

  #fail(reason: string, node: Node | null | undefined, fallback?: number): never {
    throw new RulesError(reason, this.#posOf(node, fallback), this.#item);
  }

  read(): RulesFileContent {
    const docs = parseAllDocuments(this.#text, {
      lineCounter: this.#lines,
      prettyErrors: false,
      uniqueKeys: true,
    });
    const items: RulesFileItem[] = [];
    for (const doc of Array.isArray(docs) ? docs : []) {
      const err = doc.errors[0];
      if (err !== undefined) {
        const reason = `invalid YAML: ${err.message.split("\n")[0] ?? err.code}`;
        throw new RulesError(reason, this.#at(err.pos[0]));
      }
      const contents = doc.contents;
      if (contents === null || (isScalar(contents) && contents.value === null)) continue;
      if (!isSeq(contents))
        this.#fail("rules content must be a YAML sequence of items (- rule: …, - macro: …)", contents);
      for (const node of contents.items) {
        if (node === null || (isScalar(node) && node.value === null)) continue;
        const item = this.#readItem(node as Node);
        if (item !== undefined) items.push(item);
      }
    }
    return { items, warnings: this.warnings };
  }

  #readItem(node: Node): RulesFileItem | undefined {
    this.#item = undefined;
    if (!isMap(node)) this.#fail("each item must be a mapping (- rule: …, - macro: …, - list: …)", node);
    const pairs = this.#pairs(node);
    if (pairs.has("required_engine_version")) {
      this.#item = { kind: "required_engine_version", name: undefined };
      this.#onlyKeys(pairs, new Set(["required_engine_version"]));
      const v = pairs.get("required_engine_version");
      return {
        kind: "required_engine_version",
        version: this.#string(v, "required_engine_version"),
        pos: this.#posOf(node),
      };
    }
    if (pairs.has("required_plugin_versions")) {
      this.#item = { kind: "required_plugin_versions", name: undefined };
      this.#onlyKeys(pairs, new Set(["required_plugin_versions"]));
      return this.#readPluginVersions(pairs.get("required_plugin_versions")?.value as Node | null, node);
    }
    if (pairs.has("list")) return this.#readList(pairs, node);
    if (pairs.has("macro")) return this.#readMacro(pairs, node);
    if (pairs.has("rule")) return this.#readRule(pairs, node);
    this.warnings.push(makeWarning("unknown top-level item, ignored", this.#posOf(node)));
    return undefined;
  }

  #pairs(map: YAMLMap): Map<string, Pair> {
    const out = new Map<string, Pair>();
    for (const pair of map.items) {
      const key = pair.key as Node | null;
      if (!isScalar(key) || typeof key.value !== "string") this.#fail("keys must be plain strings", key);
      out.set(key.value, pair);
    }
    return out;
  }

  #onlyKeys(pairs: Map<string, Pair>, allowed: ReadonlySet<string>): void {
    for (const [key, pair] of pairs) {
      if (!allowed.has(key)) {
        const kind = this.#item?.kind ?? "item";
        this.#fail(`unknown key '${key}' in ${kind} (allowed: ${[...allowed].join(", ")})`, pair.key as Node);
      }
    }
  }

  #value(pair: Pair | undefined, key: string): Node {
    const v = pair?.value as Node | null | undefined;
    if (pair === undefined) this.#fail(`missing key '${key}'`, undefined, this.#itemStart);
    if (v === null || v === undefined || (isScalar(v) && v.value === null)) {
      this.#fail(`key '${key}' has no value`, pair.key as Node);
    }
    return v;
  }

  #itemStart = 0;

  #scalar(pair: Pair | undefined, key: string): Scalar {
    const v = this.#value(pair, key);
    if (!isScalar(v)) this.#fail(`'${key}' must be a single value, not a list or mapping`, v);
    return v;
  }

  #string(pair: Pair | undefined, key: string): string {
    const s = this.#scalar(pair, key);
    const text = String(s.value);
    if (text === "") this.#fail(`'${key}' must not be empty`, s);
    return text;
  }

  #sourceText(pair: Pair | undefined, key: string): SourceText {
    const s = this.#scalar(pair, key);
    const text = String(s.value);
    if (text.trim() === "") this.#fail(`'${key}' must not be empty`, s);
    return scalarSourceText(s, text, this.#text, this.#lines, this.#file);
  }

  #boolean(pair: Pair | undefined, key: string): boolean {
    const s = this.#scalar(pair, key);
    if (typeof s.value === "boolean") return s.value;
    const word = String(s.value).toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    this.#fail(`'${key}' must be true or false, not '${String(s.value)}'`, s);
  }

  #stringList(pair: Pair | undefined, key: string): { value: string; pos: SourcePosition }[] {
    const v = this.#value(pair, key);
    if (!isSeq(v)) this.#fail(`'${key}' must be a list`, v);
    return v.items.map((n) => {
      const node = n as Node | null;
      if (!isScalar(node) || node.value === null)
        this.#fail(`items of '${key}' must be single values`, node, v.range?.[0]);
      return { value: String(node.value), pos: this.#posOf(node) };
    });
  }

  #optional<T>(pairs: Map<string, Pair>, key: string, read: (p: Pair, key: string) => T): T | undefined {
    const pair = pairs.get(key);
    return pair === undefined ? undefined : read(pair, key);
  }

  /** `override: {condition: append, enabled: replace}`. */
  #overrides(
    pairs: Map<string, Pair>,
    appendable: ReadonlySet<string>,
    replaceable: ReadonlySet<string>,
  ): { append: Set<string>; replace: Set<string> } | undefined {
    const pair = pairs.get("override");
    if (pair === undefined) return undefined;
    const v = this.#value(pair, "override");
    if (!isMap(v)) this.#fail("'override' must be a mapping of keys to 'append' or 'replace'", v);
    const append = new Set<string>();
    const replace = new Set<string>();
    for (const p of v.items) {
      const key = p.key as Node | null;
      const op = p.value as Node | null;
      if (!isScalar(key) || typeof key.value !== "string")
        this.#fail("override keys must be plain strings", key);
      const name = key.value;
      const how = isScalar(op) ? String(op.value) : "";
      if (how === "append" && appendable.has(name)) append.add(name);
      else if (how === "replace" && replaceable.has(name)) replace.add(name);
      else if (how === "append" && replaceable.has(name))
        this.#fail(`key '${name}' cannot be appended to, use 'replace'`, op);
      else if (how === "replace" || how === "append") this.#fail(`key '${name}' cannot be overridden`, key);
      else {
        const allowed = [appendable.has(name) ? "append" : "", replaceable.has(name) ? "replace" : ""].filter(
          Boolean,
        );
        this.#fail(
          `invalid override '${how}' for key '${name}' (allowed: ${allowed.join(", ") || "none"})`,
          op ?? key,
        );
      }
    }
    return { append, replace };
  }

  #appendFlag(pairs: Map<string, Pair>, item: Node): boolean {
    const append = this.#optional(pairs, "append", (p, k) => this.#boolean(p, k)) ?? false;
    if (append) {
      if (pairs.has("override")) this.#fail("'append' and 'override' cannot be used together", item);
      this.warnings.push(
        makeWarning(
          "'append: true' is deprecated; use 'override' with 'append'",
          this.#posOf(item),
          this.#item,
        ),
      );
    }
    return append;
  }

  #readList(pairs: Map<string, Pair>, node: YAMLMap): ListItem {
    this.#itemStart = node.range?.[0] ?? 0;
    const name = this.#string(pairs.get("list"), "list");
    this.#item = { kind: "list", name };
    this.#onlyKeys(pairs, LIST_KEYS);
    if (!LIST_NAME.test(name)) this.#fail(`invalid list name '${name}'`, pairs.get("list")?.value as Node);
    const overrides = this.#overrides(pairs, new Set(["items"]), new Set(["items"]));
    const append = this.#appendFlag(pairs, node) || (overrides?.append.has("items") ?? false);
    const items = this.#stringList(pairs.get("items"), "items");
    return { kind: "list", name, pos: this.#posOf(node), items, append };
  }

  #readMacro(pairs: Map<string, Pair>, node: YAMLMap): MacroItem {
    this.#itemStart = node.range?.[0] ?? 0;
    const name = this.#string(pairs.get("macro"), "macro");
    this.#item = { kind: "macro", name };
    this.#onlyKeys(pairs, MACRO_KEYS);
    if (!MACRO_NAME.test(name)) this.#fail(`invalid macro name '${name}'`, pairs.get("macro")?.value as Node);
    const overrides = this.#overrides(pairs, new Set(["condition"]), new Set(["condition"]));
    const append = this.#appendFlag(pairs, node) || (overrides?.append.has("condition") ?? false);
    const condition = this.#sourceText(pairs.get("condition"), "condition");
    return { kind: "macro", name, pos: this.#posOf(node), condition, append };
  }

  #readRule(pairs: Map<string, Pair>, node: YAMLMap): RuleItem {
    this.#itemStart = node.range?.[0] ?? 0;
    const name = this.#string(pairs.get("rule"), "rule");
    this.#item = { kind: "rule", name };
    this.#onlyKeys(pairs, RULE_KEYS);
    const legacyAppend = this.#appendFlag(pairs, node);
    const overrides = this.#overrides(pairs, RULE_APPENDABLE, RULE_REPLACEABLE);
    let mode: RuleMode;
    if (overrides !== undefined) {
      for (const key of [...overrides.append, ...overrides.replace]) {
        if (!pairs.has(key))
          this.#fail(`an override for '${key}' is given but '${key}' is not defined`, node);
      }
      for (const key of pairs.keys()) {
        const overridable = RULE_APPENDABLE.has(key) || RULE_REPLACEABLE.has(key);
        if (overridable && !overrides.append.has(key) && !overrides.replace.has(key)) {
          this.#fail(
            `unexpected key '${key}': no entry for it under 'override'`,
            pairs.get(key)?.key as Node,
          );
        }
      }
      if (overrides.append.size + overrides.replace.size === 0) this.#fail("'override' names no key", node);
      mode = { kind: "override", append: overrides.append, replace: overrides.replace };
    } else if (legacyAppend) {
      mode = { kind: "append" };
    } else if (!["condition", "output", "desc", "priority"].some((k) => pairs.has(k))) {
      if (!pairs.has("enabled")) {
        this.#fail(
          "a rule needs condition, output, desc and priority (or only 'enabled' to change an existing rule)",
          node,
        );
      }
      this.warnings.push(
        makeWarning(
          "a rule item with only 'enabled' is deprecated; use 'override: {enabled: replace}'",
          this.#posOf(node),
          this.#item,
        ),
      );
      mode = { kind: "enable" };
    } else {
      for (const key of ["condition", "output", "desc", "priority"]) {
        if (!pairs.has(key)) this.#fail(`missing key '${key}'`, node);
      }
      mode = { kind: "define" };
    }
    return { kind: "rule", name, pos: this.#posOf(node), mode, ...this.#ruleFields(pairs) };
  }

  #ruleFields(pairs: Map<string, Pair>): RuleFields {
    const priority = this.#optional(pairs, "priority", (p, k) => {
      const s = this.#scalar(p, k);
      const parsed = parsePriority(String(s.value));
      if (parsed === undefined) {
        this.#fail(
          `invalid priority '${String(s.value)}' (one of emergency, alert, critical, error, warning, notice, informational, debug)`,
          s,
        );
      }
      return parsed;
    });
    const output = this.#optional(pairs, "output", (p, k) => this.#sourceText(p, k));
    return {
      desc: this.#optional(pairs, "desc", (p, k) => this.#string(p, k)),
      condition: this.#optional(pairs, "condition", (p, k) => this.#sourceText(p, k)),
      output,
      priority,
      source: this.#optional(pairs, "source", (p, k) => this.#string(p, k)),
      enabled: this.#optional(pairs, "enabled", (p, k) => this.#boolean(p, k)),
      tags: this.#optional(pairs, "tags", (p, k) => this.#tags(p, k)),
      exceptions: this.#optional(pairs, "exceptions", (p) => this.#exceptions(p)),
      warnEvttypes: this.#optional(pairs, "warn_evttypes", (p, k) => this.#boolean(p, k)),
      skipIfUnknownFilter: this.#optional(pairs, "skip-if-unknown-filter", (p, k) => this.#boolean(p, k)),
    };
  }

  #tags(pair: Pair, key: string): string[] {
    const v = pair.value as Node | null;
    if (v === null || (isScalar(v) && v.value === null)) return [];
    return [...new Set(this.#stringList(pair, key).map((t) => t.value))];
  }

  #exceptions(pair: Pair): RawException[] {
    const v = pair.value as Node | null;
    if (v === null || (isScalar(v) && v.value === null)) return [];
    if (!isSeq(v)) this.#fail("'exceptions' must be a list", v);
    const names = new Set<string>();
    return v.items.map((n) => {
      const node = n as Node | null;
      if (!isMap(node))
        this.#fail(
          "each exception must be a mapping with name, fields, comps and values",
          node,
          v.range?.[0],
        );
      const pairs = this.#pairs(node);
      const name = this.#string(pairs.get("name"), "name");
      for (const [key, p] of pairs) {
        if (!EXCEPTION_KEYS.has(key))
          this.#fail(`unknown key '${key}' in exception '${name}'`, p.key as Node);
      }
      if (names.has(name)) this.#fail(`exception names must be unique, '${name}' is repeated`, node);
      names.add(name);
      const valuesPair = pairs.get("values");
      let values: ExceptionEntry[] | undefined;
      if (valuesPair !== undefined) {
        const vv = valuesPair.value as Node | null;
        if (vv === null || (isScalar(vv) && vv.value === null)) values = [];
        else if (!isSeq(vv)) this.#fail(`'values' of exception '${name}' must be a list`, vv);
        else values = vv.items.map((x) => this.#entry(x as Node | null, "values"));
      }
      return {
        name,
        pos: this.#posOf(node),
        fields: this.#optional(pairs, "fields", (p, k) => this.#entry(this.#value(p, k), k)),
        comps: this.#optional(pairs, "comps", (p, k) => this.#entry(this.#value(p, k), k)),
        values,
      };
    });
  }

  #entry(node: Node | null, key: string): ExceptionEntry {
    if (isScalar(node) && node.value !== null) {
      const item = String(node.value);
      if (item === "" && key !== "values") this.#fail(`'${key}' must not be empty`, node);
      return { isList: false, item, items: [], pos: this.#posOf(node) };
    }
    if (isSeq(node)) {
      return {
        isList: true,
        item: "",
        items: node.items.map((n) => this.#entry(n as Node | null, key)),
        pos: this.#posOf(node),
      };
    }
    this.#fail(`'${key}' must hold values or lists of values`, node);
  }

  #readPluginVersions(v: Node | null, item: Node): PluginVersionsItem {
    if (!isSeq(v)) this.#fail("'required_plugin_versions' must be a list", v ?? item);
    const plugins = v.items.map((n) => {
      const node = n as Node | null;
      if (!isMap(node))
        this.#fail("each plugin requirement must be a mapping with name and version", node, v.range?.[0]);
      const pairs = this.#pairs(node);
      this.#onlyKeys(pairs, new Set(["name", "version", "alternatives"]));
      const alternatives = this.#optional(pairs, "alternatives", (p) => {
        const alts = p.value as Node | null;
        if (!isSeq(alts)) this.#fail("'alternatives' must be a list", alts ?? node);
        return alts.items.map((a) => {
          const alt = a as Node | null;
          if (!isMap(alt))
            this.#fail("each alternative must be a mapping with name and version", alt, alts.range?.[0]);
          const ap = this.#pairs(alt);
          this.#onlyKeys(ap, new Set(["name", "version"]));
          return {
            name: this.#string(ap.get("name"), "name"),
            version: this.#string(ap.get("version"), "version"),
          };
        });
      });
      return {
        name: this.#string(pairs.get("name"), "name"),
        version: this.#string(pairs.get("version"), "version"),
        alternatives: alternatives ?? [],
      };
    });
    return { kind: "required_plugin_versions", plugins, pos: this.#posOf(item) };
  }
}

/** Reads a rules file's text; throws RulesError with the file position of the first problem. */
export function readRulesFile(text: string, file: string): RulesFileContent {
  return new FileReader(text, file).read();
}

/**
 * Applies rules-file items in load order, with Falco's semantics: a later
 * definition replaces an earlier one (keeping its place in the order),
 * appends extend conditions, lists and exceptions, overrides append to or
 * replace single keys, and the legacy `enabled`-only item switches a rule on
 * or off. The result is the final list/macro/rule definitions, still as text.
 */
import {
  makeWarning,
  RulesError,
  type RulesItemRef,
  type RulesWarning,
  type SourcePosition,
} from "./errors.js";
import { parseComparison } from "./operators.js";
import type { Priority } from "./priority.js";
import type {
  ExceptionEntry,
  ListItemValue,
  PluginRequirement,
  RawException,
  RuleItem,
  RulesFileItem,
} from "./rules-file.js";
import { composeSourceText, type SourceText } from "./source-text.js";

export interface ListDef {
  readonly name: string;
  readonly pos: SourcePosition;
  items: ListItemValue[];
  /** Order of first definition: a list item may name only lists defined before (Falco's visibility). */
  readonly index: number;
  /** Order of the last definition or append. */
  visibility: number;
}

export interface MacroDef {
  readonly name: string;
  pos: SourcePosition;
  condition: SourceText;
}

/** An exception with Falco's defaults applied: comps always present. */
export interface ExceptionDef {
  readonly name: string;
  readonly pos: SourcePosition;
  readonly fields: ExceptionEntry;
  readonly comps: ExceptionEntry;
  values: ExceptionEntry[];
}

export interface RuleDef {
  readonly name: string;
  pos: SourcePosition;
  /** Base name of the file that defined the rule. */
  rulesetName: string;
  desc: string;
  condition: SourceText;
  output: SourceText;
  priority: Priority;
  source: string;
  enabled: boolean;
  tags: string[];
  exceptions: ExceptionDef[];
  warnEvttypes: boolean;
  skipIfUnknownFilter: boolean;
}

export interface CollectedRules {
  readonly lists: ReadonlyMap<string, readonly string[]>;
  readonly macros: ReadonlyMap<string, MacroDef>;
  /** In order of first definition. */
  readonly rules: readonly RuleDef[];
  readonly requiredEngineVersion: string | undefined;
  readonly requiredPluginVersions: readonly PluginRequirement[];
  readonly warnings: readonly RulesWarning[];
  /** Where each list was first defined, and the lists some other list's items name (for unused-list reports). */
  readonly listPositions: ReadonlyMap<string, SourcePosition>;
  readonly listsNamedByLists: ReadonlySet<string>;
}

/** Plugins whose fields Peregrine answers itself. */
const BUILT_IN_PLUGINS: ReadonlySet<string> = new Set(["container"]);

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export class RuleCollector {
  readonly #lists = new Map<string, ListDef>();
  readonly #macros = new Map<string, MacroDef>();
  readonly #rules = new Map<string, RuleDef>();
  readonly #warnings: RulesWarning[] = [];
  readonly #plugins: PluginRequirement[] = [];
  #engineVersion: string | undefined;
  #counter = 0;

  add(item: RulesFileItem, rulesetName: string): void {
    const index = this.#counter++;
    switch (item.kind) {
      case "required_engine_version": {
        // Falco reads a bare integer N as engine version 0.N.0.
        const version = /^\d+$/.test(item.version) ? `0.${item.version}.0` : item.version;
        if (this.#engineVersion === undefined || compareVersions(version, this.#engineVersion) > 0) {
          this.#engineVersion = version;
        }
        return;
      }
      case "required_plugin_versions":
        this.#plugins.push(...item.plugins);
        for (const plugin of item.plugins) {
          const names = [plugin.name, ...plugin.alternatives.map((a) => a.name)];
          // The container plugin's fields (container.*, k8s.*) are built in.
          if (names.some((n) => BUILT_IN_PLUGINS.has(n))) continue;
          this.#warnings.push(
            makeWarning(
              `requires plugin '${plugin.name}' ${plugin.version}, which Peregrine does not have: rules for its event source are skipped, its fields are unknown`,
              item.pos,
              { kind: "required_plugin_versions", name: plugin.name },
            ),
          );
        }
        return;
      case "list": {
        const prev = this.#lists.get(item.name);
        if (item.append) {
          if (prev === undefined) {
            throw new RulesError("cannot append to a list that does not exist", item.pos, {
              kind: "list",
              name: item.name,
            });
          }
          prev.items.push(...item.items);
          prev.visibility = index;
        } else if (prev !== undefined) {
          prev.items = [...item.items];
          prev.visibility = index;
        } else {
          this.#lists.set(item.name, {
            name: item.name,
            pos: item.pos,
            items: [...item.items],
            index,
            visibility: index,
          });
        }
        return;
      }
      case "macro": {
        const prev = this.#macros.get(item.name);
        if (item.append) {
          if (prev === undefined) {
            throw new RulesError("cannot append to a macro that does not exist", item.pos, {
              kind: "macro",
              name: item.name,
            });
          }
          prev.condition = composeSourceText([prev.condition, { text: " ", at: item.pos }, item.condition]);
        } else if (prev !== undefined) {
          prev.condition = item.condition;
          prev.pos = item.pos;
        } else {
          this.#macros.set(item.name, { name: item.name, pos: item.pos, condition: item.condition });
        }
        return;
      }
      case "rule":
        this.#addRule(item, rulesetName);
        return;
    }
  }

  #addRule(item: RuleItem, rulesetName: string): void {
    const ref: RulesItemRef = { kind: "rule", name: item.name };
    const prev = this.#rules.get(item.name);
    const fail: (reason: string, pos?: SourcePosition) => never = (reason, pos = item.pos) => {
      throw new RulesError(reason, pos, ref);
    };
    switch (item.mode.kind) {
      case "define": {
        const source = item.source ?? "syscall";
        if (prev !== undefined && prev.source !== source) fail("rule redefined with a different source");
        const def: RuleDef = {
          name: item.name,
          pos: item.pos,
          rulesetName,
          desc: item.desc ?? "",
          condition: item.condition ?? fail("missing key 'condition'"),
          output: item.output ?? fail("missing key 'output'"),
          priority: item.priority ?? fail("missing key 'priority'"),
          source,
          enabled: item.enabled ?? true,
          tags: [...(item.tags ?? [])],
          exceptions: (item.exceptions ?? []).map((ex) => this.#newException(ex, ref)),
          warnEvttypes: item.warnEvttypes ?? true,
          skipIfUnknownFilter: item.skipIfUnknownFilter ?? false,
        };
        if (prev !== undefined) Object.assign(prev, def);
        else this.#rules.set(item.name, def);
        return;
      }
      case "enable": {
        if (prev === undefined) fail("rule has only 'enabled' but no rule by that name exists");
        prev.enabled = item.enabled ?? true;
        return;
      }
      case "append": {
        if (prev === undefined) fail("cannot append to a rule that does not exist");
        if (item.condition === undefined && item.exceptions === undefined) {
          fail("an appended rule needs a condition or exceptions");
        }
        this.#appendTo(prev, item, new Set(["condition", "exceptions"]), ref);
        return;
      }
      case "override": {
        if (prev === undefined) fail("cannot override a rule that does not exist");
        this.#appendTo(prev, item, item.mode.append, ref);
        this.#replaceIn(prev, item, item.mode.replace, ref);
        return;
      }
    }
  }

  #appendTo(prev: RuleDef, item: RuleItem, keys: ReadonlySet<string>, ref: RulesItemRef): void {
    if (keys.has("condition") && item.condition !== undefined) {
      prev.condition = composeSourceText([prev.condition, { text: " ", at: item.pos }, item.condition]);
    }
    if (keys.has("output") && item.output !== undefined) {
      prev.output = composeSourceText([prev.output, { text: " ", at: item.pos }, item.output]);
    }
    if (keys.has("desc") && item.desc !== undefined) prev.desc = `${prev.desc} ${item.desc}`;
    if (keys.has("tags") && item.tags !== undefined) prev.tags = [...new Set([...prev.tags, ...item.tags])];
    if (keys.has("exceptions") && item.exceptions !== undefined) {
      for (const ex of item.exceptions) {
        const existing = prev.exceptions.find((e) => e.name === ex.name);
        if (existing === undefined) {
          if (ex.values === undefined) {
            throw new RulesError(`new exception '${ex.name}' needs values`, ex.pos, ref);
          }
          prev.exceptions.push(this.#newException(ex, ref));
          continue;
        }
        if (ex.fields !== undefined || ex.comps !== undefined) {
          throw new RulesError(
            `exception '${ex.name}' exists: only values can be appended to it, not fields or comps`,
            ex.pos,
            ref,
          );
        }
        if (ex.values === undefined) {
          this.#warnings.push(makeWarning(`appending to exception '${ex.name}' with no values`, ex.pos, ref));
        }
        existing.values.push(...(ex.values ?? []));
      }
    }
  }

  #replaceIn(prev: RuleDef, item: RuleItem, keys: ReadonlySet<string>, ref: RulesItemRef): void {
    if (keys.has("condition") && item.condition !== undefined) prev.condition = item.condition;
    if (keys.has("output") && item.output !== undefined) prev.output = item.output;
    if (keys.has("desc") && item.desc !== undefined) prev.desc = item.desc;
    if (keys.has("tags") && item.tags !== undefined) prev.tags = [...item.tags];
    if (keys.has("priority") && item.priority !== undefined) prev.priority = item.priority;
    if (keys.has("enabled") && item.enabled !== undefined) prev.enabled = item.enabled;
    if (keys.has("warn_evttypes") && item.warnEvttypes !== undefined) prev.warnEvttypes = item.warnEvttypes;
    if (keys.has("skip-if-unknown-filter") && item.skipIfUnknownFilter !== undefined) {
      prev.skipIfUnknownFilter = item.skipIfUnknownFilter;
    }
    if (keys.has("exceptions") && item.exceptions !== undefined) {
      prev.exceptions = item.exceptions.map((ex) => this.#newException(ex, ref));
    }
  }

  /** Falco's exception defaults and checks: comps default to `=` per field, or `in` for a single field. */
  #newException(ex: RawException, ref: RulesItemRef): ExceptionDef {
    const fail: (reason: string, pos?: SourcePosition) => never = (reason, pos = ex.pos) => {
      throw new RulesError(`exception '${ex.name}': ${reason}`, pos, ref);
    };
    const fields = ex.fields ?? fail("missing key 'fields'");
    let comps: ExceptionEntry;
    if (fields.isList) {
      comps = ex.comps ?? {
        isList: true,
        item: "",
        items: fields.items.map((f) => ({ isList: false, item: "=", items: [], pos: f.pos })),
        pos: ex.pos,
      };
      if (!comps.isList || comps.items.length !== fields.items.length) {
        fail("fields and comps lists must have equal length", comps.pos);
      }
      for (const f of fields.items) if (f.isList) fail("fields must be field names", f.pos);
      for (const c of comps.items) {
        if (c.isList || parseComparison(c.item) === undefined)
          fail(`'${c.item}' is not a comparison operator`, c.pos);
      }
    } else {
      comps = ex.comps ?? { isList: false, item: "in", items: [], pos: ex.pos };
      if (comps.isList) fail("when fields is a single field, comps must be a single operator", comps.pos);
      // A list operator, or (Falco 0.44) any string operator with a list modifier: `startswith anyof`.
      if (
        !["in", "pmatch", "intersects"].includes(comps.item) &&
        parseComparison(comps.item)?.modifier === undefined
      ) {
        fail(
          "when fields is a single field, comps must be one of in, pmatch, intersects, or an operator with oneof/anyof/allof (startswith anyof)",
          comps.pos,
        );
      }
    }
    return { name: ex.name, pos: ex.pos, fields, comps, values: [...(ex.values ?? [])] };
  }

  /** Flattens list references: an item naming a list visible to this list is replaced by its items. */
  #flattenLists(): Map<string, readonly string[]> {
    const out = new Map<string, readonly string[]>();
    const visiting = new Set<string>();
    const flatten = (list: ListDef): readonly string[] => {
      const done = out.get(list.name);
      if (done !== undefined) return done;
      if (visiting.has(list.name)) {
        throw new RulesError("list refers to itself through other lists", list.pos, {
          kind: "list",
          name: list.name,
        });
      }
      visiting.add(list.name);
      const items: string[] = [];
      for (const item of list.items) {
        const ref = this.#lists.get(item.value);
        if (ref !== undefined && ref !== list && ref.index < list.visibility) {
          this.#namedByLists.add(ref.name);
          items.push(...flatten(ref));
        } else items.push(item.value);
      }
      visiting.delete(list.name);
      out.set(list.name, items);
      return items;
    };
    for (const list of this.#lists.values()) flatten(list);
    return out;
  }

  readonly #namedByLists = new Set<string>();

  result(): CollectedRules {
    return {
      listPositions: new Map([...this.#lists.values()].map((l) => [l.name, l.pos])),
      listsNamedByLists: this.#namedByLists,
      lists: this.#flattenLists(),
      macros: this.#macros,
      rules: [...this.#rules.values()],
      requiredEngineVersion: this.#engineVersion,
      requiredPluginVersions: this.#plugins,
      warnings: this.#warnings,
    };
  }
}

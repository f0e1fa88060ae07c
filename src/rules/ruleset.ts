/**
 * The rules engine: loads Falco rules files in order, compiles every enabled
 * rule once, indexes rules by event type, and evaluates events against only
 * the rules that can match their type.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { BindingOptions } from "./binding.js";
import { compileCondition, type Predicate } from "./compiler.js";
import { parseCondition } from "./condition-parser.js";
import type { Detection, RuleInfo } from "./detection.js";
import {
  FieldError,
  makeWarning,
  RulesError,
  type RulesItemRef,
  type RulesWarning,
  type SourcePosition,
} from "./errors.js";
import { numberEvent } from "./event-sequence.js";
import {
  CAPTURED,
  type EventTypeSet,
  eventTypeConstants,
  isAllEventTypes,
  KNOWN_EVENT_TYPES,
  matchingEventTypes,
  setContains,
} from "./event-types.js";
import { applyExceptions } from "./exceptions.js";
import { Expander } from "./expand.js";
import { FieldCache } from "./field-cache.js";
import { DEFAULT_FIELDS, type FieldRegistry } from "./fields.js";
import { GuardIndex } from "./guard-index.js";
import { describeGuard, extractGuards, type Guard } from "./guards.js";
import { MacroMemo } from "./macro-memo.js";
import { type CompiledOutput, compileOutput } from "./output-format.js";
import { PRIORITIES, type Priority } from "./priority.js";
import { type CollectedRules, RuleCollector, type RuleDef } from "./rule-collector.js";
import { type PluginRequirement, readRulesFile } from "./rules-file.js";

/** The event source this engine evaluates; rules for other sources are skipped with a warning. */
export const SYSCALL_SOURCE = "syscall";

export interface RulesetOptions {
  /**
   * "all" (default): every matching rule fires. "first": only the first
   * matching rule in load order fires; Falco's `rule_matching: first`, which
   * is Falco's own default.
   */
  readonly ruleMatching?: "all" | "first";
  /** Rules less severe than this are not loaded (Falco's `priority` setting). */
  readonly minimumPriority?: Priority;
  /** The field registry; tests may pass their own. */
  readonly fields?: FieldRegistry;
  /**
   * Called when a rule's evaluation throws (a bug, or inconsistent enrichment
   * data); the rule is skipped for that event and the others still run.
   */
  readonly onEvaluationError?: (rule: RuleInfo, error: unknown) => void;
  /**
   * A field the sensor cannot answer (known to Falco, not collected here):
   * "report" (default) loads the rule, the comparisons on that field are
   * false (libsinsp's rule for a missing value) and the use is listed in
   * Ruleset.unsupportedFields; "error" fails the load. Rules marked
   * `skip-if-unknown-filter: true` are skipped with a warning either way.
   */
  readonly unsupportedFields?: "report" | "error";
  /**
   * For validation: collect every error here and go on (each file, item,
   * macro and rule on its own) instead of throwing the first. The Ruleset
   * returned then holds the rules that did compile.
   */
  readonly collectErrors?: RulesError[];
  /** Warn about macros and lists no rule uses (Falco's LOAD_UNUSED_MACRO/LIST); for validation. */
  readonly warnUnused?: boolean;
  /**
   * false: every rule of an event's type is evaluated on its own compiled
   * condition — no macro memo shared between rules, no guard index ruling
   * rules out first (docs/rules.md, "How evaluation is optimized"). The same
   * detections in the same order either way; tests and benches compare the two.
   */
  readonly optimize?: boolean;
}

/** One use of a field the sensor cannot answer, in an enabled rule that was loaded. */
export interface UnsupportedFieldUse {
  readonly field: string;
  readonly reason: string;
  readonly rule: string;
  readonly position: SourcePosition;
}

/** A rules file's name (used as its file name in positions) and content. */
export interface RulesSource {
  readonly name: string;
  readonly text: string;
}

interface CompiledRule {
  readonly info: RuleInfo;
  readonly predicate: Predicate;
  readonly output: CompiledOutput;
  readonly eventTypes: EventTypeSet;
  /** Necessary checks of the condition for events of one type (guards.ts); undefined when not optimizing. */
  readonly guardsFor: ((eventType: string) => readonly Guard[]) | undefined;
}

/** The rules one event type meets, in load order, and the index that rules most of them out per event. */
interface TypeRules {
  readonly rules: readonly CompiledRule[];
  readonly index: GuardIndex | undefined;
  /** Each rule's guards for this type (none when not optimizing, nor for "every type except …"). */
  readonly guards: readonly (readonly Guard[])[];
}

/**
 * With one guarded rule, an index would read the guard's field only to skip
 * at most one rule call, which reads it anyway: not worth the extra step.
 */
const MIN_GUARDED_RULES = 2;

/** One event type's rules; indexed when `eventType` is one type (not "every type except …"). */
function typeRules(rules: readonly CompiledRule[], eventType: string | undefined): TypeRules {
  if (eventType === undefined) return { rules, index: undefined, guards: [] };
  const guards = rules.map((r) => r.guardsFor?.(eventType) ?? []);
  if (guards.filter((g) => g.length > 0).length < MIN_GUARDED_RULES)
    return { rules, index: undefined, guards };
  return { rules, index: new GuardIndex(guards), guards };
}

export class Ruleset {
  /** Enabled rules that were loaded, in load order. */
  readonly rules: readonly RuleInfo[];
  /** The evt.type values the enabled rules can match. */
  readonly eventTypes: ReadonlySet<string>;
  readonly warnings: readonly RulesWarning[];
  /** Uses of fields the sensor cannot answer (see RulesetOptions.unsupportedFields). */
  readonly unsupportedFields: readonly UnsupportedFieldUse[];
  /** The highest `required_engine_version` of the files, as written. */
  readonly requiredEngineVersion: string | undefined;
  readonly requiredPluginVersions: readonly PluginRequirement[];
  readonly #byType: ReadonlyMap<string, TypeRules>;
  /** Rules for event types not in #byType: those matching "every type except …". */
  readonly #otherTypes: TypeRules;
  /**
   * The last two event types evaluated and their entries: a stream mostly alternates a few
   * types (openat, close), so most events skip the Map lookup. #byType never changes.
   */
  #type0 = "";
  #entry0: TypeRules | undefined;
  #type1 = "";
  #entry1: TypeRules | undefined;
  readonly #firstOnly: boolean;
  readonly #onError: (rule: RuleInfo, error: unknown) => void;
  #evaluationErrors = 0;

  constructor(
    compiled: readonly CompiledRule[],
    collected: CollectedRules,
    warnings: readonly RulesWarning[],
    options: RulesetOptions,
    unsupported: readonly UnsupportedFieldUse[] = [],
  ) {
    this.rules = compiled.map((r) => r.info);
    this.warnings = warnings;
    this.unsupportedFields = unsupported;
    this.requiredEngineVersion = collected.requiredEngineVersion;
    this.requiredPluginVersions = collected.requiredPluginVersions;
    this.#firstOnly = options.ruleMatching === "first";
    this.#onError =
      options.onEvaluationError ??
      (() => {
        // Counted only: one broken rule must not stop the others.
      });

    const keys = new Set<string>();
    const types = new Set<string>();
    for (const r of compiled) {
      for (const name of r.eventTypes.names) keys.add(name);
      if (r.eventTypes.negated) {
        for (const t of KNOWN_EVENT_TYPES) if (!r.eventTypes.names.has(t)) types.add(t);
      } else for (const t of r.eventTypes.names) types.add(t);
    }
    const byType = new Map<string, TypeRules>();
    for (const key of keys)
      byType.set(
        key,
        typeRules(
          compiled.filter((r) => setContains(r.eventTypes, key)),
          key,
        ),
      );
    this.#byType = byType;
    this.#otherTypes = typeRules(
      compiled.filter((r) => r.eventTypes.negated),
      undefined,
    );
    this.eventTypes = types;
  }

  /** How many rule evaluations threw (see RulesetOptions.onEvaluationError). */
  get evaluationErrors(): number {
    return this.#evaluationErrors;
  }

  /**
   * Evaluates an event against the rules for its type; calls `emit` for each
   * rule that matches, in load order. Costly field values are memoized by the
   * EnrichedEvent's identity: pass a fresh object for every event.
   */
  evaluate(e: EnrichedEvent, emit: (d: Detection) => void): void {
    numberEvent(e);
    const entry = this.#entryFor(e.event.evtType);
    const rules = entry.rules;
    const index = entry.index;
    if (index === undefined) {
      for (let i = 0; i < rules.length; i++) if (this.#run(rules[i] as CompiledRule, e, emit)) return;
      return;
    }
    let mask: Uint32Array;
    try {
      mask = index.candidates(e);
    } catch {
      // An extractor failed: evaluate every rule, which reports the error per rule as before.
      for (let i = 0; i < rules.length; i++) if (this.#run(rules[i] as CompiledRule, e, emit)) return;
      return;
    }
    // The candidates' bits, lowest first: load order, as above.
    const n = rules.length;
    for (let w = 0, base = 0; base < n; w++, base += 32) {
      let bits = mask[w] as number;
      while (bits !== 0) {
        const low = bits & -bits;
        const i = base + 31 - Math.clz32(low);
        if (i >= n) return;
        if (this.#run(rules[i] as CompiledRule, e, emit)) return;
        bits ^= low;
      }
    }
  }

  /** The rules events of `type` meet (see #type0). */
  #entryFor(type: string): TypeRules {
    if (type === this.#type0 && this.#entry0 !== undefined) return this.#entry0;
    if (type === this.#type1 && this.#entry1 !== undefined) return this.#entry1;
    const entry = this.#byType.get(type) ?? this.#otherTypes;
    this.#type1 = this.#type0;
    this.#entry1 = this.#entry0;
    this.#type0 = type;
    this.#entry0 = entry;
    return entry;
  }

  /** The event types whose rules are indexed by guards, and the fields each index reads (tests, benches). */
  get guardIndexes(): ReadonlyMap<string, readonly string[]> {
    const out = new Map<string, readonly string[]>();
    for (const [type, entry] of this.#byType)
      if (entry.index !== undefined) out.set(type, entry.index.fields);
    return out;
  }

  /**
   * The rules events of `eventType` meet, in load order, with the guards the
   * index rules them out by (none: always evaluated). For tests and benches.
   */
  guardsFor(eventType: string): { readonly rule: string; readonly guards: readonly string[] }[] {
    const entry = this.#byType.get(eventType) ?? this.#otherTypes;
    return entry.rules.map((r, i) => ({
      rule: r.info.name,
      guards: (entry.guards[i] ?? []).map(describeGuard),
    }));
  }

  /** Evaluates one rule; true when evaluation must stop (first-match mode and it matched). */
  #run(rule: CompiledRule, e: EnrichedEvent, emit: (d: Detection) => void): boolean {
    let matched: boolean;
    try {
      matched = rule.predicate(e);
    } catch (err) {
      this.#evaluationErrors++;
      this.#onError(rule.info, err);
      return false;
    }
    if (!matched) return false;
    const out = rule.output.render(e);
    emit({ rule: rule.info, event: e, output: out.text, outputFields: out.fields });
    return this.#firstOnly;
  }
}

/** Collects warnings, one per distinct message and place. */
class WarningSink {
  readonly list: RulesWarning[] = [];
  readonly #seen = new Set<string>();

  add(message: string, pos: SourcePosition, item?: RulesItemRef): void {
    const key = `${pos.file}:${pos.line}:${pos.column}:${item?.name}:${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.list.push(makeWarning(message, pos, item));
  }
}

function describeTypes(names: Iterable<string>): string {
  return [...names].sort().join(", ");
}

class RuleCompiler {
  readonly #fields: FieldRegistry;
  readonly #expander: Expander;
  readonly #cache = new FieldCache();
  readonly #macros: MacroMemo | undefined;
  readonly #warnings: WarningSink;
  readonly #report: boolean;
  readonly unsupported: UnsupportedFieldUse[] = [];

  constructor(
    collected: CollectedRules,
    fields: FieldRegistry,
    warnings: WarningSink,
    report: boolean,
    optimize: boolean,
    onMacroError?: (err: RulesError) => void,
  ) {
    this.#macros = optimize ? new MacroMemo() : undefined;
    this.#fields = fields;
    this.#warnings = warnings;
    this.#report = report;
    this.#expander = new Expander(collected.macros, collected.lists);
    this.#expander.parseAllMacros(onMacroError);
  }

  /** Warnings for macros and lists that no rule (enabled or not) uses. */
  warnUnused(collected: CollectedRules): void {
    for (const m of collected.macros.values()) {
      if (!this.#expander.used.has(m.name) && this.#expander.parsed(m.name))
        this.#warnings.add("macro not used by any rule", m.pos, { kind: "macro", name: m.name });
    }
    for (const [name, pos] of collected.listPositions) {
      if (!this.#expander.usedLists.has(name) && !collected.listsNamedByLists.has(name))
        this.#warnings.add("list not used by any rule, macro or list", pos, { kind: "list", name });
    }
  }

  /** Compiles one rule; undefined when it is skipped (with a warning saying why). */
  compile(rule: RuleDef, checkOnly: boolean): CompiledRule | undefined {
    const item: RulesItemRef = { kind: "rule", name: rule.name };
    try {
      const condition = this.#expander.expand(
        applyExceptions(parseCondition(rule.condition), rule.exceptions),
      );
      if (checkOnly) return undefined;
      const eventTypes = matchingEventTypes(condition);
      this.#checkEventTypes(rule, condition, eventTypes, item);
      const uses: UnsupportedFieldUse[] = [];
      const opts: BindingOptions = {
        fields: this.#fields,
        cache: this.#cache,
        bind: { eventTypes },
        ...(this.#macros !== undefined && { macros: this.#macros }),
        warn: (message, pos) => this.#warnings.add(message, pos, item),
        // skip-if-unknown-filter rules are skipped on such a field instead (below), as Falco does.
        ...(this.#report &&
          !rule.skipIfUnknownFilter && {
            onUnsupported: (field: string, reason: string, position: SourcePosition) =>
              uses.push({ field, reason, rule: rule.name, position }),
          }),
      };
      const predicate = compileCondition(condition, opts);
      // Taken per event type when the Ruleset builds its indexes; the fields they
      // read were bound without error just above, so binding them again cannot fail.
      const guardsFor =
        this.#macros === undefined ? undefined : (type: string) => extractGuards(condition, opts, type);
      const output = compileOutput(rule.output, opts);
      this.unsupported.push(...uses);
      const info: RuleInfo = {
        name: rule.name,
        desc: rule.desc,
        priority: rule.priority,
        source: rule.source,
        tags: rule.tags,
        rulesetName: rule.rulesetName,
      };
      return { info, predicate, output, eventTypes, guardsFor };
    } catch (err) {
      if (err instanceof FieldError && rule.skipIfUnknownFilter) {
        this.#warnings.add(`rule skipped (skip-if-unknown-filter): ${err.reason}`, err.position, item);
        return undefined;
      }
      throw err instanceof RulesError ? err.within(item) : err;
    }
  }

  #checkEventTypes(
    rule: RuleDef,
    condition: Parameters<typeof matchingEventTypes>[0],
    types: EventTypeSet,
    item: RulesItemRef,
  ): void {
    for (const { name, check } of eventTypeConstants(condition)) {
      if (!KNOWN_EVENT_TYPES.has(name)) {
        this.#warnings.add(`unknown event type '${name}': no event will ever have it`, check.pos, item);
      }
    }
    if (isAllEventTypes(types)) {
      if (rule.warnEvttypes) {
        this.#warnings.add(
          "the condition does not restrict evt.type: the rule is evaluated for every event",
          rule.pos,
          item,
        );
      }
      return;
    }
    if (!types.negated && ![...types.names].some((t) => CAPTURED.has(t))) {
      const what = types.names.size === 0 ? "no event type" : `only ${describeTypes(types.names)}`;
      this.#warnings.add(
        `the rule can never fire: it matches ${what}, and the sensor captures ${describeTypes(CAPTURED)}`,
        rule.pos,
        item,
      );
    }
  }
}

function isBelow(priority: Priority, minimum: Priority | undefined): boolean {
  return minimum !== undefined && PRIORITIES.indexOf(priority) > PRIORITIES.indexOf(minimum);
}

/** Loads rules from in-memory texts, in order; throws RulesError on the first problem. */
export function loadRulesFromText(sources: readonly RulesSource[], options: RulesetOptions = {}): Ruleset {
  const sink = new WarningSink();
  const collector = new RuleCollector();
  const errors = options.collectErrors;
  /** Runs one step; with collectErrors, a RulesError is recorded and the load goes on. */
  const step = <T>(f: () => T): T | undefined => {
    if (errors === undefined) return f();
    try {
      return f();
    } catch (err) {
      if (!(err instanceof RulesError)) throw err;
      errors.push(err);
      return undefined;
    }
  };
  for (const src of sources) {
    const content = step(() => readRulesFile(src.text, src.name));
    if (content === undefined) continue;
    for (const w of content.warnings) sink.add(w.message, w, w.item);
    for (const item of content.items) step(() => collector.add(item, basename(src.name)));
  }
  const collected = collector.result();
  for (const w of collected.warnings) sink.add(w.message, w, w.item);

  const compiler = new RuleCompiler(
    collected,
    options.fields ?? DEFAULT_FIELDS,
    sink,
    (options.unsupportedFields ?? "report") === "report",
    options.optimize ?? true,
    errors === undefined ? undefined : (err) => errors.push(err),
  );
  const compiled: CompiledRule[] = [];
  for (const rule of collected.rules) {
    const item: RulesItemRef = { kind: "rule", name: rule.name };
    if (rule.source !== SYSCALL_SOURCE) {
      sink.add(`unknown source '${rule.source}': rule skipped`, rule.pos, item);
      continue;
    }
    // Disabled rules are still checked for syntax and macros (as Falco does), but
    // not bound to fields: a disabled rule may use fields we cannot answer.
    const skip = !rule.enabled || isBelow(rule.priority, options.minimumPriority);
    const c = step(() => compiler.compile(rule, skip));
    if (c !== undefined) compiled.push(c);
  }
  if (options.warnUnused) compiler.warnUnused(collected);
  return new Ruleset(compiled, collected, sink.list, options, compiler.unsupported);
}

async function expandPath(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => n.endsWith(".yaml") || n.endsWith(".yml")).sort();
  return names.map((n) => join(path, n));
}

/**
 * Loads rules files in order (a directory stands for its *.yaml files in
 * alphabetical order, like Falco's rules_files); later files override earlier
 * ones. Throws RulesError on the first problem, or the file system's error.
 */
export async function loadRules(paths: readonly string[], options: RulesetOptions = {}): Promise<Ruleset> {
  return loadRulesFromText(await readRulesSources(paths), options);
}

/** The rules files behind these paths (a folder: its *.yaml/*.yml, sorted), read, in load order. */
export async function readRulesSources(paths: readonly string[]): Promise<RulesSource[]> {
  const sources: RulesSource[] = [];
  for (const p of paths) {
    for (const file of await expandPath(p)) sources.push({ name: file, text: await readFile(file, "utf8") });
  }
  return sources;
}

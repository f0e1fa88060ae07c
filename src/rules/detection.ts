import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { Priority } from "./priority.js";

/** A loaded rule as exporters see it (no condition; that stays inside rules/). */
export interface RuleInfo {
  readonly name: string;
  readonly desc: string;
  readonly priority: Priority;
  readonly source: string;
  readonly tags: readonly string[];
  /** Base name of the rules file the rule came from, e.g. "peregrine_rules.yaml". */
  readonly rulesetName: string;
}

/** Values an output field can render to. */
export type FieldValue = string | number | boolean | bigint | null;

/** One rule matched one event: what every exporter receives. */
export interface Detection {
  readonly rule: RuleInfo;
  readonly event: EnrichedEvent;
  /** The rule's output with every %field substituted. */
  readonly output: string;
  /** The fields the output names, by their Falco names ("proc.name" → "cat"). */
  readonly outputFields: Readonly<Record<string, FieldValue>>;
}

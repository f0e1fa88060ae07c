/**
 * The rules engine's public surface: load Falco-format rules, evaluate
 * enriched events, hand Detections to exporters.
 */
export type { Expr } from "./ast.js";
export { parseCondition } from "./condition-parser.js";
export type { Detection, FieldValue, RuleInfo } from "./detection.js";
export {
  FieldError,
  formatWarning,
  RulesError,
  type RulesItemKind,
  type RulesItemRef,
  type RulesWarning,
  type SourcePosition,
} from "./errors.js";
export { CAPTURED_EVENT_TYPES, KNOWN_EVENT_TYPES } from "./event-types.js";
export {
  type ArgumentKind,
  type BindContext,
  type BoundField,
  DEFAULT_FIELDS,
  type FieldEntry,
  FieldRegistry,
  type UnsupportedField,
} from "./fields.js";
export { OPERATORS, type OperatorDef } from "./operators.js";
export { MISSING_VALUE } from "./output-format.js";
export { PRIORITIES, type Priority, parsePriority, severityNumber } from "./priority.js";
export type { PluginRequirement } from "./rules-file.js";
export {
  loadRules,
  loadRulesFromText,
  Ruleset,
  type RulesetOptions,
  type RulesSource,
  SYSCALL_SOURCE,
  type UnsupportedFieldUse,
} from "./ruleset.js";
export { plainSourceText, type SourceText } from "./source-text.js";
export { TRANSFORMERS, type TransformerDef } from "./transformers.js";
export type { FieldType, RuntimeValue } from "./values.js";

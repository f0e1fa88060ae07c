/**
 * Errors and warnings of rule loading. Every one carries the file position of
 * what it is about, so a user can jump straight to the offending token.
 */

/** A place in a rules file; line and column are 1-based. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** What kind of rules-file item an error or warning is about. */
export type RulesItemKind =
  | "rule"
  | "macro"
  | "list"
  | "required_engine_version"
  | "required_plugin_versions"
  | "item";

/** The item an error happened in: `rule 'Write below etc'`. */
export interface RulesItemRef {
  readonly kind: RulesItemKind;
  readonly name: string | undefined;
}

function describeItem(item: RulesItemRef | undefined): string {
  if (item === undefined) return "";
  return item.name === undefined ? `${item.kind}: ` : `${item.kind} '${item.name}': `;
}

/**
 * A rules file (or a condition, or an output) that cannot be loaded.
 * The only exception type that rule loading throws.
 */
export class RulesError extends Error {
  override readonly name = "RulesError";
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** What is wrong, without position or item: "unknown field 'proc.nmae'". */
  readonly reason: string;
  /** The item the error is about; undefined for file-level errors (bad YAML). */
  readonly item: RulesItemRef | undefined;

  constructor(reason: string, position: SourcePosition, item?: RulesItemRef) {
    super(`${position.file}:${position.line}:${position.column}: ${describeItem(item)}${reason}`);
    this.file = position.file;
    this.line = position.line;
    this.column = position.column;
    this.reason = reason;
    this.item = item;
  }

  /** The rule the error is about, when it is about a rule. */
  get rule(): string | undefined {
    return this.item?.kind === "rule" ? this.item.name : undefined;
  }

  get position(): SourcePosition {
    return { file: this.file, line: this.line, column: this.column };
  }

  /** The same error attributed to an item, unless it already names one. */
  within(item: RulesItemRef): RulesError {
    return this.item === undefined ? new RulesError(this.reason, this.position, item) : this;
  }
}

/**
 * A field reference that cannot be bound: unknown, or known but not supported
 * yet. Rules with `skip-if-unknown-filter: true` are skipped on these.
 */
export class FieldError extends RulesError {
  override within(item: RulesItemRef): RulesError {
    return this.item === undefined ? new FieldError(this.reason, this.position, item) : this;
  }
}

/** Something loadable but suspicious, or a deprecated form. */
export interface RulesWarning {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly item: RulesItemRef | undefined;
  readonly message: string;
}

export function makeWarning(message: string, position: SourcePosition, item?: RulesItemRef): RulesWarning {
  return { file: position.file, line: position.line, column: position.column, item, message };
}

export function formatWarning(w: RulesWarning): string {
  return `${w.file}:${w.line}:${w.column}: ${describeItem(w.item)}${w.message}`;
}

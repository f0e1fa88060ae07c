/**
 * `peregrine rules validate FILE…`: loads the files as the agent would and
 * reports every error at once (each file, item, macro and rule on its own),
 * the warnings, and the fields the sensor cannot answer.
 */
import { formatWarning, RulesError, type RulesWarning } from "../rules/errors.js";
import {
  loadRulesFromText,
  type RulesSource,
  readRulesSources,
  type UnsupportedFieldUse,
} from "../rules/ruleset.js";

export interface ValidationReport {
  readonly files: readonly string[];
  /** Enabled rules that compiled. */
  readonly rules: number;
  readonly errors: readonly RulesError[];
  readonly warnings: readonly RulesWarning[];
  readonly unsupported: readonly UnsupportedFieldUse[];
}

export function validateSources(sources: readonly RulesSource[]): ValidationReport {
  const errors: RulesError[] = [];
  const rs = loadRulesFromText(sources, { collectErrors: errors, warnUnused: true });
  return {
    files: sources.map((s) => s.name),
    rules: rs.rules.length,
    errors,
    warnings: rs.warnings,
    unsupported: rs.unsupportedFields,
  };
}

function position(p: { file: string; line: number; column: number }): string {
  return `${p.file}:${p.line}:${p.column}`;
}

export function formatValidation(r: ValidationReport, json: boolean): string {
  if (json) {
    return `${JSON.stringify(
      {
        ok: r.errors.length === 0,
        files: r.files,
        rules: r.rules,
        errors: r.errors.map((e) => ({
          file: e.file,
          line: e.line,
          column: e.column,
          item: e.item,
          message: e.reason,
        })),
        warnings: r.warnings,
        unsupported_fields: r.unsupported.map((u) => ({
          ...u.position,
          rule: u.rule,
          field: u.field,
          reason: u.reason,
        })),
      },
      null,
      2,
    )}\n`;
  }
  const lines: string[] = [];
  for (const e of r.errors) lines.push(`error: ${e.message}`);
  for (const w of r.warnings) lines.push(`warning: ${formatWarning(w)}`);
  for (const u of r.unsupported)
    lines.push(
      `unsupported: ${position(u.position)}: rule '${u.rule}': field '${u.field}' cannot be answered (${u.reason}); comparisons on it are false`,
    );
  const fields = new Set(r.unsupported.map((u) => u.field));
  lines.push(
    r.errors.length === 0
      ? `ok: ${r.rules} enabled rules from ${r.files.length} file(s); ${r.warnings.length} warning(s); ${fields.size} unsupported field(s)`
      : `failed: ${r.errors.length} error(s), ${r.warnings.length} warning(s) in ${r.files.length} file(s)`,
  );
  return `${lines.join("\n")}\n`;
}

export interface Output {
  write(text: string): unknown;
}

/** Exit code: 0 when the files load, 1 when they do not (or cannot be read). */
export async function rulesValidateCommand(
  files: readonly string[],
  json: boolean,
  out: Output,
  err: Output,
): Promise<number> {
  let sources: RulesSource[];
  try {
    sources = await readRulesSources(files);
  } catch (e) {
    err.write(`peregrine: error: ${(e as Error).message}\n`);
    return 1;
  }
  const report = validateSources(sources);
  out.write(formatValidation(report, json));
  return report.errors.length === 0 ? 0 : 1;
}

export { RulesError };

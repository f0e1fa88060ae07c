/** `peregrine rules list [FILE…]`: the enabled rules with priority, tags and source file. */
import type { RuleInfo } from "../rules/detection.js";
import { loadRules } from "../rules/ruleset.js";
import { DEFAULT_RULES_DIR } from "../version.js";
import type { Output } from "./rules-validate.js";

export function formatRuleList(rules: readonly RuleInfo[], json: boolean): string {
  if (json) {
    return `${JSON.stringify(
      rules.map((r) => ({
        name: r.name,
        priority: r.priority,
        tags: r.tags,
        file: r.rulesetName,
        source: r.source,
      })),
      null,
      2,
    )}\n`;
  }
  const nameWidth = Math.max(4, ...rules.map((r) => r.name.length));
  const prioWidth = Math.max(8, ...rules.map((r) => r.priority.length));
  const fileWidth = Math.max(4, ...rules.map((r) => r.rulesetName.length));
  const lines = [
    `${"NAME".padEnd(nameWidth)}  ${"PRIORITY".padEnd(prioWidth)}  ${"FILE".padEnd(fileWidth)}  TAGS`,
    ...rules.map(
      (r) =>
        `${r.name.padEnd(nameWidth)}  ${r.priority.padEnd(prioWidth)}  ${r.rulesetName.padEnd(fileWidth)}  ${r.tags.join(",")}`,
    ),
  ];
  return `${lines.join("\n")}\n${json ? "" : `${rules.length} rules\n`}`;
}

export async function rulesListCommand(
  files: readonly string[],
  json: boolean,
  out: Output,
  err: Output,
): Promise<number> {
  try {
    const rs = await loadRules(files.length > 0 ? files : [DEFAULT_RULES_DIR]);
    out.write(formatRuleList(rs.rules, json));
    return 0;
  } catch (e) {
    err.write(`peregrine: error: ${(e as Error).message}\n`);
    return 1;
  }
}

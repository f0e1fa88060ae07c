/**
 * `peregrine rules test RULES… --events FILE`: runs rules on the synthetic
 * events of a test file and reports, per case, which rules fired and whether
 * that is what the case expects. For rule authors' CI: exit 1 on a mismatch.
 */
import { readFile } from "node:fs/promises";
import { loadRules, type Ruleset } from "../rules/ruleset.js";
import { parseTestFile, type TestCase } from "./rules-test-events.js";
import type { Output } from "./rules-validate.js";

export interface CaseResult {
  readonly name: string;
  readonly fired: readonly string[];
  readonly ok: boolean;
  /** What differs from the expectation ("" when ok). */
  readonly problem: string;
}

export function runCases(ruleset: Ruleset, cases: readonly TestCase[]): CaseResult[] {
  return cases.map((c) => {
    const fired: string[] = [];
    ruleset.evaluate(c.event, (d) => fired.push(d.rule.name));
    const problems: string[] = [];
    if (c.fired !== undefined) {
      const missing = c.fired.filter((n) => !fired.includes(n));
      const extra = fired.filter((n) => !c.fired?.includes(n));
      if (missing.length > 0) problems.push(`expected to fire: ${missing.join(", ")}`);
      if (extra.length > 0) problems.push(`fired unexpectedly: ${extra.join(", ")}`);
    }
    const wrong = c.notFired.filter((n) => fired.includes(n));
    if (wrong.length > 0) problems.push(`must not fire: ${wrong.join(", ")}`);
    const known = new Set(ruleset.rules.map((r) => r.name));
    const unknown = [...(c.fired ?? []), ...c.notFired].filter((n) => !known.has(n));
    if (unknown.length > 0) problems.push(`no such enabled rule: ${unknown.join(", ")}`);
    return { name: c.name, fired, ok: problems.length === 0, problem: problems.join("; ") };
  });
}

export function formatResults(results: readonly CaseResult[], json: boolean): string {
  if (json) return `${JSON.stringify(results, null, 2)}\n`;
  const lines = results.map(
    (r) =>
      `${r.ok ? "PASS" : "FAIL"}  ${r.name}: ${r.fired.length === 0 ? "no rule fired" : `fired ${r.fired.join(", ")}`}${r.ok ? "" : ` — ${r.problem}`}`,
  );
  const failed = results.filter((r) => !r.ok).length;
  lines.push(`${results.length - failed} passed, ${failed} failed`);
  return `${lines.join("\n")}\n`;
}

export async function rulesTestCommand(
  files: readonly string[],
  eventsFile: string,
  json: boolean,
  out: Output,
  err: Output,
): Promise<number> {
  let ruleset: Ruleset;
  let cases: TestCase[];
  try {
    ruleset = await loadRules(files);
    cases = parseTestFile(await readFile(eventsFile, "utf8"), eventsFile);
  } catch (e) {
    err.write(`peregrine: error: ${(e as Error).message}\n`);
    return 2;
  }
  const results = runCases(ruleset, cases);
  out.write(formatResults(results, json));
  return results.every((r) => r.ok) ? 0 : 1;
}

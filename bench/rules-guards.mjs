#!/usr/bin/env node
// Which guards the guard index (src/rules/guards.ts) finds, per event type:
// how many rules an event of that type meets, how many have no guard (always
// evaluated), and how many guards each field gives. This is what GUARD_FIELDS
// was chosen by: the fields the file and exec rules of our default rules and
// of Falco's published files test on their top-level AND path.
//
//   npm run build && node bench/rules-guards.mjs [--types openat,execve] [--rules]
//   PEREGRINE_UPSTREAM_RULES=/tmp/falco-upstream-rules node bench/rules-guards.mjs
//
// --rules also prints each rule's guards. Prints counts; asserts nothing.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadRulesFromText, readRulesSources } from "../dist/rules/ruleset.js";
import { DEFAULT_RULES_DIR } from "../dist/version.js";

const { values } = parseArgs({
  options: {
    types: { type: "string", default: "openat,execve" },
    rules: { type: "boolean", default: false },
  },
});
const sets = [["default rules", [DEFAULT_RULES_DIR]]];
const upstream = process.env.PEREGRINE_UPSTREAM_RULES;
if (upstream !== undefined && existsSync(upstream)) {
  const files = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]
    .map((f) => join(upstream, f))
    .filter((f) => existsSync(f));
  if (files.length > 0) sets.push(["upstream rules", files]);
} else
  console.log("upstream rules skipped: set PEREGRINE_UPSTREAM_RULES to a folder with Falco's rules files");

for (const [label, paths] of sets) {
  const rs = loadRulesFromText(await readRulesSources(paths));
  for (const type of values.types.split(",")) {
    const rows = rs.guardsFor(type);
    const byField = new Map();
    let unguarded = 0;
    for (const r of rows) {
      if (r.guards.length === 0) unguarded++;
      for (const g of r.guards) {
        const field = g.split(" ")[0];
        byField.set(field, (byField.get(field) ?? 0) + 1);
      }
    }
    const fields = [...byField].sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${n}`);
    const indexed = rs.guardIndexes.get(type);
    console.log(
      `${label}, ${type}: ${rows.length} rules, ${unguarded} without a guard; guards: ${fields.join(", ") || "none"}; ${indexed === undefined ? "not indexed" : `index reads ${indexed.join(", ")}`}`,
    );
    if (values.rules)
      for (const r of rows) console.log(`  ${r.rule}: ${r.guards.join(" && ") || "(always evaluated)"}`);
  }
}

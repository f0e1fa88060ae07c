/**
 * The default ruleset as a whole (no kernel needed): it loads cleanly with
 * every field answerable, each rule carries the metadata the docs promise,
 * and each rule has a live test and a row in docs/default-rules.md.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadRules, type Ruleset } from "../../src/rules/ruleset.js";
import { DEFAULT_RULES_DIR, PACKAGE_ROOT } from "../../src/version.js";

const LIVE_TESTS = readdirSync(join(PACKAGE_ROOT, "test/integration"))
  .filter((f) => f.startsWith("rules-") && f.endsWith(".test.ts") && f !== "rules-catalogue.test.ts")
  .map((f) => readFileSync(join(PACKAGE_ROOT, "test/integration", f), "utf8"));
const DOC = readFileSync(join(PACKAGE_ROOT, "docs/default-rules.md"), "utf8");

describe("default ruleset catalogue", () => {
  let ruleset: Ruleset;

  beforeAll(async () => {
    ruleset = await loadRules([DEFAULT_RULES_DIR], { warnUnused: true, unsupportedFields: "report" });
  });

  it("loads without a warning (unused lists and macros included) and without an unanswerable field", () => {
    expect(ruleset.warnings.map((w) => w.message)).toEqual([]);
    expect(ruleset.unsupportedFields).toEqual([]);
    expect(ruleset.rules.length).toBeGreaterThanOrEqual(30);
  });

  it("pins every rule to event types (no rule runs for every event)", () => {
    expect(ruleset.eventTypes.size).toBeGreaterThan(0);
    expect(ruleset.eventTypes.size).toBeLessThan(60);
  });

  it("gives every rule a MITRE technique, a MITRE tactic, a maturity and a scope tag", () => {
    for (const rule of ruleset.rules) {
      const tags = rule.tags;
      expect(
        tags.some((t) => /^T\d{4}(\.\d{3})?$/.test(t)),
        `${rule.name}: technique id`,
      ).toBe(true);
      expect(
        tags.some((t) => t.startsWith("mitre_")),
        `${rule.name}: tactic`,
      ).toBe(true);
      expect(
        tags.some((t) => t.startsWith("maturity_")),
        `${rule.name}: maturity`,
      ).toBe(true);
      expect(tags.includes("host") || tags.includes("container"), `${rule.name}: host/container`).toBe(true);
    }
  });

  it("states known false positives in every desc", () => {
    for (const rule of ruleset.rules) {
      expect(rule.desc, rule.name).toMatch(/known false positives/i);
    }
  });

  it("has a live test and a docs row for every rule", () => {
    for (const rule of ruleset.rules) {
      expect(
        LIVE_TESTS.some((t) => t.includes(`"${rule.name}"`)),
        `${rule.name}: no test/integration/rules-*.test.ts names it`,
      ).toBe(true);
      expect(DOC.includes(`| ${rule.name} |`), `${rule.name}: no row in docs/default-rules.md`).toBe(true);
    }
  });

  it("keeps one theme per file, in the documented order", () => {
    const files = [...new Set(ruleset.rules.map((r) => r.rulesetName))];
    expect(files).toEqual([
      "10-credential-access.yaml",
      "20-persistence.yaml",
      "30-execution.yaml",
      "40-exfiltration.yaml",
      "50-privilege-escalation.yaml",
      "60-defense-evasion.yaml",
      "70-discovery.yaml",
      "80-container-escape.yaml",
      "90-sensor-tampering.yaml",
    ]);
  });
});

/** evt.num: numbered once per evaluated event, from 1, across rulesets (reloads). */
import { describe, expect, it } from "vitest";
import { enriched, fire, load, openEvent, ruleText } from "./helpers.js";

function numOf(output: string): number {
  return Number(/num=(\d+)/.exec(output)?.[1]);
}

describe("evt.num", () => {
  it("counts the events evaluated, one number per event however many rules read it", () => {
    const rs = load(
      [
        ruleText("evt.num > 0", "num=%evt.num"),
        ruleText("evt.num > 0", "num=%evt.num").replace("rule: r", "rule: r2"),
      ].join("\n"),
    );
    const first = fire(rs, enriched(openEvent()));
    const second = fire(rs, enriched(openEvent()));
    expect(first.map((d) => numOf(d.output))).toEqual([
      numOf(first[0]?.output ?? ""),
      numOf(first[0]?.output ?? ""),
    ]);
    expect(numOf(second[0]?.output ?? "")).toBe(numOf(first[0]?.output ?? "") + 1);
    expect(numOf(first[0]?.output ?? "")).toBeGreaterThan(0);
  });

  it("keeps counting across a new ruleset (a rules reload), and never gives 0 (upstream's never_true)", () => {
    const before = fire(load(ruleText("evt.num > 0", "num=%evt.num")), enriched(openEvent()));
    const reloaded = load(
      `- macro: never_true\n  condition: (evt.num=0)\n${ruleText("not never_true", "num=%evt.num")}`,
    );
    const after = fire(reloaded, enriched(openEvent()));
    expect(numOf(after[0]?.output ?? "")).toBe(numOf(before[0]?.output ?? "") + 1);
    expect(fire(load(ruleText("evt.num = 0")), enriched(openEvent()))).toEqual([]);
  });

  it("is the same number when a second ruleset evaluates the same event", () => {
    const e = enriched(openEvent());
    const a = fire(load(ruleText("evt.num > 0", "num=%evt.num")), e);
    const b = fire(load(ruleText("evt.num > 0", "num=%evt.num")), e);
    expect(numOf(b[0]?.output ?? "")).toBe(numOf(a[0]?.output ?? ""));
  });
});

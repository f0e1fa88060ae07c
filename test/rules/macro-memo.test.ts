/**
 * The per-event macro memo (src/rules/macro-memo.ts): rules using the same
 * macro with the same binding share one evaluation per event; uses whose
 * compilations differ (another event-type set) do not; events and rulesets
 * never see each other's answers.
 */
import { describe, expect, it } from "vitest";
import type { ProcessInfo } from "../../src/enrich/process-info.js";
import { macroKey } from "../../src/rules/macro-memo.js";
import { connectEvent, enriched, fire, load, namedRule, openEvent, proc } from "./helpers.js";

/**
 * A process whose proc.exepath reads are counted (a field neither cached nor
 * read by the guard index: each check of it reads it).
 */
function countingProcess(name: string): { process: ProcessInfo; reads: () => number } {
  let reads = 0;
  const base = proc({ name });
  const exePath = `/usr/bin/${name}`;
  const process = Object.create(base, {
    exePath: {
      get: () => {
        reads++;
        return exePath;
      },
    },
  }) as ProcessInfo;
  return { process, reads: () => reads };
}

const SHARED = [
  "- macro: by_cat",
  "  condition: proc.exepath = /usr/bin/cat",
  namedRule("first", "evt.type = openat and by_cat"),
  namedRule("second", "evt.type = openat and by_cat and fd.name = /etc/shadow"),
  namedRule("third", "evt.type = openat and fd.name startswith /etc and by_cat"),
].join("\n");

describe("macro memo", () => {
  it("evaluates a macro shared by several rules once per event", () => {
    for (const optimize of [true, false]) {
      const rs = load(SHARED, { optimize });
      const { process, reads } = countingProcess("cat");
      const names = fire(rs, enriched(openEvent({ path: "/etc/shadow" }), { process })).map(
        (d) => d.rule.name,
      );
      expect(names).toEqual(["first", "second", "third"]);
      expect(reads()).toBe(optimize ? 1 : 3);
    }
  });

  it("answers each event for itself (memo keyed by the event object)", () => {
    const rs = load(SHARED);
    const cat = countingProcess("cat");
    const vi = countingProcess("vi");
    const names = (p: ProcessInfo) =>
      fire(rs, enriched(openEvent({ path: "/etc/shadow" }), { process: p })).map((d) => d.rule.name);
    expect(names(cat.process)).toEqual(["first", "second", "third"]);
    expect(names(vi.process)).toEqual([]);
    expect(names(cat.process)).toEqual(["first", "second", "third"]);
    expect(cat.reads()).toBe(2);
    expect(vi.reads()).toBe(1);
  });

  it("does not share a macro between rules whose event types compile it differently", () => {
    // For "only_open" (openat only) the macro's `evt.type = openat` is folded to true;
    // for "open_or_connect" it must stay a test, or a connect would match.
    const text = [
      "- macro: cat_opening",
      "  condition: evt.type = openat and proc.name = cat",
      namedRule("only_open", "evt.type = openat and cat_opening"),
      namedRule("open_or_connect", "evt.type in (openat, connect) and cat_opening"),
    ].join("\n");
    for (const optimize of [true, false]) {
      const rs = load(text, { optimize });
      const process = proc({ name: "cat" });
      expect(fire(rs, enriched(connectEvent(), { process })).map((d) => d.rule.name)).toEqual([]);
      expect(fire(rs, enriched(openEvent(), { process })).map((d) => d.rule.name)).toEqual([
        "only_open",
        "open_or_connect",
      ]);
    }
    const openat = { negated: false, names: new Set(["openat"]) };
    const both = { negated: false, names: new Set(["connect", "openat"]) };
    expect(macroKey("m", openat, true)).not.toBe(macroKey("m", both, true));
    expect(macroKey("m", both, true)).toBe(
      macroKey("m", { negated: false, names: new Set(["openat", "connect"]) }, true),
    );
    expect(macroKey("m", both, true)).not.toBe(macroKey("m", { ...both, negated: true }, true));
    expect(macroKey("m", both, true)).not.toBe(macroKey("m", both, false));
  });

  it("keeps each ruleset's answers to itself (a reload with another macro body)", () => {
    const before = load(SHARED);
    const after = load(SHARED.replace("proc.exepath = /usr/bin/cat", "proc.exepath = /usr/bin/vi"));
    const e = enriched(openEvent({ path: "/etc/shadow" }), { process: proc({ name: "cat" }) });
    expect(fire(before, e)).toHaveLength(3);
    expect(fire(after, e)).toHaveLength(0);
    expect(fire(before, e)).toHaveLength(3);
  });

  it("still reports warnings and unsupported fields for every rule using a shared macro", () => {
    const text = [
      "- macro: names_unknown",
      "  condition: fd.rip.name = example.com",
      namedRule("one", "evt.type = connect and names_unknown"),
      namedRule("two", "evt.type = connect and names_unknown and proc.name = curl"),
    ].join("\n");
    const rs = load(text);
    expect(rs.unsupportedFields.map((u) => u.rule)).toEqual(["one", "two"]);
  });
});

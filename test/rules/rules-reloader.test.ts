/**
 * RulesReloader without a kernel: a changed file is compiled and swapped in,
 * a broken one leaves the running set alone and is reported, requests during
 * a reload coalesce, and a stopped reloader swaps nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ReloadResult, RulesReloader } from "../../src/reload/rules-reloader.js";
import { RulesError } from "../../src/rules/errors.js";
import { loadRules, type Ruleset } from "../../src/rules/ruleset.js";

const rule = (name: string) =>
  `- rule: ${name}\n  desc: d\n  condition: evt.type = openat and proc.name = x\n  output: o\n  priority: INFO\n`;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup(text: string) {
  const dir = mkdtempSync(join(tmpdir(), "pg-reloader-"));
  dirs.push(dir);
  const file = join(dir, "r.yaml");
  writeFileSync(file, text);
  const current = await loadRules([file]);
  const applied: string[][] = [];
  const results: ReloadResult[] = [];
  let loads = 0;
  const reloader = new RulesReloader({
    paths: [file],
    current,
    load: (paths) => {
      loads++;
      return loadRules(paths);
    },
    apply: (next: Ruleset) => applied.push(next.rules.map((r) => r.name)),
    onResult: (r) => results.push(r),
    debounceMs: 50,
  });
  return { dir, file, reloader, applied, results, loads: () => loads };
}

describe("RulesReloader", () => {
  it("swaps in a set that compiles, keeps the old one when it does not", async () => {
    const s = await setup(rule("A"));
    writeFileSync(s.file, rule("B"));
    const ok = await s.reloader.reload("signal");
    expect(ok.ok).toBe(true);
    expect(s.applied).toEqual([["B"]]);
    expect(s.reloader.current.rules.map((r) => r.name)).toEqual(["B"]);

    writeFileSync(s.file, `${rule("C")}  condition: (broken\n`);
    const bad = await s.reloader.reload("signal");
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toBeInstanceOf(RulesError);
      expect(bad.error.message).toMatch(/r\.yaml:\d+:\d+/);
    }
    expect(s.applied).toEqual([["B"]]);
    expect(s.reloader.current.rules.map((r) => r.name)).toEqual(["B"]);
    expect(s.results.map((r) => r.ok)).toEqual([true, false]);
  });

  it("a file change triggers one debounced reload", async () => {
    const s = await setup(rule("A"));
    await s.reloader.watch();
    writeFileSync(s.file, rule("B"));
    writeFileSync(s.file, rule("C"));
    const end = Date.now() + 5000;
    while (s.results.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    s.reloader.stop();
    expect(s.results.length).toBeGreaterThanOrEqual(1);
    expect(s.results.every((r) => r.trigger === "file-change")).toBe(true);
    expect(s.reloader.current.rules.map((r) => r.name)).toEqual(["C"]);
  });

  it("requests during a reload coalesce into one more", async () => {
    const s = await setup(rule("A"));
    writeFileSync(s.file, rule("B"));
    const first = s.reloader.reload("signal");
    void s.reloader.reload("signal");
    void s.reloader.reload("signal");
    await first;
    const end = Date.now() + 5000;
    while (s.results.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(s.loads()).toBe(2);
  });

  it("a missing file is a failed reload, not a crash", async () => {
    const s = await setup(rule("A"));
    rmSync(s.file);
    const r = await s.reloader.reload("signal");
    expect(r.ok).toBe(false);
    expect(s.reloader.current.rules.map((x) => x.name)).toEqual(["A"]);
  });
});

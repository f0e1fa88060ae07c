/**
 * The rule-authoring tools: `rules validate` (every error at once, unused
 * macros/lists, unsupported fields), `rules list`, `fields`, `rules test`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCommand } from "../../src/cli/args.js";
import { fieldDocs, formatFields } from "../../src/cli/fields-list.js";
import { parseRulesTool } from "../../src/cli/rules-args.js";
import { formatRuleList, rulesListCommand } from "../../src/cli/rules-list.js";
import { rulesTestCommand } from "../../src/cli/rules-test.js";
import { parseTestFile, TestFileError } from "../../src/cli/rules-test-events.js";
import { rulesValidateCommand, validateSources } from "../../src/cli/rules-validate.js";

const dir = mkdtempSync(join(tmpdir(), "pg-rules-tools-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function sink(): { text: string; write(t: string): void } {
  return {
    text: "",
    write(t: string) {
      this.text += t;
    },
  };
}

const GOOD = `- list: readers
  items: [cat, less]
- list: unused_list
  items: [a]
- macro: opens
  condition: evt.type in (open, openat, openat2)
- macro: unused_macro
  condition: proc.name = x
- rule: Shadow read
  desc: shadow opened by a reader
  condition: opens and fd.name = /etc/shadow and proc.name in (readers)
  output: shadow read by %proc.name
  priority: WARNING
  tags: [T1003, filesystem]
- rule: Miner domain connect
  desc: uses a field the sensor cannot answer
  condition: evt.type = connect and fd.sip.name = pool.example
  output: x
  priority: NOTICE
`;

describe("command line", () => {
  it.each([
    [
      ["rules", "validate", "a.yaml", "b.yaml"],
      { tool: "validate", files: ["a.yaml", "b.yaml"], json: false },
    ],
    [["rules", "list", "--json"], { tool: "list", files: [], json: true }],
    [
      ["rules", "test", "r.yaml", "--events", "t.yaml"],
      { tool: "test", files: ["r.yaml"], events: "t.yaml", json: false },
    ],
    [["fields", "--json", "proc."], { tool: "fields", json: true, prefix: "proc." }],
  ])("%j", (argv, expected) => {
    expect(parseCommand(argv)).toEqual({ kind: "rules-tool", command: expected });
  });

  it.each([
    [["validate"], "name at least one rules file"],
    [["test", "r.yaml"], "--events FILE is required"],
    [["frobnicate"], 'unknown rules command "frobnicate"'],
  ])("rejects %j", (args, message) => {
    expect(() => parseRulesTool(args)).toThrow(message);
  });

  it("bad options are usage errors", () => {
    expect(() => parseCommand(["rules", "list", "--nope"])).toThrow(/nope/);
  });
});

describe("rules validate", () => {
  it("passes a good file, with unused macros/lists and unsupported fields reported", async () => {
    const out = sink();
    const code = await rulesValidateCommand([file("good.yaml", GOOD)], false, out, sink());
    expect(code).toBe(0);
    expect(out.text).toContain("good.yaml:3:3: list 'unused_list': list not used");
    expect(out.text).toContain("good.yaml:7:3: macro 'unused_macro': macro not used by any rule");
    expect(out.text).not.toContain("'readers'");
    expect(out.text).toMatch(
      /unsupported: .*good\.yaml:17:\d+: rule 'Miner domain connect': field 'fd\.sip\.name'/,
    );
    expect(out.text).toContain("ok: 2 enabled rules from 1 file(s)");
  });

  it("reports every error at once, each with file:line:col, and exits 1", async () => {
    const bad = `- rule: A
  desc: a
  condition: evt.type = openat and proc.nmae = x
  output: o
  priority: INFO
- rule: B
  desc: b
  condition: evt.type = openat and (proc.name = x
  output: o
  priority: INFO
- rule: C
  desc: c
  condition: evt.type = openat and fd.name regex "("
  output: o
  priority: INFO
- rule: D
  desc: d
  condition: evt.type = openat and no_such_macro
  output: o
  priority: INFO
- rule: E
  desc: fine
  condition: evt.type = openat
  output: o
  priority: INFO
`;
    const out = sink();
    const code = await rulesValidateCommand(
      [file("bad.yaml", bad), file("worse.yaml", "- rule: [\n")],
      false,
      out,
      sink(),
    );
    expect(code).toBe(1);
    const errors = out.text.split("\n").filter((l) => l.startsWith("error: "));
    expect(errors).toHaveLength(5);
    expect(errors[0]).toMatch(/worse\.yaml:\d+:\d+/);
    expect(out.text).toMatch(
      /bad\.yaml:3:\d+: rule 'A': unknown field 'proc\.nmae' \(did you mean 'proc\.name'\?\)/,
    );
    expect(out.text).toMatch(/bad\.yaml:8:\d+: rule 'B': .*parenthes/);
    expect(out.text).toMatch(/bad\.yaml:13:\d+: rule 'C': invalid regular expression/);
    expect(out.text).toMatch(/bad\.yaml:18:\d+: rule 'D': unknown macro or list 'no_such_macro'/);
    expect(out.text).toContain("failed: 5 error(s)");
  });

  it("--json carries the same", () => {
    const r = validateSources([{ name: "g.yaml", text: GOOD }]);
    expect(r.errors).toEqual([]);
    expect(r.rules).toBe(2);
    expect(r.unsupported.map((u) => u.field)).toEqual(["fd.sip.name"]);
  });

  it("a missing file is an error, exit 1", async () => {
    const err = sink();
    expect(await rulesValidateCommand([join(dir, "nope.yaml")], false, sink(), err)).toBe(1);
    expect(err.text).toContain("nope.yaml");
  });
});

describe("rules list and fields", () => {
  it("lists name, priority, file and tags", async () => {
    const out = sink();
    expect(await rulesListCommand([file("list.yaml", GOOD)], false, out, sink())).toBe(0);
    const lines = out.text.split("\n");
    expect(lines[0]).toMatch(/^NAME\s+PRIORITY\s+FILE\s+TAGS$/);
    expect(lines[1]).toMatch(/^Shadow read\s+WARNING\s+list\.yaml\s+T1003,filesystem$/);
    expect(out.text).toContain("2 rules");
  });

  it("lists the default ruleset without arguments", async () => {
    const out = sink();
    expect(await rulesListCommand([], true, out, sink())).toBe(0);
    const rules = JSON.parse(out.text) as { name: string; priority: string; file: string }[];
    expect(rules.length).toBeGreaterThan(10);
    expect(rules.every((r) => r.file.endsWith(".yaml"))).toBe(true);
  });

  it("formats JSON with tags", () => {
    const json = formatRuleList(
      [{ name: "r", desc: "d", priority: "ERROR", source: "syscall", tags: ["a"], rulesetName: "x.yaml" }],
      true,
    );
    expect(JSON.parse(json)).toEqual([
      { name: "r", priority: "ERROR", tags: ["a"], file: "x.yaml", source: "syscall" },
    ]);
  });

  it("every field has a type and a description; unsupported ones say why", () => {
    const docs = fieldDocs();
    const byName = new Map(docs.map((d) => [d.name, d]));
    expect(byName.get("proc.name")).toMatchObject({ type: "string", argument: "none" });
    expect(byName.get("proc.aname")).toMatchObject({ argument: "index" });
    expect(byName.get("evt.arg")).toMatchObject({ argument: "name" });
    expect(byName.get("fd.sip.name")?.unsupported).toContain("DNS");
    for (const d of docs) if (d.unsupported === undefined) expect(d.description.length).toBeGreaterThan(5);
    const text = formatFields(fieldDocs(undefined, "proc.a"), false);
    expect(text).toMatch(/^proc\.aexe\[N\]\s+string\s+/m);
    expect(
      JSON.parse(formatFields(fieldDocs(undefined, "fd.sip"), true)).map((d: { name: string }) => d.name),
    ).toEqual(["fd.sip", "fd.sip.name"]);
  });
});

describe("rules test", () => {
  const events = `tests:
  - name: cat reads shadow
    event: {type: openat, path: /etc/shadow, flags: O_RDONLY|O_CLOEXEC, ret: 3}
    process: {name: cat, args: [cat, /etc/shadow], uid: 1000}
    parent: {name: bash}
    fired: [Shadow read]
  - name: vim reads shadow
    event: {type: openat, path: /etc/shadow, ret: 3}
    process: {name: vim}
    not_fired: [Shadow read]
  - name: a relative path resolved against the cwd
    event: {type: openat, path: shadow}
    process: {name: less, cwd: /etc}
    fired: [Shadow read]
  - name: a generic syscall
    event: {type: unlinkat, ret: 0, args: {dirfd: -100, name: /tmp/x, flags: 0}}
    fired: []
`;

  it("reports which rules fired and passes", async () => {
    const out = sink();
    const code = await rulesTestCommand(
      [file("t-rules.yaml", GOOD)],
      file("t-events.yaml", events),
      false,
      out,
      sink(),
    );
    expect(out.text).toContain("PASS  cat reads shadow: fired Shadow read");
    expect(out.text).toContain("PASS  vim reads shadow: no rule fired");
    expect(out.text).toContain("4 passed, 0 failed");
    expect(code).toBe(0);
  });

  it("fails (exit 1) when an expectation does not hold", async () => {
    const wrong = events.replace("not_fired: [Shadow read]", "fired: [Shadow read]");
    const out = sink();
    const code = await rulesTestCommand(
      [file("t2-rules.yaml", GOOD)],
      file("t2-events.yaml", wrong),
      false,
      out,
      sink(),
    );
    expect(code).toBe(1);
    expect(out.text).toContain("FAIL  vim reads shadow: no rule fired — expected to fire: Shadow read");
  });

  it("accepts the descriptor-making syscalls the sensor records (pipe2, eventfd2, close_range …)", async () => {
    const rules = `- rule: Pipe made by a shell
  desc: t
  condition: evt.type = pipe2 and proc.name = sh
  output: "pipe %proc.name"
  priority: NOTICE
`;
    const tests = `tests:
  - name: a pipe2 from sh
    event: {type: pipe2, ret: 0}
    process: {name: sh}
    fired: [Pipe made by a shell]
  - name: an eventfd2 from sh
    event: {type: eventfd2, ret: 4}
    process: {name: sh}
    fired: []
  - name: a close_range
    event: {type: close_range, ret: 0}
    fired: []
`;
    const out = sink();
    const code = await rulesTestCommand(
      [file("t3-rules.yaml", rules)],
      file("t3-events.yaml", tests),
      false,
      out,
      sink(),
    );
    expect(out.text).toContain("3 passed, 0 failed");
    expect(code).toBe(0);
  });

  it.each([
    ["tests: []", "non-empty 'tests' list"],
    ["tests:\n  - event: {type: nosuch}\n", "unknown or unsupported event type 'nosuch'"],
    ["tests:\n  - event: {type: openat, flags: O_BOGUS}\n", "unknown open flag 'O_BOGUS'"],
    ["tests:\n  - event: {type: openat}\n    proces: {}\n", "unknown key 'proces'"],
  ])("rejects a bad test file: %j", (text, message) => {
    expect(() => parseTestFile(text, "t.yaml")).toThrow(TestFileError);
    expect(() => parseTestFile(text, "t.yaml")).toThrow(message);
  });
});

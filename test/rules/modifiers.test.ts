/**
 * Falco's list modifiers (`proc.name startswith anyof (a, b)`, Falco 0.44 /
 * libs#2984): `field op e` for every list item, combined by exactly one
 * (oneof), at least one (anyof) or every one (allof); an empty list never
 * matches. The default scene's process is `cat` (see helpers.ts).
 */
import { describe, expect, it } from "vitest";
import { RulesError } from "../../src/rules/errors.js";
import { enriched, execEvent, fire, load, matches, openEvent, proc, ruleText } from "./helpers.js";

const cat = enriched(openEvent());

describe("list modifiers: each operator × modifier", () => {
  it.each([
    // = / == : anyof is "in", allof holds only when every item is the value
    ["proc.name = oneof (cat, bash)", true],
    ["proc.name = oneof (cat)", true],
    ["proc.name = oneof (bash, sh)", false],
    ["proc.name = oneof (cat, cat)", false],
    ["proc.name == anyof (cat, bash)", true],
    ["proc.name == anyof (bash, sh)", false],
    ["proc.name = anyof (cat, cat)", true],
    ["proc.name = allof (cat)", true],
    ["proc.name = allof (cat, cat)", true],
    ["proc.name = allof (cat, bash)", false],
    // != : allof is "not in"; anyof holds as soon as one item differs
    ["proc.name != allof (bash, sh)", true],
    ["proc.name != allof (cat, bash)", false],
    ["proc.name != anyof (bash, sh)", true],
    ["proc.name != anyof (cat, bash)", true],
    ["proc.name != anyof (cat, cat)", false],
    ["proc.name != oneof (cat, cat, bash)", true],
    ["proc.name != oneof (cat, bash)", true],
    ["proc.name != oneof (bash, sh)", false],
    ["proc.name != oneof (cat, cat)", false],
    // substring operators
    ["proc.name contains oneof (ca, zz)", true],
    ["proc.name contains oneof (c, at)", false],
    ["proc.name contains anyof (c, at)", true],
    ["proc.name contains anyof (zz, yy)", false],
    ["proc.name contains allof (c, at)", true],
    ["proc.name contains allof (ca, zz)", false],
    ["proc.name icontains anyof (CA, ZZ)", true],
    ["proc.name icontains allof (C, AT)", true],
    ["proc.name icontains oneof (C, AT)", false],
    ["proc.name startswith oneof (c, b)", true],
    ["proc.name startswith oneof (c, ca)", false],
    ["proc.name startswith anyof (c, ca)", true],
    ["proc.name startswith anyof (b, s)", false],
    ["proc.name startswith allof (c, ca)", true],
    ["proc.name startswith allof (c, b)", false],
    ["proc.name endswith oneof (at, sh)", true],
    ["proc.name endswith oneof (at, t)", false],
    ["proc.name endswith anyof (at, t)", true],
    ["proc.name endswith allof (at, t)", true],
    ["proc.name endswith allof (at, sh)", false],
    // pattern operators
    ["proc.name glob oneof (c*, b*)", true],
    ["proc.name glob oneof (c*, *t)", false],
    ["proc.name glob anyof (c*, *t)", true],
    ["proc.name glob allof (c*, *t)", true],
    ["proc.name glob allof (c*, b*)", false],
    ["proc.name iglob anyof (C*, B*)", true],
    ["proc.name iglob allof (C*, *T)", true],
    ["proc.name regex oneof ('c.*', 'b.*')", true],
    ["proc.name regex oneof ('c.*', '.*t')", false],
    ["proc.name regex anyof ('c.*', '.*t')", true],
    ["proc.name regex allof ('c.*', '.*t')", true],
    ["proc.name regex allof ('c.*', 'b.*')", false],
    // a transformer on the left
    ["toupper(proc.name) = oneof (CAT, BASH)", true],
    ["toupper(proc.name) != allof (BASH, SH)", true],
    ["toupper(proc.name) != allof (CAT, SH)", false],
    // quoted items, spaces, and a modifier glued to the operator
    ["proc.cmdline startswith anyof ('cat /etc', 'vi ')", true],
    ["proc.name =anyof(cat)", true],
    ["proc.name startswith  anyof  ( c , b )", true],
    // inside larger conditions
    ["proc.name = oneof (cat) and proc.name != allof (bash, sh)", true],
    ["proc.name = oneof (cat) and proc.name != allof (cat, sh)", false],
    ["proc.name = anyof (bash) or proc.name != oneof (cat)", false],
    ["not proc.name startswith anyof (b, s)", true],
  ])("%s → %s", (condition, expected) => {
    expect(matches(condition, cat)).toBe(expected);
  });

  it.each([
    "proc.name = oneof ()",
    "proc.name = anyof ()",
    "proc.name = allof ()",
    "proc.name != oneof ()",
    "proc.name != anyof ()",
    "proc.name != allof ()",
  ])("an empty list never matches: %s", (condition) => {
    expect(matches(condition, cat)).toBe(false);
  });

  it("a missing value never matches, != allof included (libsinsp's rule for missing values)", () => {
    const unknown = enriched(openEvent(), { process: null });
    expect(matches("proc.name != allof (bash, sh)", unknown)).toBe(false);
    expect(matches("proc.name != anyof (bash, sh)", unknown)).toBe(false);
    expect(matches("not proc.name = anyof (bash, sh)", unknown)).toBe(true);
  });

  it("expands list names, inside the parentheses and bare", () => {
    const prelude = "- list: shells\n  items: [bash, sh]\n- list: mine\n  items: [c, ca]";
    expect(matches("proc.name != allof (shells)", cat, prelude)).toBe(true);
    expect(matches("proc.name = anyof (shells, cat)", cat, prelude)).toBe(true);
    expect(matches("proc.name startswith allof mine", cat, prelude)).toBe(true);
    expect(matches("proc.name startswith oneof mine", cat, prelude)).toBe(false);
  });

  it("compares numbers as numbers and checks each constant against the field's type", () => {
    expect(matches("proc.pid = anyof (7, 100)", cat)).toBe(true);
    expect(matches("proc.pid != allof (7, 0x64)", cat)).toBe(false);
    expect(() => load(ruleText("proc.pid = anyof (7, seven)"))).toThrow(/'seven' is not a number/);
  });
});

describe("list modifiers: parsing", () => {
  it("keeps a modifier word that no list follows as a plain value (rules written before Falco 0.44)", () => {
    const anyof = enriched(openEvent(), { process: proc({ name: "anyof" }) });
    expect(matches("proc.name = anyof", anyof)).toBe(true);
    expect(matches("proc.name = anyof and proc.pid = 100", anyof)).toBe(true);
    expect(matches("proc.name = oneof or proc.name = x", anyof)).toBe(false);
  });

  it.each([
    // [condition, message part, where the error points]
    ["proc.name in anyof (a, b)", "operator 'in' takes no list modifier ('anyof')", "anyof"],
    ["proc.pid >= anyof (1, 2)", "operator '>=' takes no list modifier ('anyof')", "anyof"],
    ["proc.name pmatch allof (/a)", "operator 'pmatch' takes no list modifier ('allof')", "allof"],
    ["proc.name startswith anyof (a, b", "list '(' is never closed", "(a"],
    ["proc.name startswith anyof (a b)", "expected ',' or ')' in list but found 'b)'", "b)"],
    ["proc.aname = anyof (bash, sh)", "needs a field with a single value, but 'proc.aname' has several", "="],
  ])("%s is an error at the place: %s", (condition, message, marker) => {
    let error: unknown;
    try {
      load(ruleText(condition));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RulesError);
    const e = error as RulesError;
    expect(e.message).toContain(message);
    expect(e.position.line).toBe(3);
    // The condition is written as a JSON string after `  condition: "` (14 characters; columns count from 1).
    expect(e.position.column).toBe(15 + condition.indexOf(marker));
  });

  it("takes an index on a multi-valued field: proc.aname[1]", () => {
    expect(matches("proc.aname[1] = anyof (bash, sh)", cat)).toBe(true);
  });

  it("narrows the rule's event types like in / not in", () => {
    const rs = load(
      [
        ruleText("evt.type = anyof (execve, openat) and proc.name = cat"),
        ruleText("evt.type != allof (execve, openat)").replace("rule: r", "rule: r2"),
      ].join("\n"),
    );
    expect(rs.eventTypes.has("openat")).toBe(true);
    expect(fire(rs, cat).map((d) => d.rule.name)).toEqual(["r"]);
    expect(fire(rs, enriched(execEvent())).map((d) => d.rule.name)).toEqual(["r"]);
  });
});

describe("list modifiers in exceptions", () => {
  const rule = (exception: string) =>
    [
      "- rule: r",
      "  desc: d",
      "  condition: evt.type = openat",
      "  output: hit",
      "  priority: WARNING",
      "  exceptions:",
      exception,
    ].join("\n");

  it("accepts 'op modifier' comps for a single field: the values form the list", () => {
    const rs = load(
      rule(
        "    - name: prefixes\n      fields: proc.name\n      comps: startswith anyof\n      values: [ba, ca]",
      ),
    );
    expect(fire(rs, cat)).toEqual([]);
    const rs2 = load(
      rule(
        "    - name: prefixes\n      fields: proc.name\n      comps: startswith anyof\n      values: [ba, sh]",
      ),
    );
    expect(fire(rs2, cat)).toHaveLength(1);
  });

  it("accepts them per field in multi-field exceptions, a value list per field", () => {
    const text = rule(
      "    - name: pairs\n      fields: [proc.name, fd.name]\n      comps: [startswith oneof, startswith]\n      values:\n        - [[c, b], /etc/]",
    );
    expect(fire(load(text), cat)).toEqual([]);
  });

  it("rejects a modifier on an operator that takes none, naming the place", () => {
    expect(() =>
      load(rule("    - name: bad\n      fields: proc.name\n      comps: in anyof\n      values: [a]")),
    ).toThrow(/comps must be one of in, pmatch, intersects, or an operator with oneof\/anyof\/allof/);
    expect(() =>
      load(rule('    - name: bad\n      fields: [proc.name]\n      comps: ["> allof"]\n      values: [[a]]')),
    ).toThrow(/'> allof' is not a comparison operator/);
  });
});

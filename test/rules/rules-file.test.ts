import { describe, expect, it } from "vitest";
import { RulesError } from "../../src/rules/errors.js";
import { PRIORITIES } from "../../src/rules/priority.js";
import { loadRulesFromText } from "../../src/rules/ruleset.js";
import { connectEvent, enriched, fire, load, openEvent, proc } from "./helpers.js";

const open = enriched(openEvent());

function loadError(text: string, name = "bad_rules.yaml"): RulesError {
  try {
    load(text, {}, name);
  } catch (err) {
    expect(err).toBeInstanceOf(RulesError);
    return err as RulesError;
  }
  throw new Error("expected the rules not to load");
}

function firedNames(text: string, e = open): string[] {
  return fire(load(text), e).map((d) => d.rule.name);
}

const RULE_A = `
- rule: A
  desc: reads of shadow
  condition: evt.type = openat and fd.name = /etc/shadow
  output: read
  priority: WARNING
`;

describe("items and keys", () => {
  it("records required versions", () => {
    const rs = load(`
- required_engine_version: 0.57.0
- required_engine_version: 2
- required_plugin_versions:
    - name: container
      version: 0.4.0
      alternatives:
        - name: container2
          version: 1.0.0
${RULE_A}`);
    expect(rs.requiredEngineVersion).toBe("0.57.0");
    expect(rs.requiredPluginVersions).toEqual([
      { name: "container", version: "0.4.0", alternatives: [{ name: "container2", version: "1.0.0" }] },
    ]);
  });

  it.each([
    ["emergency", "EMERGENCY"],
    ["ALERT", "ALERT"],
    ["Critical", "CRITICAL"],
    ["error", "ERROR"],
    ["warning", "WARNING"],
    ["notice", "NOTICE"],
    ["informational", "INFORMATIONAL"],
    ["INFO", "INFORMATIONAL"],
    ["debug", "DEBUG"],
  ])("accepts priority %s", (written, parsed) => {
    const rs = load(RULE_A.replace("WARNING", written));
    expect(rs.rules[0]?.priority).toBe(parsed);
    expect(PRIORITIES).toContain(parsed);
  });

  it("fills RuleInfo from the rule and its file", () => {
    const rs = load(
      `${RULE_A}  tags: [filesystem, mitre_credential_access, filesystem]\n`,
      {},
      "/etc/peregrine/my_rules.yaml",
    );
    expect(rs.rules).toEqual([
      {
        name: "A",
        desc: "reads of shadow",
        priority: "WARNING",
        source: "syscall",
        tags: ["filesystem", "mitre_credential_access"],
        rulesetName: "my_rules.yaml",
      },
    ]);
  });

  it("skips rules of other sources with a warning", () => {
    const rs = load(`${RULE_A}
- rule: K
  desc: k8s
  condition: ka.verb = create
  output: x
  priority: INFO
  source: k8s_audit
`);
    expect(rs.rules.map((r) => r.name)).toEqual(["A"]);
    expect(rs.warnings.map((w) => w.message)).toContain("unknown source 'k8s_audit': rule skipped");
  });

  it("ignores unknown top-level items with a warning, as Falco does", () => {
    const rs = load(`- something: else\n${RULE_A}`);
    expect(rs.warnings[0]).toMatchObject({ line: 1, column: 3, message: "unknown top-level item, ignored" });
  });

  it("accepts an empty file and empty documents", () => {
    expect(load("").rules).toEqual([]);
    expect(load("# just a comment\n---\n").rules).toEqual([]);
  });
});

describe("enabled, override and append", () => {
  it("does not evaluate disabled rules", () => {
    expect(firedNames(`${RULE_A}  enabled: false\n`)).toEqual([]);
  });

  it("disables a rule with the legacy enabled-only item, with a deprecation warning", () => {
    const rs = load(`${RULE_A}\n- rule: A\n  enabled: false\n`);
    expect(fire(rs, open)).toEqual([]);
    expect(rs.rules).toEqual([]);
    expect(rs.warnings.map((w) => w.message).join("\n")).toContain("deprecated");
  });

  it("disables and re-enables with override: {enabled: replace}", () => {
    const disabled = `${RULE_A}\n- rule: A\n  enabled: false\n  override:\n    enabled: replace\n`;
    expect(firedNames(disabled)).toEqual([]);
    expect(
      firedNames(`${disabled}\n- rule: A\n  enabled: true\n  override:\n    enabled: replace\n`),
    ).toEqual(["A"]);
  });

  it("appends to a condition with override, keeping exact positions of both parts", () => {
    const text = `${RULE_A}
- rule: A
  condition: and proc.name != cat
  override:
    condition: append
`;
    expect(firedNames(text)).toEqual([]);
    expect(firedNames(text, enriched(openEvent(), { process: proc({ name: "less" }) }))).toEqual(["A"]);
    const err = loadError(text.replace("proc.name != cat", "proc.nmae != cat"));
    expect([err.line, err.column, err.reason]).toEqual([
      9,
      18,
      "unknown field 'proc.nmae' (did you mean 'proc.name'?)",
    ]);
  });

  it("appends to a condition with the legacy append: true", () => {
    const rs = load(`${RULE_A}\n- rule: A\n  condition: or fd.name = /etc/passwd\n  append: true\n`);
    expect(fire(rs, enriched(openEvent({ path: "/etc/passwd" })))).toHaveLength(1);
    expect(rs.warnings.map((w) => w.message).join("\n")).toContain("'append: true' is deprecated");
  });

  it("replaces output, priority, desc and tags with override", () => {
    const rs = load(`${RULE_A}
- rule: A
  output: replaced %proc.name
  priority: CRITICAL
  desc: new
  tags: [x]
  override:
    output: replace
    priority: replace
    desc: replace
    tags: replace
`);
    const [d] = fire(rs, open);
    expect(d?.output).toBe("replaced cat");
    expect(d?.rule).toMatchObject({ priority: "CRITICAL", desc: "new", tags: ["x"] });
  });

  it("appends to output, desc and tags with override", () => {
    const rs = load(`${RULE_A}  tags: [a]
- rule: A
  output: by %proc.name
  desc: more
  tags: [b]
  override:
    output: append
    desc: append
    tags: append
`);
    const [d] = fire(rs, open);
    expect(d?.output).toBe("read by cat");
    expect(d?.rule).toMatchObject({ desc: "reads of shadow more", tags: ["a", "b"] });
  });

  it("lets later files override earlier ones, keeping the rule's place in the order", () => {
    const rs = loadRulesFromText([
      {
        name: "a.yaml",
        text: `${RULE_A}\n- rule: B\n  desc: b\n  condition: evt.type = openat\n  output: b\n  priority: INFO\n`,
      },
      { name: "b.yaml", text: RULE_A.replace("/etc/shadow", "/etc/passwd").replace("WARNING", "ERROR") },
    ]);
    expect(rs.rules.map((r) => [r.name, r.priority, r.rulesetName])).toEqual([
      ["A", "ERROR", "b.yaml"],
      ["B", "INFORMATIONAL", "a.yaml"],
    ]);
    expect(fire(rs, open).map((d) => d.rule.name)).toEqual(["B"]);
  });

  it("lets a later file redefine a macro an earlier rule uses", () => {
    const rs = loadRulesFromText([
      { name: "falco_rules.yaml", text: `- macro: m\n  condition: proc.name = cat\n${RULE_A}  \n` },
      { name: "local.yaml", text: "- macro: m\n  condition: proc.name = dog\n" },
    ]);
    expect(rs.rules).toHaveLength(1);
  });

  it.each([
    [
      `${RULE_A}\n- rule: A\n  condition: x\n  override:\n    condition: prepend\n`,
      "invalid override 'prepend' for key 'condition'",
      11,
      16,
    ],
    [
      `${RULE_A}\n- rule: A\n  priority: INFO\n  override:\n    priority: append\n`,
      "key 'priority' cannot be appended to",
      11,
      15,
    ],
    [
      `${RULE_A}\n- rule: A\n  override:\n    condition: append\n`,
      "an override for 'condition' is given but 'condition' is not defined",
      8,
      3,
    ],
    [
      `${RULE_A}\n- rule: A\n  condition: x\n  desc: y\n  override:\n    condition: append\n`,
      "unexpected key 'desc': no entry for it under 'override'",
      10,
      3,
    ],
    [
      `${RULE_A}\n- rule: A\n  condition: x\n  append: true\n  override:\n    condition: append\n`,
      "'append' and 'override' cannot be used together",
      8,
      3,
    ],
    [`- rule: Z\n  enabled: false\n`, "rule has only 'enabled' but no rule by that name exists", 1, 3],
    [
      `- rule: Z\n  condition: x\n  override:\n    condition: append\n`,
      "cannot override a rule that does not exist",
      1,
      3,
    ],
    [`- rule: Z\n  condition: x\n  append: true\n`, "cannot append to a rule that does not exist", 1, 3],
    [`- list: l\n  items: [a]\n  append: true\n`, "cannot append to a list that does not exist", 1, 3],
    [
      `- macro: m\n  condition: a\n  override:\n    condition: append\n`,
      "cannot append to a macro that does not exist",
      1,
      3,
    ],
  ])("rejects %#: %s", (text, message, line, column) => {
    const err = loadError(text);
    expect(err.reason).toContain(message);
    expect([err.line, err.column]).toEqual([line, column]);
  });
});

describe("lists and macros", () => {
  it("expands lists inside in/pmatch, including lists of lists", () => {
    const text = `
- list: shells
  items: [bash, sh]
- list: more_shells
  items: [shells, zsh]
- list: readers
  items: [more_shells, cat, "less x"]
- list: secrets
  items: [/etc/shadow, /etc/sudoers.d]
- rule: R
  desc: d
  condition: evt.type = openat and proc.name in (readers, vi) and fd.name pmatch (secrets)
  output: o
  priority: INFO
`;
    expect(firedNames(text)).toEqual(["R"]);
    expect(firedNames(text, enriched(openEvent(), { process: proc({ name: "zsh" }) }))).toEqual(["R"]);
    expect(firedNames(text, enriched(openEvent(), { process: proc({ name: "readers" }) }))).toEqual([]);
    expect(firedNames(text, enriched(openEvent(), { process: proc({ name: "less x" }) }))).toEqual(["R"]);
    expect(firedNames(text, enriched(openEvent({ path: "/etc/sudoers.d/alice" })))).toEqual(["R"]);
  });

  it("expands a bare list name after in, and appends to lists", () => {
    const text = `
- list: readers
  items: [less]
- list: readers
  items: [cat]
  override:
    items: append
- rule: R
  desc: d
  condition: evt.type = openat and proc.name in readers
  output: o
  priority: INFO
`;
    expect(firedNames(text)).toEqual(["R"]);
  });

  it("does not expand quoted list names, and treats a list named later as a literal (Falco's visibility)", () => {
    const text = `
- list: early
  items: [late]
- list: late
  items: [cat]
- rule: R
  desc: d
  condition: evt.type = openat and proc.name in (early, "late")
  output: o
  priority: INFO
`;
    expect(firedNames(text)).toEqual([]);
    expect(firedNames(text, enriched(openEvent(), { process: proc({ name: "late" }) }))).toEqual(["R"]);
  });

  it("expands macros that use macros, and appended macros", () => {
    const text = `
- macro: open_read
  condition: evt.type in (open, openat) and evt.is_open_read=true
- macro: sensitive
  condition: fd.name startswith /etc/sh
- macro: sensitive
  condition: or fd.name = /etc/sudoers
  append: true
- macro: sensitive_read
  condition: open_read and (sensitive)
- rule: R
  desc: d
  condition: sensitive_read and not proc.name in (sshd)
  output: o
  priority: INFO
`;
    expect(firedNames(text)).toEqual(["R"]);
    expect(firedNames(text, enriched(openEvent({ path: "/etc/sudoers" })))).toEqual(["R"]);
    expect(firedNames(text, enriched(openEvent({ path: "/etc/hosts" })))).toEqual([]);
  });

  it.each([
    [
      "- rule: R\n  desc: d\n  condition: evt.type = open and foo\n  output: o\n  priority: INFO\n",
      "unknown macro or list 'foo'",
      3,
      34,
      "R",
    ],
    [
      "- list: l\n  items: [a]\n- rule: R\n  desc: d\n  condition: evt.type = open and l\n  output: o\n  priority: INFO\n",
      "'l' is a list, not a macro",
      5,
      34,
      "R",
    ],
    [
      "- rule: R\n  desc: d\n  condition: evt.type = open and proc.name in nolist\n  output: o\n  priority: INFO\n",
      "unknown list 'nolist'",
      3,
      47,
      "R",
    ],
    [
      "- macro: a\n  condition: b\n- macro: b\n  condition: a\n- rule: R\n  desc: d\n  condition: evt.type = open and a\n  output: o\n  priority: INFO\n",
      "macro 'a' uses itself (a → b → a)",
      4,
      14,
      "R",
    ],
    [
      "- macro: m\n  condition: proc.nmae = x\n- rule: R\n  desc: d\n  condition: evt.type = open and m\n  output: o\n  priority: INFO\n",
      "unknown field 'proc.nmae' (did you mean 'proc.name'?) (in macro 'm')",
      2,
      14,
      "R",
    ],
  ])("reports %#: %s", (text, message, line, column, rule) => {
    const err = loadError(text);
    expect(err.reason).toContain(message);
    expect([err.line, err.column]).toEqual([line, column]);
    expect(err.rule).toBe(rule);
  });

  it("reports syntax errors in macros no rule uses, attributed to the macro", () => {
    const err = loadError("- macro: m\n  condition: (proc.name = x\n");
    expect(err.item).toEqual({ kind: "macro", name: "m" });
    expect([err.line, err.column, err.reason]).toEqual([
      2,
      14,
      "unbalanced parenthesis: '(' is never closed",
    ]);
  });
});

describe("exceptions", () => {
  const base = `
- list: trusted
  items: [sshd, sudo]
- rule: R
  desc: d
  condition: evt.type = openat and fd.name startswith /etc
  output: o
  priority: INFO
  exceptions:
    - name: by_proc
      fields: proc.name
      values: [trusted, "my editor"]
    - name: proc_and_file
      fields: [proc.name, fd.name]
      comps: [=, startswith]
      values:
        - [cat, /etc/ssl]
        - [less, /etc/]
    - name: default_comps
      fields: [proc.pname, fd.filename]
      values:
        - [systemd, shadow]
    - name: list_values
      fields: [proc.name, fd.directory]
      comps: [in, pmatch]
      values:
        - [[vim, nano], [/etc/nginx]]
        - [dog, trusted_dirs]
    - name: empty
      fields: proc.name
      values: []
- list: trusted_dirs
  items: [/etc/dog]
`;
  it.each([
    ["cat", "/etc/shadow", "bash", true],
    ["sshd", "/etc/shadow", "bash", false],
    ["sudo", "/etc/shadow", "bash", false],
    ["my editor", "/etc/shadow", "bash", false],
    ["cat", "/etc/ssl/cert.pem", "bash", false],
    ["cat", "/etc/sslx", "bash", false],
    ["less", "/etc/anything", "bash", false],
    ["cat", "/etc/shadow", "systemd", false],
    ["vim", "/etc/nginx/nginx.conf", "bash", false],
    ["vim", "/etc/nginxx", "bash", true],
    ["dog", "/etc/dog/x", "bash", false],
  ])("%s opening %s (parent %s) fires: %s", (name, path, pname, fires) => {
    const parent = proc({ pid: 1, ppid: 0, name: pname });
    const e = enriched(openEvent({ path }), { process: proc({ name }), others: [parent] });
    expect(firedNames(base, e)).toEqual(fires ? ["R"] : []);
  });

  it("appends exception values and new exceptions with override", () => {
    const text = `${base}
- rule: R
  exceptions:
    - name: by_proc
      values: [cat]
    - name: new_one
      fields: fd.name
      comps: pmatch
      values: [/etc/passwd]
  override:
    exceptions: append
`;
    expect(firedNames(text)).toEqual([]);
    expect(
      firedNames(text, enriched(openEvent({ path: "/etc/passwd" }), { process: proc({ name: "x" }) })),
    ).toEqual([]);
    expect(
      firedNames(text, enriched(openEvent({ path: "/etc/hosts" }), { process: proc({ name: "x" }) })),
    ).toEqual(["R"]);
  });

  it.each([
    [
      "      fields: proc.name\n      comps: =\n      values: [a]",
      "comps must be one of in, pmatch, intersects",
      10,
      14,
    ],
    [
      "      fields: [proc.name, fd.name]\n      comps: [=]\n      values: [[a, b]]",
      "fields and comps lists must have equal length",
      10,
      14,
    ],
    [
      "      fields: [proc.name]\n      comps: [like]\n      values: [[a]]",
      "'like' is not a comparison operator",
      10,
      15,
    ],
    [
      "      fields: [proc.name, fd.name]\n      values: [[a]]",
      "each value must be a list of 2 values",
      10,
      16,
    ],
    ["      fields: [proc.nmae]\n      values: [[a]]", "unknown field 'proc.nmae'", 9, 16],
    ["      fields: [proc.pid]\n      values: [[abc]]", "'abc' is not a number", 10, 17],
    ["      values: [a]", "missing key 'fields'", 8, 7],
  ])("rejects %#: %s", (body, message, line, column) => {
    const text = `
- rule: R
  desc: d
  condition: evt.type = openat
  output: o
  priority: INFO
  exceptions:
    - name: ex
${body}
`;
    const err = loadError(text);
    expect(err.reason).toContain(message);
    expect([err.line, err.column]).toEqual([line, column]);
    expect(err.rule).toBe("R");
  });

  it("rejects duplicate exception names", () => {
    const err = loadError(
      `${RULE_A}  exceptions:\n    - name: x\n      fields: proc.name\n      values: [a]\n    - name: x\n      fields: proc.name\n      values: [b]\n`,
    );
    expect(err.reason).toContain("'x' is repeated");
  });
});

describe("malformed files point at the exact place", () => {
  it.each([
    [
      "- rule: R\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: SEVERE\n",
      "invalid priority 'SEVERE'",
      5,
      13,
    ],
    [
      "- rule: R\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  severity: 3\n",
      "unknown key 'severity' in rule",
      6,
      3,
    ],
    ["- rule: R\n  desc: d\n  condition: evt.type = open\n  priority: INFO\n", "missing key 'output'", 1, 3],
    [
      "- rule: R\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  enabled: maybe\n",
      "'enabled' must be true or false",
      6,
      12,
    ],
    [
      "- rule: R\n  desc: d\n  condition:\n  output: o\n  priority: INFO\n",
      "key 'condition' has no value",
      3,
      3,
    ],
    [
      "- rule: R\n  desc: d\n  condition: [a, b]\n  output: o\n  priority: INFO\n",
      "'condition' must be a single value",
      3,
      14,
    ],
    ["- macro: m\n  condition: a\n  items: [x]\n", "unknown key 'items' in macro", 3, 3],
    ["- macro: 1bad\n  condition: a\n", "invalid macro name '1bad'", 1, 10],
    ["- list: l\n  items: a\n", "'items' must be a list", 2, 10],
    ["rule: R\n", "rules content must be a YAML sequence", 1, 1],
    ["- rule: R\n  desc: [unclosed\n", "invalid YAML", 3, 1],
    ["- rule: R\n  rule: S\n", "invalid YAML", 2, 3],
    ["- [a, b]\n", "each item must be a mapping", 1, 3],
  ])("%#: %s", (text, message, line, column) => {
    const err = loadError(text);
    expect(err.reason).toContain(message);
    expect([err.file, err.line, err.column]).toEqual(["bad_rules.yaml", line, column]);
  });

  it("maps an error inside a folded multi-line condition to its line and column", () => {
    const text = [
      "- rule: Folded", //                                   1
      "  desc: d", //                                        2
      "  condition: >", //                                   3
      "    evt.type = openat", //                            4
      "    and (proc.name = cat", //                         5
      "         or fd.name startswith)", //                  6
      "  output: o", //                                      7
      "  priority: INFO", //                                 8
    ].join("\n");
    const err = loadError(text);
    expect(err.reason).toBe("operator 'startswith' needs a value");
    expect([err.line, err.column]).toEqual([6, 31]);
    expect(err.message).toBe("bad_rules.yaml:6:31: rule 'Folded': operator 'startswith' needs a value");
  });

  it("maps an error inside a literal block and a single-quoted condition", () => {
    const literal =
      "- rule: L\n  desc: d\n  condition: |\n    evt.type = openat and\n      fd.nmae = x\n  output: o\n  priority: INFO\n";
    expect([loadError(literal).line, loadError(literal).column]).toEqual([5, 7]);
    const quoted = `- rule: Q\n  desc: d\n  condition: 'proc.name = "it''s" and fd.nmae = x'\n  output: o\n  priority: INFO\n`;
    const err = loadError(quoted);
    expect(err.reason).toContain("unknown field 'fd.nmae'");
    expect([err.line, err.column]).toEqual([3, 39]);
  });

  it("maps an unbalanced parenthesis to the opening one", () => {
    const err = loadError(
      "- rule: P\n  desc: d\n  condition: evt.type = openat and (proc.name = a or\n    proc.name = b\n  output: o\n  priority: INFO\n",
    );
    expect(err.reason).toBe("unbalanced parenthesis: '(' is never closed");
    expect([err.line, err.column]).toEqual([3, 36]);
  });

  it("reports unsupported fields with the reason, and skips the rule when skip-if-unknown-filter is set", () => {
    const text =
      "- rule: K\n  desc: d\n  condition: evt.type = connect and fd.sip.name = x\n  output: o\n  priority: INFO\n";
    const reported = load(text);
    expect(reported.rules.map((r) => r.name)).toEqual(["K"]);
    expect(reported.unsupportedFields).toEqual([
      {
        field: "fd.sip.name",
        reason: expect.stringContaining("DNS names"),
        rule: "K",
        position: { file: "test_rules.yaml", line: 3, column: 37 },
      },
    ]);
    const err = (() => {
      try {
        load(text, { unsupportedFields: "error" });
      } catch (e) {
        return e as RulesError;
      }
      throw new Error("expected the rules not to load");
    })();
    expect(err.reason).toContain("field 'fd.sip.name' is not supported yet: needs DNS names");
    expect([err.line, err.column]).toEqual([3, 37]);
    const rs = load(`${text}  skip-if-unknown-filter: true\n`);
    expect(rs.unsupportedFields).toEqual([]);
    expect(rs.rules).toEqual([]);
    expect(rs.warnings[0]?.message).toContain("rule skipped (skip-if-unknown-filter)");
    expect(fire(rs, enriched(connectEvent()))).toEqual([]);
  });

  it("checks disabled rules' syntax but not their fields", () => {
    const text =
      "- rule: D\n  desc: d\n  condition: evt.type = connect and k8s.ns.name = default\n  output: o\n  priority: INFO\n  enabled: false\n";
    expect(load(text).rules).toEqual([]);
    expect(loadError(text.replace("= default", "= default)")).reason).toContain("unbalanced parenthesis");
  });
});

/**
 * Guard extraction (src/rules/guards.ts) and the guard index's evaluation
 * (src/rules/guard-index.ts through Ruleset.evaluate): what is taken as a
 * guard — conjuncts on the top-level AND path, through macros; a field every
 * live branch of an `or` guards — and what is not: checks under `not`, `or`
 * branches on different fields, transformers, modifiers, `val()`, `!=`,
 * regex, fields outside GUARD_FIELDS, exceptions.
 */
import { describe, expect, it } from "vitest";
import type { ProcessInfo } from "../../src/enrich/process-info.js";
import { GUARD_FIELDS } from "../../src/rules/guards.js";
import { enriched, execEvent, fire, load, namedRule, openEvent, proc } from "./helpers.js";

/** The guards of a one-rule file's rule for events of `type`. */
function guardsOf(condition: string, type = "openat", prelude = ""): readonly string[] {
  const rs = load(`${prelude}\n${namedRule("r", condition)}`);
  const entry = rs.guardsFor(type).find((r) => r.rule === "r");
  if (entry === undefined) throw new Error(`rule r is not evaluated for ${type}`);
  return entry.guards;
}

describe("guard extraction", () => {
  it("takes plain checks on the top-level AND path", () => {
    expect(
      guardsOf("evt.type = openat and fd.name = /x and proc.name in (a, b) and evt.is_open_write = true"),
    ).toEqual(["fd.name = /x", "proc.name in (a, b)", "evt.is_open_write = true"]);
    expect(
      guardsOf("evt.type = openat and fd.directory endswith /.ssh and fd.filename startswith id_"),
    ).toEqual(["fd.directory endswith /.ssh", "fd.filename startswith id_"]);
    expect(
      guardsOf("evt.type = openat and fd.name pmatch (/usr/bin, /bin) and fd.name glob '/proc/*/mem'"),
    ).toEqual([
      // One per field: the one with a value lookup or fewer tests; here the first.
      "fd.name pmatch (/usr/bin, /bin)",
    ]);
    expect(guardsOf("evt.type = openat and fd.name startswith /etc and fd.name in (/etc/a, /etc/b)")).toEqual(
      ["fd.name in (/etc/a, /etc/b)"],
    );
  });

  it("goes through macros whose body is an AND", () => {
    const prelude = [
      "- macro: opened_for_reading",
      "  condition: evt.type in (open, openat) and evt.is_open_read = true and evt.rawres >= 0",
      "- macro: in_etc",
      "  condition: fd.directory = /etc",
      "- macro: sensitive",
      "  condition: opened_for_reading and in_etc",
    ].join("\n");
    expect(guardsOf("sensitive and proc.name = cat", "openat", prelude)).toEqual([
      "evt.is_open_read = true",
      "fd.directory = /etc",
      "proc.name = cat",
    ]);
  });

  it("takes nothing under not", () => {
    expect(guardsOf("evt.type = openat and not fd.name = /x")).toEqual([]);
    expect(guardsOf("evt.type = openat and not (fd.name = /x and proc.name = a)")).toEqual([]);
    const prelude = "- macro: m\n  condition: fd.name = /x and proc.name = a";
    expect(guardsOf("evt.type = openat and not m", "openat", prelude)).toEqual([]);
  });

  it("takes nothing from exceptions (they are `and not (...)`)", () => {
    const text = namedRule(
      "r",
      "evt.type = openat and fd.name startswith /etc",
      ["  exceptions:", "    - name: cats", "      fields: proc.name", "      values: [cat]"].join("\n"),
    );
    expect(load(text).guardsFor("openat")[0]?.guards).toEqual(["fd.name startswith /etc"]);
  });

  it("takes from an or only a field every branch guards, as the union of their tests", () => {
    expect(guardsOf("evt.type = openat and (fd.name = /x or proc.name = cat)")).toEqual([]);
    expect(guardsOf("evt.type = openat and (fd.name = /x or fd.name startswith /y)")).toEqual([
      "fd.name = /x | startswith /y",
    ]);
    expect(
      guardsOf("evt.type = openat and (fd.name = /x or fd.name = /y and proc.name = a or proc.name = b)"),
    ).toEqual([]);
    // A branch without any guard makes the whole or unguarded.
    expect(guardsOf("evt.type = openat and (fd.name = /x or evt.rawres < 0)")).toEqual([]);
  });

  it("leaves out or branches that cannot hold for the event type", () => {
    const condition =
      "(evt.type = unlink and proc.name = rm) or (evt.type = openat and evt.is_open_write = true and fd.name = /x)";
    expect(guardsOf(condition, "openat")).toEqual(["evt.is_open_write = true", "fd.name = /x"]);
    expect(guardsOf(condition, "unlink")).toEqual(["proc.name = rm"]);
    // A branch that holds for every event of the type: nothing is necessary.
    expect(
      guardsOf("evt.type in (openat, unlink) and (evt.type = openat or fd.name = /x)", "openat"),
    ).toEqual([]);
    expect(
      guardsOf("evt.type in (openat, unlink) and (evt.type = openat or fd.name = /x)", "unlink"),
    ).toEqual(["fd.name = /x"]);
  });

  it("takes no transformer, modifier, val(), negative or unlisted operator, nor other fields", () => {
    for (const check of [
      "tolower(fd.name) = /x",
      "basename(fd.name) in (a, b)",
      "proc.name = anyof (a, b)",
      "proc.name startswith anyof (a, b)",
      "proc.name = val(proc.pname)",
      "proc.name != a",
      "fd.name regex '/x.*'",
      "fd.name icontains X",
      "fd.name iglob '/X*'",
      "fd.name exists",
      "proc.exepath = /usr/bin/x",
      "proc.aname[2] = bash",
      "proc.aname = bash",
      "evt.arg.flags contains O_TRUNC",
      "evt.rawres >= 0",
    ]) {
      expect(guardsOf(`evt.type = openat and ${check}`), check).toEqual([]);
    }
  });

  it("uses only the listed fields", () => {
    expect([...GUARD_FIELDS].sort()).toEqual([
      "evt.is_open_read",
      "evt.is_open_write",
      "fd.directory",
      "fd.filename",
      "fd.name",
      "proc.name",
    ]);
  });

  it("is off with optimize: false", () => {
    const text = [
      namedRule("a", "evt.type = openat and fd.name = /x"),
      namedRule("b", "evt.type = openat and fd.name = /y"),
    ].join("\n");
    expect(load(text).guardIndexes.get("openat")).toEqual(["fd.name"]);
    const plain = load(text, { optimize: false });
    expect(plain.guardIndexes.size).toBe(0);
    expect(plain.guardsFor("openat").map((r) => r.guards)).toEqual([[], []]);
  });
});

describe("guard index evaluation", () => {
  const RULES = [
    namedRule("shadow read", "evt.type = openat and evt.is_open_read = true and fd.name = /etc/shadow"),
    namedRule("anything in etc", "evt.type = openat and fd.name startswith /etc/"),
    namedRule("unguarded", "evt.type = openat and evt.rawres >= 0"),
    namedRule("write in etc", "evt.type = openat and evt.is_open_write = true and fd.directory = /etc"),
    namedRule("ssh dir", "evt.type = openat and (fd.directory endswith /.ssh or fd.filename startswith id_)"),
  ].join("\n");

  it("emits the matching rules in load order, all of them or the first", () => {
    const names = (rs: ReturnType<typeof load>, path: string, flags: number) =>
      fire(rs, enriched(openEvent({ path, openFlags: flags }))).map((d) => d.rule.name);
    for (const optimize of [true, false]) {
      const all = load(RULES, { optimize });
      const first = load(RULES, { optimize, ruleMatching: "first" });
      expect(names(all, "/etc/shadow", 0)).toEqual(["shadow read", "anything in etc", "unguarded"]);
      expect(names(all, "/etc/shadow", 1)).toEqual(["anything in etc", "unguarded", "write in etc"]);
      expect(names(all, "/home/a/.ssh/config", 0)).toEqual(["unguarded", "ssh dir"]);
      expect(names(all, "/tmp/id_rsa", 0)).toEqual(["unguarded", "ssh dir"]);
      expect(names(all, "/tmp/x", 0)).toEqual(["unguarded"]);
      expect(names(first, "/etc/shadow", 1)).toEqual(["anything in etc"]);
      expect(names(first, "/tmp/x", 0)).toEqual(["unguarded"]);
    }
  });

  it("remembers per value only the tests it ran: a value met first where a test was skipped is tested when it counts", () => {
    const text = [
      RULES,
      namedRule("tmp write", "evt.type = openat and evt.is_open_write = true and fd.name startswith /tmp/"),
      namedRule("key read", "evt.type = openat and evt.is_open_read = true and fd.filename startswith id_"),
    ].join("\n");
    // One ruleset for the whole sequence, so the index's value memo carries from event to event.
    const rs = load(text);
    const plain = load(text, { optimize: false });
    const sequence: [string, number][] = [
      // A read open: "tmp write" is out before fd.name, so its startswith test does not run for /tmp/id_rsa ...
      ["/tmp/id_rsa", 0],
      // ... and must run when the same value comes with a write open.
      ["/tmp/id_rsa", 1],
      ["/tmp/id_rsa", 0],
      ["/tmp/id_rsa", 2],
      ["/etc/shadow", 1],
      ["/etc/shadow", 0],
      ["/etc/shadow", 0],
      ["/home/a/.ssh/id_rsa", 0],
      ["/home/a/.ssh/id_rsa", 1],
      ["/tmp/x", 0],
      ["/etc/shadow", 1],
    ];
    for (const [path, flags] of sequence) {
      const e = enriched(openEvent({ path, openFlags: flags }));
      const want = fire(plain, e).map((d) => d.rule.name);
      expect(
        fire(rs, e).map((d) => d.rule.name),
        `${path} ${flags}`,
      ).toEqual(want);
    }
  });

  it("lets rules without a guard on a field through when the event has no value for it", () => {
    const text = [
      RULES,
      namedRule("cat exec", "evt.type = execve and proc.name = cat"),
      namedRule("curl exec", "evt.type = execve and proc.name = curl"),
      namedRule("any exec", "evt.type = execve and evt.rawres >= 0"),
    ].join("\n");
    const rs = load(text);
    const plain = load(text, { optimize: false });
    // A path relative to a directory fd nobody knows: fd.name, fd.directory and fd.filename are missing.
    const events = [
      enriched(openEvent({ path: "etc/shadow", dirfd: 7 })),
      enriched(openEvent({ path: "etc/shadow", dirfd: 7, openFlags: 1 })),
      // An unknown process: proc.name is missing.
      enriched(execEvent(), { process: null }),
      enriched(execEvent()),
    ];
    for (const e of events) {
      const want = fire(plain, e).map((d) => d.rule.name);
      expect(want.length).toBeGreaterThan(0);
      expect(fire(rs, e).map((d) => d.rule.name)).toEqual(want);
    }
  });

  it("stays exact over many distinct values, each met again later", () => {
    const rs = load(RULES);
    const plain = load(RULES, { optimize: false });
    const names = (r: ReturnType<typeof load>, path: string, flags: number) =>
      fire(r, enriched(openEvent({ path, openFlags: flags }))).map((d) => d.rule.name);
    expect(names(rs, "/etc/id_x", 0)).toEqual(names(plain, "/etc/id_x", 0));
    // Each dimension remembers its last value only: every event here is a new one.
    for (let i = 0; i < 5000; i++) {
      const path = i % 2 === 0 ? `/etc/f${i}` : `/home/u${i}/.ssh/id_${i}`;
      expect(names(rs, path, i % 3)).toEqual(names(plain, path, i % 3));
    }
    expect(names(rs, "/etc/id_x", 1)).toEqual(names(plain, "/etc/id_x", 1));
    expect(names(rs, "/etc/id_x", 0)).toEqual(names(plain, "/etc/id_x", 0));
  });

  it("handles more rules than one mask word (bits past 32)", () => {
    const many = Array.from({ length: 70 }, (_, i) =>
      namedRule(`r${i}`, i % 3 === 0 ? "evt.type = openat" : `evt.type = openat and fd.name = /f${i % 7}`),
    ).join("\n");
    // The last: relative to an unknown directory fd, so fd.name is missing.
    for (const [path, dirfd] of [
      ["/f0", -100],
      ["/f3", -100],
      ["/f6", -100],
      ["/nope", -100],
      ["f0", 7],
    ] as const) {
      const e = enriched(openEvent({ path, dirfd }));
      const want = fire(load(many, { optimize: false }), e).map((d) => d.rule.name);
      expect(fire(load(many), e).map((d) => d.rule.name)).toEqual(want);
      expect(want.length).toBeGreaterThan(20);
    }
  });

  it("falls back to every rule when reading a guard's field throws, so errors are reported as before", () => {
    const text = [
      namedRule("cat", "evt.type = execve and proc.name = cat"),
      namedRule("curl", "evt.type = execve and proc.name = curl"),
      namedRule("any exec", "evt.type = execve"),
    ].join("\n");
    const broken = Object.create(proc(), {
      name: {
        get: () => {
          throw new Error("inconsistent process entry");
        },
      },
    }) as ProcessInfo;
    for (const optimize of [true, false]) {
      const errors: string[] = [];
      const rs = load(text, { optimize, onEvaluationError: (r) => errors.push(r.name) });
      const names = fire(rs, enriched(execEvent(), { process: broken })).map((d) => d.rule.name);
      expect(names).toEqual(["any exec"]);
      expect(errors).toEqual(["cat", "curl"]);
      expect(rs.evaluationErrors).toBe(2);
    }
  });
});

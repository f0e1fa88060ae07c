import { describe, expect, it } from "vitest";
import type { EnrichedEvent } from "../../src/enrich/enriched-event.js";
import type { Detection } from "../../src/rules/detection.js";
import { DEFAULT_FIELDS, FieldRegistry } from "../../src/rules/fields.js";
import {
  connectEvent,
  enriched,
  execEvent,
  exitEvent,
  fire,
  forkEvent,
  load,
  openEvent,
  proc,
  ruleText,
} from "./helpers.js";

function rule(name: string, condition: string, extra = ""): string {
  return `
- rule: ${name}
  desc: ${name}
  condition: ${JSON.stringify(condition)}
  output: ${name} fired
  priority: NOTICE
${extra}`;
}

const open = enriched(openEvent());
const connect = enriched(connectEvent());

describe("event-type index", () => {
  const rs = load(
    [
      rule("opens", "evt.type in (open, openat) and fd.name startswith /etc"),
      rule("connects", "evt.type = connect and fd.sport = 443"),
      rule("anything", "proc.name = cat"),
      rule("not_open", "evt.type != openat and proc.name = cat"),
      rule("or_types", "(evt.type = execve and proc.name = cat) or (evt.type = clone and proc.name = cat)"),
      rule("negated", "not evt.type in (openat, connect, execve, clone, procexit) and proc.name = cat"),
      rule("unlinks", "evt.type = fsync"),
      rule("disabled", "evt.type = openat", "  enabled: false"),
    ].join("\n"),
  );

  it.each<[string, EnrichedEvent, string[]]>([
    ["openat", open, ["opens", "anything"]],
    ["connect", connect, ["connects", "anything", "not_open"]],
    ["execve", enriched(execEvent()), ["anything", "not_open", "or_types"]],
    ["clone", enriched(forkEvent()), ["anything", "not_open", "or_types"]],
    ["procexit", enriched(exitEvent()), ["anything", "not_open"]],
    ["open", enriched(openEvent({ evtType: "open" })), ["opens", "anything", "not_open", "negated"]],
    ["creat", enriched(openEvent({ evtType: "creat" })), ["anything", "not_open", "negated"]],
  ])("%s events meet only the rules for their type, in load order", (_type, e, names) => {
    expect(fire(rs, e).map((d) => d.rule.name)).toEqual(names);
  });

  it("lists the event types the enabled rules can match", () => {
    for (const t of [
      "open",
      "openat",
      "connect",
      "execve",
      "clone",
      "unlink",
      "procexit",
      "creat",
      "mkdir",
    ]) {
      expect(rs.eventTypes.has(t), t).toBe(true);
    }
    const narrow = load(
      [rule("a", "evt.type = openat"), rule("b", "evt.type in (connect, unlink)")].join("\n"),
    );
    expect([...narrow.eventTypes].sort()).toEqual(["connect", "openat", "unlink"]);
  });

  it("warns about rules that match every event type, unless warn_evttypes is false", () => {
    const messages = rs.warnings.filter((w) => w.item?.name === "anything").map((w) => w.message);
    expect(messages).toEqual([
      "the condition does not restrict evt.type: the rule is evaluated for every event",
    ]);
    const quiet = load(rule("anything", "proc.name = cat", "  warn_evttypes: false"));
    expect(quiet.warnings).toEqual([]);
  });

  it("warns about rules that can never fire and about unknown event types", () => {
    const unlinks = rs.warnings.find((w) => w.item?.name === "unlinks");
    expect(unlinks?.message).toContain("the rule can never fire: it matches only fsync");
    const typo = load(rule("typo", "evt.type = opne"));
    expect(typo.warnings.map((w) => w.message)).toContain(
      "unknown event type 'opne': no event will ever have it",
    );
    expect(typo.warnings[0]).toMatchObject({ line: 4, column: 15 });
  });

  it("answers container.id from the process's container ('host' outside one)", () => {
    const c = load(rule("c", "evt.type = openat and container.id != host and container.id != ''"));
    expect(c.warnings).toEqual([]);
    expect(fire(c, open)).toEqual([]);
  });
});

describe("rule matching", () => {
  const text = [
    rule("first", "evt.type = openat"),
    rule("second", "evt.type = openat and proc.name = cat"),
  ].join("\n");

  it("fires every matching rule by default", () => {
    expect(fire(load(text), open).map((d) => d.rule.name)).toEqual(["first", "second"]);
  });

  it("fires only the first matching rule with ruleMatching: first", () => {
    expect(fire(load(text, { ruleMatching: "first" }), open).map((d) => d.rule.name)).toEqual(["first"]);
  });

  it("does not load rules below the minimum priority", () => {
    const rs = load(
      `${text}\n- rule: loud\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: CRITICAL\n`,
      {
        minimumPriority: "WARNING",
      },
    );
    expect(rs.rules.map((r) => r.name)).toEqual(["loud"]);
  });

  it("hands exporters the rule, the event, the output and the output fields", () => {
    const rs = load(ruleText("evt.type = openat", "%proc.name opened %fd.name"));
    const [d] = fire(rs, open) as [Detection];
    expect(d.rule).toEqual({
      name: "r",
      desc: "test rule",
      priority: "WARNING",
      source: "syscall",
      tags: [],
      rulesetName: "test_rules.yaml",
    });
    expect(d.event).toBe(open);
    expect(d.output).toBe("cat opened /etc/shadow");
    expect(d.outputFields).toEqual({ "proc.name": "cat", "fd.name": "/etc/shadow" });
  });

  it("skips a rule whose evaluation throws, keeps going, and reports it", () => {
    const broken = new FieldRegistry([
      ...DEFAULT_FIELDS.entries,
      {
        name: "test.boom",
        type: "string",
        description: "throws on extraction",
        argument: "none",
        bind: () => ({
          name: "test.boom",
          type: "string",
          extract: () => {
            throw new Error("boom");
          },
          anyOf: undefined,
          filterOnly: false,
          costly: false,
          render: undefined,
          warning: undefined,
        }),
      },
    ]);
    const errors: string[] = [];
    const rs = load(
      [rule("bad", "evt.type = openat and test.boom = x"), rule("good", "evt.type = openat")].join("\n"),
      {
        fields: broken,
        onEvaluationError: (r, err) => errors.push(`${r.name}: ${(err as Error).message}`),
      },
    );
    expect(fire(rs, open).map((d) => d.rule.name)).toEqual(["good"]);
    expect(errors).toEqual(["bad: boom"]);
    expect(rs.evaluationErrors).toBe(1);
  });

  it("evaluates an event with an unknown process without throwing", () => {
    const rs = load(
      [rule("p", "evt.type = openat and proc.pname = bash"), rule("q", "evt.type = openat")].join("\n"),
    );
    expect(fire(rs, enriched(openEvent(), { process: null })).map((d) => d.rule.name)).toEqual(["q"]);
    expect(rs.evaluationErrors).toBe(0);
  });

  it("sees the parent through the process table", () => {
    const rs = load(
      rule("shell_child", "evt.type = openat and proc.pname in (bash, sh) and proc.aname[0] = cat"),
    );
    expect(fire(rs, open)).toHaveLength(1);
    expect(fire(rs, enriched(openEvent(), { process: proc({ ppid: 999 }) }))).toHaveLength(0);
  });
});

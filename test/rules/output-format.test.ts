import { describe, expect, it } from "vitest";
import { RulesError } from "../../src/rules/errors.js";
import { renderEventTime } from "../../src/rules/fields.js";
import { connectEvent, enriched, fire, load, openEvent, proc, ruleText, TS } from "./helpers.js";

function render(output: string, e = enriched(openEvent()), condition = "evt.type in (openat, connect)") {
  const [d] = fire(load(ruleText(condition, output)), e);
  if (d === undefined) throw new Error("rule did not fire");
  return d;
}

function outputError(output: string): RulesError {
  try {
    load(ruleText("evt.type = openat", output));
  } catch (err) {
    expect(err).toBeInstanceOf(RulesError);
    return err as RulesError;
  }
  throw new Error("expected the output not to load");
}

describe("output rendering", () => {
  it.each([
    ["plain text", "plain text"],
    ["%proc.name read %fd.name", "cat read /etc/shadow"],
    ["(%proc.name)", "(cat)"],
    ["%proc.names", "cats"],
    ["user=%user.name uid=%user.uid", "user=alice uid=1000"],
    ["parent=%proc.aname[1] gp=%proc.aname[2]", "parent=bash gp=<NA>"],
    ["flags=%evt.arg.flags", "flags=O_RDONLY|O_CLOEXEC"],
    ["sip=%fd.sip", "sip=<NA>"],
    ["[%5proc.name]", "[cat  ]"],
    ["[%2proc.name]", "[ca]"],
    // Falco drops %container.info after trimming, so the space before it stays.
    ["read %fd.name %container.info", "read /etc/shadow "],
    ["  trimmed  ", "trimmed"],
    ["ok=%evt.is_open_read res=%evt.res", "ok=true res=SUCCESS"],
    ["100 %%proc.name", undefined],
  ])("%j → %j", (output, text) => {
    if (text === undefined) {
      expect(() => render(output)).toThrow(RulesError);
      return;
    }
    expect(render(output).output).toBe(text);
  });

  it("renders evt.time as local time with nanoseconds, and returns it as a number of ns", () => {
    const d = render("at %evt.time");
    expect(d.output).toBe(`at ${renderEventTime(TS)}`);
    expect(d.output).toMatch(/^at \d\d:\d\d:\d\d\.123456789$/);
    expect(d.outputFields["evt.time"]).toBe(TS);
  });

  it("returns every %field of the output, typed, with null for missing values", () => {
    const d = render("%proc.name %proc.pid %evt.is_open_read %fd.sip %proc.aname[1] %fd.sport %proc.name");
    expect(d.outputFields).toEqual({
      "proc.name": "cat",
      "proc.pid": 100,
      "evt.is_open_read": true,
      "fd.sip": null,
      "proc.aname[1]": "bash",
      "fd.sport": null,
    });
  });

  it("renders connect tuples", () => {
    const d = render("connection=%fd.name proto=%fd.l4proto", enriched(connectEvent()));
    expect(d.output).toBe("connection=10.0.0.5:41000->93.184.216.34:443 proto=tcp");
    expect(d.outputFields["fd.name"]).toBe("10.0.0.5:41000->93.184.216.34:443");
  });

  it("renders an unknown process as <NA>", () => {
    expect(render("%proc.name %proc.pid", enriched(openEvent(), { process: null })).output).toBe("<NA> 100");
  });

  it("uses one extraction per costly field per event across rules and outputs", () => {
    let calls = 0;
    const p = proc();
    const counting = new Proxy(p, {
      get(target, key, receiver) {
        if (key === "argv") calls++;
        return Reflect.get(target, key, receiver);
      },
    });
    const rs = load(`${ruleText("evt.type = openat and proc.cmdline contains cat", "%proc.cmdline")}
- rule: r2
  desc: d
  condition: evt.type = openat and proc.cmdline contains shadow
  output: "%proc.cmdline"
  priority: INFO
`);
    const detections = fire(rs, enriched(openEvent(), { process: counting }));
    expect(detections.map((d) => d.output)).toEqual(["cat /etc/shadow", "cat /etc/shadow"]);
    expect(calls).toBe(1);
  });
});

describe("malformed outputs", () => {
  // [output, message, the token the error must point at]
  it.each([
    ["read %fd.nmae", "unknown field 'fd.nmae' (did you mean 'fd.name'?)", "fd.nmae"],
    ["done %", "output cannot end with '%'", "%"],
    ["100% sure", "expected a field name after '%'", "%"],
    [
      "%proc.aname from",
      "field 'proc.aname' can be used in conditions only, not in outputs (give it an index)",
      "proc",
    ],
    ["%fd.ip", "field 'fd.ip' can be used in conditions only", "fd.ip"],
  ])("%j → %s", (output, message, token) => {
    const err = outputError(output);
    expect(err.reason).toContain(message);
    // The output is a double-quoted scalar on line 4 whose text starts at column 12 ('  output: "').
    expect([err.line, err.column]).toEqual([4, 12 + output.indexOf(token)]);
    expect(err.rule).toBe("r");
  });
});

/**
 * Property tests: whatever text a user writes, loading either yields a
 * compiled ruleset or a RulesError with a position inside the file; it never
 * throws anything else, never hangs, and a compiled rule evaluates without
 * throwing. Random input is built both from raw characters and from the
 * language's own tokens (so it reaches deep into the parser and compiler).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCondition } from "../../src/rules/condition-parser.js";
import { RulesError } from "../../src/rules/errors.js";
import { loadRulesFromText } from "../../src/rules/ruleset.js";
import { plainSourceText } from "../../src/rules/source-text.js";
import { connectEvent, enriched, execEvent, openEvent } from "./helpers.js";

const FIELDS = [
  "evt.type",
  "proc.name",
  "proc.aname",
  "proc.aname[2]",
  "fd.name",
  "fd.sip",
  "fd.snet",
  "fd.sport",
  "evt.arg.flags",
  "evt.rawres",
  "user.uid",
  "proc.nope",
  "container.privileged",
  "thread.cap_effective",
];
const OPS = [
  "=",
  "!=",
  "<",
  ">=",
  "in",
  "contains",
  "icontains",
  "startswith",
  "endswith",
  "glob",
  "regex",
  "pmatch",
  "intersects",
  "exists",
  "bcontains",
  "= anyof",
  "!= allof",
  "startswith oneof",
  "in anyof",
];
const VALUES = [
  "openat",
  "execve",
  "connect",
  "cat",
  "/etc",
  "'a b'",
  '"x"',
  "1",
  "-1",
  "10.0.0.0/8",
  "(a, b)",
  "(1,2)",
  "(openat, connect)",
  "[",
  "(",
  ")",
  "val(proc.name)",
  "tolower(proc.name)",
];
const GLUE = ["and", "or", "not", "(", ")", "some_macro", "some_list", "anyof", "allof", "oneof"];

const token = fc.oneof(
  fc.constantFrom(...FIELDS),
  fc.constantFrom(...OPS),
  fc.constantFrom(...VALUES),
  fc.constantFrom(...GLUE),
);
const tokenCondition = fc.array(token, { minLength: 1, maxLength: 14 }).map((t) => t.join(" "));
const check = fc
  .tuple(fc.constantFrom(...FIELDS), fc.constantFrom(...OPS), fc.constantFrom(...VALUES))
  .map(([f, o, v]) => (o === "exists" ? `${f} exists` : `${f} ${o} ${v}`));
const structured: fc.Arbitrary<string> = fc.letrec((tie) => ({
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    check,
    fc.tuple(tie("expr"), fc.constantFrom("and", "or"), tie("expr")).map(([a, op, b]) => `${a} ${op} ${b}`),
    tie("expr").map((e) => `not (${e})`),
    tie("expr").map((e) => `(${e})`),
  ),
})).expr as fc.Arbitrary<string>;

const EVENTS = [enriched(openEvent()), enriched(connectEvent()), enriched(execEvent())];

function rulesFile(condition: string, output: string): string {
  return `- list: some_list
  items: [a, b]
- macro: some_macro
  condition: proc.name = x
- rule: random
  desc: property test
  condition: ${JSON.stringify(condition)}
  output: ${JSON.stringify(output)}
  priority: INFO
`;
}

/** Loads; a RulesError must point inside the file. Returns whether it compiled. */
function loadsOrPositionedError(text: string): boolean {
  const lines = text.split("\n").length;
  try {
    const rs = loadRulesFromText([{ name: "p.yaml", text }]);
    for (const e of EVENTS) rs.evaluate({ ...e }, () => {});
    return true;
  } catch (err) {
    if (!(err instanceof RulesError)) throw err;
    expect(err.file).toBe("p.yaml");
    expect(err.line).toBeGreaterThanOrEqual(1);
    expect(err.line).toBeLessThanOrEqual(lines + 1);
    expect(err.column).toBeGreaterThanOrEqual(1);
    expect(err.reason.length).toBeGreaterThan(0);
    return false;
  }
}

describe("random input never crashes the rules loader", () => {
  it("arbitrary condition text: a ruleset or a positioned RulesError", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (cond) => {
        loadsOrPositionedError(rulesFile(cond, "o"));
      }),
      { numRuns: 300 },
    );
  });

  it("token soup from the language: a ruleset or a positioned RulesError", () => {
    fc.assert(
      fc.property(tokenCondition, (cond) => {
        loadsOrPositionedError(rulesFile(cond, "o"));
      }),
      { numRuns: 400 },
    );
  });

  it("well-formed random trees mostly compile, and evaluate without throwing", () => {
    let compiled = 0;
    fc.assert(
      fc.property(structured, (cond) => {
        if (
          loadsOrPositionedError(
            rulesFile(`evt.type in (openat, connect, execve) and (${cond})`, "%proc.name %fd.name"),
          )
        )
          compiled++;
      }),
      { numRuns: 300 },
    );
    expect(compiled).toBeGreaterThan(30);
  });

  it("random outputs: rendered, or a positioned RulesError", () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.constantFrom(...FIELDS.map((f) => `%${f}`), "%", "%(", "%evt.arg[", "%proc.aname[x]"),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (parts) => {
        loadsOrPositionedError(rulesFile("evt.type = openat", parts.join(" ")));
      }),
      { numRuns: 300 },
    );
  });

  it("random YAML documents: a ruleset or a positioned RulesError", () => {
    const key = fc.constantFrom(
      "rule",
      "macro",
      "list",
      "condition",
      "desc",
      "output",
      "priority",
      "items",
      "enabled",
      "exceptions",
      "override",
      "append",
      "tags",
      "required_engine_version",
    );
    const scalar = fc.oneof(
      fc.string({ maxLength: 10 }),
      fc.constantFrom("true", "INFO", "[a, b]", "{condition: append}", "evt.type = openat", "- x"),
    );
    const item = fc
      .array(fc.tuple(key, scalar), { minLength: 1, maxLength: 5 })
      .map((pairs) => pairs.map(([k, v], i) => `${i === 0 ? "- " : "  "}${k}: ${v}`).join("\n"));
    fc.assert(
      fc.property(fc.array(item, { maxLength: 4 }), (items) => {
        loadsOrPositionedError(`${items.join("\n")}\n`);
      }),
      { numRuns: 300 },
    );
  });

  it("the parser alone: a tree or a positioned RulesError, for any string", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        try {
          parseCondition(plainSourceText(text, "c"));
        } catch (err) {
          expect(err).toBeInstanceOf(RulesError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

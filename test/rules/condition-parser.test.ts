import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Expr } from "../../src/rules/ast.js";
import { parseCondition } from "../../src/rules/condition-parser.js";
import { RulesError } from "../../src/rules/errors.js";
import { plainSourceText } from "../../src/rules/source-text.js";

function parse(text: string): Expr {
  return parseCondition(plainSourceText(text, "cond"));
}

/** A compact rendering of the tree: (and a b), (not x), field=value, [list]. */
function show(e: Expr): string {
  switch (e.kind) {
    case "and":
    case "or":
      return `(${e.kind} ${e.children.map(show).join(" ")})`;
    case "not":
      return `(not ${show(e.child)})`;
    case "macro":
      return e.name;
    case "macro-body":
      return show(e.body);
    case "check": {
      const left =
        e.left.kind === "field"
          ? e.left.arg === undefined
            ? e.left.name
            : `${e.left.name}[${e.left.arg}]`
          : `${e.left.transformer}(…)`;
      const r = e.right;
      if (r === undefined) return `${left} ${e.op}`;
      if (r.kind === "value") return `${left} ${e.op} ${r.quoted ? JSON.stringify(r.text) : r.text}`;
      if (r.kind === "list")
        return `${left} ${e.op} [${r.items.map((i) => i.text).join("|")}]${r.parenthesized ? "" : "!"}`;
      if (r.kind === "val") return `${left} ${e.op} val(${r.field.name})`;
      return `${left} ${e.op} ${r.transformer}(…)`;
    }
  }
}

function parseError(text: string): RulesError {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(RulesError);
    return err as RulesError;
  }
  throw new Error(`expected '${text}' not to parse`);
}

describe("condition parser: precedence", () => {
  it.each([
    ["a or b and c", "(or a (and b c))"],
    ["a and b or c", "(or (and a b) c)"],
    ["not a and b", "(and (not a) b)"],
    ["not (a and b)", "(not (and a b))"],
    ["not not a", "a"],
    ["not not not a", "(not a)"],
    ["a and not b or not c and d", "(or (and a (not b)) (and (not c) d))"],
    ["(a or b) and c", "(and (or a b) c)"],
    ["a or b or c", "(or a b c)"],
    ["a and(b) and(c)", "(and a b c)"],
    ["not(a)", "(not a)"],
    ["((((a))))", "a"],
    ["a\n  and\tb", "(and a b)"],
  ])("%s → %s", (text, tree) => {
    expect(show(parse(text))).toBe(tree);
  });
});

describe("condition parser: checks and values", () => {
  it.each([
    ["proc.name = bash", "proc.name = bash"],
    ["proc.name=bash", "proc.name = bash"],
    ["proc.name==bash", "proc.name == bash"],
    ["proc.name != bash", "proc.name != bash"],
    ["fd.name startswith /etc/", "fd.name startswith /etc/"],
    ["fd.name contains 'a b'", 'fd.name contains "a b"'],
    ['fd.name contains "it\'s"', 'fd.name contains "it\'s"'],
    ["fd.name = 'it\\'s'", 'fd.name = "it\'s"'],
    ['proc.cmdline contains "say \\"hi\\""', 'proc.cmdline contains "say \\"hi\\""'],
    ["evt.dir = <", "evt.dir = <"],
    ["fd.name glob '/home/*/.ssh/*'", 'fd.name glob "/home/*/.ssh/*"'],
    ["fd.sport > 1024", "fd.sport > 1024"],
    ["fd.sport >= 0x10", "fd.sport >= 0x10"],
    ["user.loginuid <= -1", "user.loginuid <= -1"],
    ["fd.name exists", "fd.name exists"],
    ["proc.name in (bash, sh, 'zsh x')", "proc.name in [bash|sh|zsh x]"],
    ["proc.name in(bash,sh)", "proc.name in [bash|sh]"],
    ["proc.name in ()", "proc.name in []"],
    ["proc.name in shell_binaries", "proc.name in [shell_binaries]!"],
    ["fd.name pmatch (/etc, /usr/lib)", "fd.name pmatch [/etc|/usr/lib]"],
    ["proc.aname intersects (a, b)", "proc.aname intersects [a|b]"],
    ["proc.aname[2] = bash", "proc.aname[2] = bash"],
    ["evt.arg[flags] contains O_CREAT", "evt.arg[flags] contains O_CREAT"],
    ["evt.arg.flags contains O_CREAT", "evt.arg.flags contains O_CREAT"],
    ["proc.name = val(proc.pname)", "proc.name = val(proc.pname)"],
    ["tolower(proc.name) = bash", "tolower(…) = bash"],
    ["proc.name = toupper(proc.pname)", "proc.name = toupper(…)"],
    [
      "proc.name icontains BASH and fd.name endswith .sh",
      "(and proc.name icontains BASH fd.name endswith .sh)",
    ],
    ["proc.name regex '[a-z]+'", 'proc.name regex "[a-z]+"'],
    ["fd.name bcontains 2f6574", "fd.name bcontains 2f6574"],
    ["fd.name iglob *.SH", "fd.name iglob *.SH"],
  ])("%s", (text, tree) => {
    expect(show(parse(text))).toBe(tree);
  });

  it("keeps the position of each node", () => {
    const e = parse("a and\n   proc.name = 'x y'");
    expect(e.kind).toBe("and");
    const check = e.kind === "and" ? e.children[1] : undefined;
    expect(check?.pos).toEqual({ file: "cond", line: 2, column: 4 });
    const right = check?.kind === "check" ? check.right : undefined;
    expect(right?.pos).toEqual({ file: "cond", line: 2, column: 16 });
  });
});

describe("condition parser: malformed input", () => {
  it.each([
    ["", "empty condition", 1, 1],
    ["   ", "empty condition", 1, 4],
    ["(a and b", "unbalanced parenthesis", 1, 1],
    ["a and b)", "unbalanced parenthesis", 1, 8],
    [")", "unbalanced parenthesis", 1, 1],
    ["proc.name startswith", "operator 'startswith' needs a value", 1, 21],
    ["proc.name startswith )", "operator 'startswith' needs a value", 1, 22],
    ["proc.name = ", "operator '=' needs a value", 1, 13],
    ["proc.name in (a, b", "unbalanced parenthesis", 1, 14],
    ["proc.name in (a b)", "expected ',' or ')'", 1, 17],
    ["proc.name in", "operator 'in' needs a list", 1, 13],
    ["proc.name", "field 'proc.name' needs an operator", 1, 10],
    ["proc.name ~ x", "unknown operator '~'", 1, 11],
    ["proc.name = 'abc", "unterminated quoted string", 1, 13],
    ["fd.sport > abc", "operator '>' needs a number", 1, 12],
    ["a b", "unexpected 'b'", 1, 3],
    ["a and", "the condition ends here", 1, 6],
    ["not", "the condition ends here", 1, 4],
    ["and a", "unexpected 'and'", 1, 1],
    ["a or or b", "unexpected 'or'", 1, 6],
    ["proc.aname[ = x", "needs an argument", 1, 12],
    ["proc.aname[2 = x", "expected ']'", 1, 13],
    ["tolower(proc.name = x", "expected ')'", 1, 19],
    ["tolower() = x", "needs a field", 1, 9],
    ["a and\n  (b or", "the condition ends here", 2, 8],
  ])("%j → %s at %i:%i", (text, message, line, column) => {
    const err = parseError(text);
    expect(err.reason).toContain(message);
    expect([err.line, err.column]).toEqual([line, column]);
  });

  it("limits nesting instead of overflowing the stack", () => {
    const deep = `${"(".repeat(5000)}a${")".repeat(5000)}`;
    expect(parseError(deep).reason).toContain("nest deeper");
  });
});

describe("condition parser: never throws anything but a positioned RulesError", () => {
  function parsesOrFailsCleanly(text: string): void {
    try {
      parse(text);
    } catch (err) {
      if (!(err instanceof RulesError)) throw err;
      expect(err.line).toBeGreaterThanOrEqual(1);
      expect(err.column).toBeGreaterThanOrEqual(1);
      expect(err.file).toBe("cond");
    }
  }

  it("on random strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => parsesOrFailsCleanly(s)),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(..."()'\"[],=!<> \n\tandornt.x\\"), maxLength: 60 }),
        (s) => parsesOrFailsCleanly(s),
      ),
      { numRuns: 2000 },
    );
  });

  it("on random token sequences", () => {
    const token = fc.constantFrom(
      "and",
      "or",
      "not",
      "(",
      ")",
      ",",
      "proc.name",
      "fd.name",
      "proc.aname[2]",
      "proc.aname[",
      "]",
      "evt.type",
      "my_macro",
      "=",
      "!=",
      "<",
      ">=",
      "in",
      "pmatch",
      "exists",
      "contains",
      "startswith",
      "glob",
      "bash",
      "/etc/passwd",
      "'quoted value'",
      '"dq"',
      "'unterminated",
      "42",
      "-1",
      "0x1f",
      "tolower(",
      "val(",
      "\n",
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 25 }), fc.constantFrom(" ", "", "  "), (tokens, sep) =>
        parsesOrFailsCleanly(tokens.join(sep)),
      ),
      { numRuns: 5000 },
    );
  });
});

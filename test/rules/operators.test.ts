import { describe, expect, it } from "vitest";
import { RulesError } from "../../src/rules/errors.js";
import { connectEvent, enriched, execEvent, load, matches, openEvent, proc, ruleText } from "./helpers.js";

// Default scene: `cat /etc/shadow` (pid 100, uid 1000, cwd /home/alice) opens /etc/shadow
// read-only with openat; its parent is bash (pid 1).
const open = enriched(openEvent());
const connect = enriched(connectEvent());

describe("operators", () => {
  it.each([
    // equality
    ["proc.name = cat", open, true],
    ["proc.name == cat", open, true],
    ["proc.name = ca", open, false],
    ["proc.name != bash", open, true],
    ["proc.name != cat", open, false],
    ["proc.pid = 100", open, true],
    ["proc.pid = 0x64", open, true],
    ["proc.pid != 100", open, false],
    ["evt.is_open_read = true", open, true],
    ["evt.is_open_read = false", open, false],
    ["evt.is_open_write != true", open, true],
    // ordering: numbers numerically, strings bytewise
    ["proc.pid < 101", open, true],
    ["proc.pid < 100", open, false],
    ["proc.pid <= 100", open, true],
    ["proc.pid > 99", open, true],
    ["proc.pid >= 101", open, false],
    ["user.uid > 999 and user.uid < 1001", open, true],
    ["evt.time > 1700000000000000000", open, true],
    ["evt.time < 1700000000000000000", open, false],
    ["fd.sport >= 443", connect, true],
    ["proc.name > 5", open, true],
    // strings
    ["fd.name contains shad", open, true],
    ["fd.name contains SHAD", open, false],
    ["fd.name icontains SHAD", open, true],
    ["fd.name startswith /etc/", open, true],
    ["fd.name startswith /usr", open, false],
    ["fd.name endswith shadow", open, true],
    ["fd.name endswith passwd", open, false],
    ["proc.cmdline contains 'cat /etc'", open, true],
    // glob: fnmatch without flags, * crosses '/'
    ["fd.name glob /etc/*", open, true],
    ["fd.name glob '/e*w'", open, true],
    ["fd.name glob /etc/sha?ow", open, true],
    ["fd.name glob '/etc/[rs]hadow'", open, true],
    ["fd.name glob '/etc/[!s]hadow'", open, false],
    ["fd.name glob /ETC/*", open, false],
    ["fd.name iglob /ETC/*", open, true],
    ["fd.name glob /etc", open, false],
    // regex: whole-value match, like RE2 ANCHOR_BOTH
    ["fd.name regex '/etc/[a-z]+'", open, true],
    ["fd.name regex 'etc'", open, false],
    ["fd.name regex '.*etc.*'", open, true],
    // in / intersects
    ["proc.name in (bash, cat)", open, true],
    ["proc.name in (bash, sh)", open, false],
    ["proc.name in ('cat')", open, true],
    ["proc.name in ()", open, false],
    ["proc.pid in (1, 100, 200)", open, true],
    ["proc.pid in (1, 0x64)", open, true],
    ["proc.name intersects (cat, dog)", open, true],
    ["proc.aname intersects (bash, zsh)", open, true],
    ["proc.aname in (zsh, fish)", open, false],
    ["evt.is_open_read in (true)", open, true],
    // pmatch: path prefix on whole components
    ["fd.name pmatch (/etc)", open, true],
    ["fd.name pmatch (/etc/shadow)", open, true],
    ["fd.name pmatch (/et)", open, false],
    ["fd.name pmatch (/etc/shadow/x)", open, false],
    ["fd.name pmatch (/usr, /var/lib, /etc)", open, true],
    ["fd.name pmatch (/)", open, true],
    ["fd.name pmatch ('/e*')", open, true],
    ["fd.name pmatch ('/usr/*')", open, false],
    // exists
    ["fd.name exists", open, true],
    ["fd.sip exists", open, false],
    ["fd.sip exists", connect, true],
    ["proc.aname exists", open, true],
    // ip addresses and networks
    ["fd.sip = 93.184.216.34", connect, true],
    ["fd.sip = 93.184.216.35", connect, false],
    ["fd.sip = 93.184.0.0/16", connect, true],
    ["fd.sip in (10.0.0.0/8, 93.184.216.0/24)", connect, true],
    ["fd.sip in (1.1.1.1, 93.184.216.34)", connect, true],
    ["fd.sip != 93.184.216.34", connect, false],
    ["fd.snet = 93.0.0.0/8", connect, true],
    ["fd.snet in (10.0.0.0/8, 192.168.0.0/16)", connect, false],
    ["fd.cnet = 10.0.0.0/8", connect, true],
    ["fd.ip = 10.0.0.5", connect, true],
    ["fd.ip = 93.184.216.34", connect, true],
    ["fd.net = 93.184.216.0/24", connect, true],
    ["fd.port = 443", connect, true],
    ["fd.port = 41000", connect, true],
    ["fd.port = 80", connect, false],
    // transformers and val()
    ["tolower(proc.name) = cat", enriched(openEvent(), { process: proc({ name: "CAT" }) }), true],
    ["toupper(proc.name) = CAT", open, true],
    ["basename(fd.name) = shadow", open, true],
    ["len(proc.name) = 3", open, true],
    ["b64(proc.name) = hello", enriched(openEvent(), { process: proc({ name: "aGVsbG8=" }) }), true],
    ["proc.name = val(proc.pname)", enriched(openEvent(), { process: proc({ name: "bash" }) }), true],
    ["proc.name = val(proc.pname)", open, false],
    ["proc.name != val(proc.pname)", open, true],
    ["proc.pid > val(proc.ppid)", open, true],
    ["proc.aname = val(proc.name)", enriched(openEvent(), { process: proc({ name: "bash" }) }), true],
    ["fd.name startswith val(proc.cwd)", enriched(openEvent({ path: "notes.txt" })), true],
  ])("%s → %s", (condition, e, expected) => {
    expect(matches(condition, e)).toBe(expected);
  });
});

describe("missing values (libsinsp: a comparison on a field that cannot be extracted is false)", () => {
  const exec = enriched(execEvent());
  it.each([
    ["fd.name = /etc/shadow", false],
    ["fd.name != /etc/shadow", false],
    ["not fd.name = /etc/shadow", true],
    ["not fd.name != /etc/shadow", true],
    ["fd.name in (/etc/shadow)", false],
    ["fd.name exists", false],
    ["not fd.name exists", true],
    ["fd.name contains x", false],
    ["fd.name startswith /", false],
    ["fd.name pmatch (/)", false],
    ["fd.name glob '*'", false],
    ["proc.name = val(fd.name)", false],
    ["proc.name != val(fd.name)", false],
  ])("%s → %s", (condition, expected) => {
    expect(matches(condition, exec)).toBe(expected);
  });

  it("treats an unknown process's fields as missing", () => {
    const e = enriched(openEvent(), { process: null });
    expect(matches("proc.name != cat", e)).toBe(false);
    expect(matches("proc.name exists", e)).toBe(false);
    expect(matches("proc.pid = 100", e)).toBe(true);
  });
});

describe("operator/type checks at load", () => {
  function loadError(condition: string): RulesError {
    try {
      load(ruleText(`evt.type = open and ${condition}`));
    } catch (err) {
      expect(err).toBeInstanceOf(RulesError);
      return err as RulesError;
    }
    throw new Error(`expected '${condition}' to fail to load`);
  }

  // [condition, message, the token the error must point at]
  it.each([
    [
      "proc.pid contains 1",
      "operator 'contains' cannot be used with a number field ('proc.pid')",
      "contains",
    ],
    ["proc.pid = abc", "'abc' is not a number: field 'proc.pid' is a number field", "abc"],
    ["proc.pid in (1, x)", "'x' is not a number", "x)"],
    ["evt.is_open_read = yes", "'yes' is not a boolean", "yes"],
    ["fd.sip = 1.2.3", "'1.2.3' is not an IP address or network", "1.2.3"],
    ["fd.snet = 10.0.0.1/40", "is not an IP network", "10.0"],
    ["proc.name bcontains 2f", "operator 'bcontains' cannot be used with a string field", "bcontains"],
    ["proc.name bstartswith 2f", "operator 'bstartswith' cannot be used with a string field", "bstartswith"],
    ["proc.pid pmatch (/etc)", "operator 'pmatch' cannot be used with a number field", "pmatch"],
    ["evt.is_open_read < 1", "operator '<' cannot be used with a boolean field", "<"],
    ["proc.name regex '(['", "invalid regular expression", "'(['"],
    [
      "proc.name = val(proc.pid)",
      "cannot compare a string field ('proc.name') with a number field ('proc.pid')",
      "val(",
    ],
    [
      "proc.name glob val(proc.pname)",
      "operator 'glob' does not accept a field on the right-hand side",
      "glob",
    ],
    ["proc.name = val(proc.aname)", "cannot be used on the right-hand side without an index", "val("],
    ["len(proc.pid) = 1", "transformer 'len' cannot be applied to a number field ('proc.pid')", "len("],
    ["proc.nmae = x", "unknown field 'proc.nmae' (did you mean 'proc.name'?)", "proc.nmae"],
    ["proc.name[1] = x", "field 'proc.name' does not take an argument", "proc.name"],
    ["proc.aname[x] = y", "needs a numeric index", "proc.aname"],
  ])("%s", (condition, message, token) => {
    const err = loadError(condition);
    expect(err.reason).toContain(message);
    expect(err.rule).toBe("r");
    expect(err.line).toBe(3);
    // The condition is a double-quoted scalar whose text starts at column 15 ('  condition: "').
    const full = `evt.type = open and ${condition}`;
    expect(err.column).toBe(15 + full.indexOf(token));
  });
});

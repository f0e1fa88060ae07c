import { describe, expect, it } from "vitest";
import { parseCommand, UsageError } from "../../src/cli/args.js";

describe("capture and replay command lines", () => {
  it("parses capture -o FILE --duration S", () => {
    expect(parseCommand(["capture", "-o", "x.pgcap", "--duration", "2.5"])).toEqual({
      kind: "capture",
      flags: { output: "x.pgcap", durationS: 2.5 },
    });
    expect(parseCommand(["capture", "--output", "y", "--loader", "/l"])).toEqual({
      kind: "capture",
      flags: { output: "y", loader: "/l" },
    });
    expect(parseCommand(["capture", "--help"])).toEqual({ kind: "help", topic: "capture" });
    expect(parseCommand(["help", "replay"])).toEqual({ kind: "help", topic: "replay" });
  });

  it("rejects a capture without a file or with a bad duration, naming the problem", () => {
    expect(() => parseCommand(["capture"])).toThrow(UsageError);
    expect(() => parseCommand(["capture"])).toThrow(/needs -o FILE/);
    expect(() => parseCommand(["capture", "-o", "f", "--duration", "soon"])).toThrow(
      /"soon" is not a positive/,
    );
    expect(() => parseCommand(["capture", "-o", "f", "extra"])).toThrow(/unexpected argument "extra"/);
  });

  it("parses replay FILE with rules and output", () => {
    expect(
      parseCommand(["replay", "c.pgcap", "-r", "a.yaml", "--rules", "b.yaml", "--output", "json"]),
    ).toEqual({
      kind: "replay",
      flags: { file: "c.pgcap", rules: ["a.yaml", "b.yaml"], output: "json" },
    });
    expect(() => parseCommand(["replay"])).toThrow(/needs the capture FILE/);
    expect(() => parseCommand(["replay", "f", "--output", "xml"])).toThrow(/"xml" is not one of/);
  });
});

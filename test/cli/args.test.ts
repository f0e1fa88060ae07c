import { describe, expect, it } from "vitest";
import { parseCommand, UsageError } from "../../src/cli/args.js";

describe("parseCommand", () => {
  it.each([
    [[], { kind: "run", flags: { rules: [], overrides: [] } }],
    [["run"], { kind: "run", flags: { rules: [], overrides: [] } }],
    [
      [
        "run",
        "-r",
        "a.yaml",
        "--rules",
        "b.yaml",
        "--otlp-endpoint",
        "http://127.0.0.1:4317",
        "--output",
        "json",
      ],
      {
        kind: "run",
        flags: {
          rules: ["a.yaml", "b.yaml"],
          overrides: [],
          otlpEndpoint: "http://127.0.0.1:4317",
          output: "json",
        },
      },
    ],
    [
      ["--metrics-address", "[::1]:9000", "-o", "json_output=true", "-o", "hostname=h"],
      {
        kind: "run",
        flags: { rules: [], overrides: ["json_output=true", "hostname=h"], metricsAddress: "[::1]:9000" },
      },
    ],
    [["--help"], { kind: "help", topic: "main" }],
    [["run", "--help"], { kind: "help", topic: "run" }],
    [["help", "run"], { kind: "help", topic: "run" }],
    [["version"], { kind: "version" }],
    [["--version"], { kind: "version" }],
  ])("%j", (argv, expected) => {
    expect(parseCommand(argv)).toEqual(expected);
  });

  it.each([
    [["frobnicate"], /unknown command "frobnicate"/],
    [["run", "--nope"], /--nope/],
    [["run", "--rules"], /--rules/],
    [["run", "extra"], /unexpected argument "extra"/],
  ])("rejects %j", (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });
});

/**
 * Command lines of the rule-authoring tools (pure parsing, no I/O):
 *   peregrine rules validate FILE…   peregrine rules list [FILE…]
 *   peregrine rules test RULES… --events FILE   peregrine fields [--json]
 */
import { parseArgs } from "node:util";

export type RulesToolCommand =
  | { readonly tool: "validate"; readonly files: readonly string[]; readonly json: boolean }
  | { readonly tool: "list"; readonly files: readonly string[]; readonly json: boolean }
  | {
      readonly tool: "test";
      readonly files: readonly string[];
      readonly events: string;
      readonly json: boolean;
    }
  | { readonly tool: "fields"; readonly json: boolean; readonly prefix: string | undefined }
  | { readonly tool: "help"; readonly text: string };

export const RULES_HELP = `Usage: peregrine rules <validate|list|test> [options]

  validate FILE|DIR…       load the rules files in order and report every
                           error (file:line:col) and warning: unused macros
                           and lists, fields the sensor cannot answer, rules
                           that cannot fire. Exit 0 when they load, 1 when not.
  list [FILE|DIR…]         the enabled rules: name, priority, tags, file
                           (default: the default ruleset).
  test RULES… --events F   run the rules on the synthetic events described in
                           the YAML file F (see docs/rules.md) and report
                           which rules fired; exit 1 when an expectation fails.

Options:
      --json               machine-readable output
  -h, --help               this text
`;

export const FIELDS_HELP = `Usage: peregrine fields [--json] [PREFIX]

Every field rules can use, with its type and description; fields Falco has
that the sensor cannot answer are listed with the reason. PREFIX (e.g. "fd.")
limits the list.
`;

/** Parses the arguments after "rules". Throws Error with a message for the user. */
export function parseRulesTool(args: readonly string[]): RulesToolCommand {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help")
    return { tool: "help", text: RULES_HELP };
  const { values, positionals } = parseArgs({
    args: [...rest],
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: "boolean" },
      events: { type: "string", short: "e" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return { tool: "help", text: RULES_HELP };
  const json = values.json ?? false;
  switch (sub) {
    case "validate":
      if (positionals.length === 0) throw new Error("rules validate: name at least one rules file or folder");
      if (values.events !== undefined) throw new Error("rules validate: --events belongs to 'rules test'");
      return { tool: "validate", files: positionals, json };
    case "list":
      if (values.events !== undefined) throw new Error("rules list: --events belongs to 'rules test'");
      return { tool: "list", files: positionals, json };
    case "test":
      if (values.events === undefined) throw new Error("rules test: --events FILE is required");
      if (positionals.length === 0) throw new Error("rules test: name at least one rules file or folder");
      return { tool: "test", files: positionals, events: values.events, json };
    default:
      throw new Error(`unknown rules command "${sub}" (validate, list, test)`);
  }
}

/** Parses the arguments after "fields". */
export function parseFieldsTool(args: readonly string[]): RulesToolCommand {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return { tool: "help", text: FIELDS_HELP };
  if (positionals.length > 1) throw new Error(`fields: unexpected argument "${positionals[1]}"`);
  return { tool: "fields", json: values.json ?? false, prefix: positionals[0] };
}

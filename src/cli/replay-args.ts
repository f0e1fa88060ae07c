import { parseArgs } from "node:util";

/** `peregrine replay` flags; pure data. */
export interface ReplayFlags {
  readonly file: string;
  readonly rules: readonly string[];
  /** text | json | none; undefined = text on a terminal, JSON otherwise. */
  readonly output?: string;
}

export const REPLAY_HELP = `Usage: peregrine replay FILE [--rules FILE]... [--output text|json|none]

Runs a capture made by "peregrine capture" through the same enrichment and
rules as "peregrine run", and prints the detections. Process, fd, container
and user state come from the capture, never from this machine, so a capture
taken elsewhere replays as it ran there. Does not need root. A bare sensor
stream (the loader's stdout saved to a file) replays too, without that state.

Options:
  -r, --rules FILE            rules file in Falco's format (repeatable);
                              default: the rules in rules/ of this package
      --output text|json|none detections on stdout (default: text on a
                              terminal, JSON otherwise)
  -h, --help                  this text
`;

const OUTPUTS = new Set(["text", "json", "none"]);

/** Parses replay's arguments; undefined for --help. Throws Error with a message for the user. */
export function parseReplayFlags(args: string[]): ReplayFlags | undefined {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      rules: { type: "string", short: "r", multiple: true },
      output: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return undefined;
  const [file, extra] = positionals;
  if (file === undefined) throw new Error("replay needs the capture FILE");
  if (extra !== undefined) throw new Error(`unexpected argument "${extra}"`);
  if (values.output !== undefined && !OUTPUTS.has(values.output)) {
    throw new Error(`--output: "${values.output}" is not one of text, json, none`);
  }
  return {
    file,
    rules: values.rules ?? [],
    ...(values.output !== undefined && { output: values.output }),
  };
}

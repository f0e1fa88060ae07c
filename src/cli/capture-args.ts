import { parseArgs } from "node:util";

/** `peregrine capture` flags; pure data. */
export interface CaptureFlags {
  readonly output: string;
  /** Seconds; undefined = until SIGINT/SIGTERM. */
  readonly durationS?: number;
  readonly loader?: string;
}

export const CAPTURE_HELP = `Usage: peregrine capture -o FILE [--duration S]

Records what the sensor sees to FILE: the raw event stream, plus what /proc
and /etc/passwd, /etc/group said (the process table at start, and every /proc
read the agent makes while capturing), so that "peregrine replay FILE" gives
the same detections on another machine. Stops after --duration seconds or on
SIGINT/SIGTERM. Needs root, like "run".

Options:
  -o, --output FILE     the capture file to write (replaced if it exists)
  -d, --duration S      stop after S seconds (decimals allowed)
      --loader PATH     the loader binary (default: bpf/.output/peregrine-loader)
  -h, --help            this text
`;

/** Parses capture's arguments; returns undefined for --help. Throws Error with a message for the user. */
export function parseCaptureFlags(args: string[]): CaptureFlags | undefined {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      output: { type: "string", short: "o" },
      duration: { type: "string", short: "d" },
      loader: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return undefined;
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  if (values.output === undefined || values.output === "") throw new Error("capture needs -o FILE");
  let durationS: number | undefined;
  if (values.duration !== undefined) {
    durationS = Number(values.duration);
    if (!Number.isFinite(durationS) || durationS <= 0) {
      throw new Error(`--duration: "${values.duration}" is not a positive number of seconds`);
    }
  }
  return {
    output: values.output,
    ...(durationS !== undefined && { durationS }),
    ...(values.loader !== undefined && { loader: values.loader }),
  };
}

import { parseArgs } from "node:util";
import { type CaptureFlags, parseCaptureFlags } from "./capture-args.js";
import { parseReplayFlags, type ReplayFlags } from "./replay-args.js";
import { parseFieldsTool, parseRulesTool, type RulesToolCommand } from "./rules-args.js";

/** What the command line asked for; pure data, no I/O. */
export type Command =
  | { readonly kind: "run"; readonly flags: RunFlags }
  | { readonly kind: "capture"; readonly flags: CaptureFlags }
  | { readonly kind: "replay"; readonly flags: ReplayFlags }
  | { readonly kind: "help"; readonly topic: "run" | "main" | "capture" | "replay" }
  | { readonly kind: "rules-tool"; readonly command: RulesToolCommand }
  | { readonly kind: "version" };

export interface RunFlags {
  readonly rules: readonly string[];
  readonly otlpEndpoint?: string;
  readonly metricsAddress?: string;
  readonly output?: string;
  readonly config?: string;
  readonly overrides: readonly string[];
  readonly loader?: string;
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const MAIN_HELP = `Usage: peregrine [command] [options]

eBPF runtime-security sensor: Falco-format rules, detections as OTLP logs,
Prometheus metrics. Needs root (or CAP_BPF + CAP_PERFMON) to load the sensor.

Commands:
  run        watch this machine and report detections (the default)
  capture    record events and the state they need to a file
  replay     run a capture through the rules, as live
  rules      validate, list and test rules files ("peregrine rules --help")
  fields     list every field rules can use, with type and description
  version    print the version
  help       print this text; "peregrine run --help" lists run's options
`;

export const RUN_HELP = `Usage: peregrine run [options]

Loads the eBPF sensor, evaluates the rules on every event and reports each
detection on stdout, as an OTLP log record (when an endpoint is set) and as
Prometheus counters on /metrics. Stops cleanly on SIGINT or SIGTERM.

Options:
  -r, --rules FILE            rules file in Falco's format; repeat for several,
                              loaded in the order given. Replaces the default
                              ruleset (the files in rules/ of this package).
      --otlp-endpoint URL     OTLP endpoint for detections, e.g.
                              http://127.0.0.1:4317 (gRPC; for OTLP/HTTP add
                              -o otlp.protocol=http/protobuf). Overrides
                              OTEL_EXPORTER_OTLP_LOGS_ENDPOINT and
                              OTEL_EXPORTER_OTLP_ENDPOINT. Without either,
                              nothing is sent over OTLP. Undeliverable
                              detections wait in /var/lib/peregrine/spool
                              (-o otlp.spool.dir=…; see docs/export.md).
      --metrics-address HOST:PORT
                              where /metrics and /healthz are served
                              (default 127.0.0.1:9464, loopback only; use
                              0.0.0.0:9464 to let a remote Prometheus scrape,
                              "off" to serve nothing).
      --output text|json|none detections on stdout: text for people, one JSON
                              object per line (Falco's keys) for programs.
                              Default: text on a terminal, JSON otherwise.
  -c, --config FILE           YAML config file (see docs/configuration.md).
  -o, --option KEY=VALUE      override one config key, e.g.
                              -o metrics.address=0.0.0.0:9464 -o json_output=true
                              (repeatable; flags above win over -o).
      --loader PATH           the loader binary (default: bpf/.output/peregrine-loader)
  -h, --help                  this text
`;

function runFlags(args: string[]): Command {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      rules: { type: "string", short: "r", multiple: true },
      "otlp-endpoint": { type: "string" },
      "metrics-address": { type: "string" },
      output: { type: "string" },
      config: { type: "string", short: "c" },
      option: { type: "string", short: "o", multiple: true },
      loader: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return { kind: "help", topic: "run" };
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const flags: RunFlags = {
    rules: values.rules ?? [],
    overrides: values.option ?? [],
    ...(values["otlp-endpoint"] !== undefined && { otlpEndpoint: values["otlp-endpoint"] }),
    ...(values["metrics-address"] !== undefined && { metricsAddress: values["metrics-address"] }),
    ...(values.output !== undefined && { output: values.output }),
    ...(values.config !== undefined && { config: values.config }),
    ...(values.loader !== undefined && { loader: values.loader }),
  };
  return { kind: "run", flags };
}

/** Parses argv (without node and the script). Throws UsageError with a message for the user. */
export function parseCommand(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  try {
    if (first === undefined || first.startsWith("-")) {
      if (first === "-h" || first === "--help") return { kind: "help", topic: "main" };
      if (first === "--version") return { kind: "version" };
      return runFlags([...argv]);
    }
    switch (first) {
      case "run":
        return runFlags(rest);
      case "capture": {
        const flags = parseCaptureFlags(rest);
        return flags === undefined ? { kind: "help", topic: "capture" } : { kind: "capture", flags };
      }
      case "replay": {
        const flags = parseReplayFlags(rest);
        return flags === undefined ? { kind: "help", topic: "replay" } : { kind: "replay", flags };
      }
      case "rules":
        return { kind: "rules-tool", command: parseRulesTool(rest) };
      case "fields":
        return { kind: "rules-tool", command: parseFieldsTool(rest) };
      case "version":
        return { kind: "version" };
      case "help":
        return {
          kind: "help",
          topic: rest[0] === "run" || rest[0] === "capture" || rest[0] === "replay" ? rest[0] : "main",
        };
      default:
        throw new UsageError(`unknown command "${first}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // node:util parseArgs errors name the option; keep its message.
    throw new UsageError((err as Error).message);
  }
}

import { CaptureFormatError } from "../capture/capture-format.js";
import { replayCapture } from "../capture/replay.js";
import { FramingError } from "../decode/stream-framer.js";
import { StreamHeaderError } from "../decode/stream-header.js";
import { createStdoutSink } from "../export/stdout.js";
import { RulesError } from "../rules/errors.js";
import { loadRules } from "../rules/ruleset.js";
import { DEFAULT_RULES_DIR } from "../version.js";
import type { ReplayFlags } from "./replay-args.js";

function log(message: string): void {
  process.stderr.write(`peregrine: ${message}\n`);
}

/** `peregrine replay FILE`: detections on stdout, a summary on stderr. Resolves with the exit code. */
export async function replayCommand(flags: ReplayFlags): Promise<number> {
  const files = flags.rules.length > 0 ? [...flags.rules] : [DEFAULT_RULES_DIR];
  let ruleset: Awaited<ReturnType<typeof loadRules>>;
  try {
    ruleset = await loadRules(files);
  } catch (err) {
    if (err instanceof RulesError || (err as NodeJS.ErrnoException).code === "ENOENT") {
      log(`error: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }
  for (const warning of ruleset.warnings) log(`warning: ${warning.message}`);
  const format = flags.output === "text" || flags.output === "json" ? flags.output : undefined;
  const sinks =
    flags.output === "none" ? [] : [createStdoutSink({ ...(format !== undefined && { format }) })];
  const sink = {
    name: "stdout",
    emit: (d: Parameters<(typeof sinks)[number]["emit"]>[0]) => {
      for (const s of sinks) s.emit(d);
    },
    shutdown: async () => {
      await Promise.all(sinks.map((s) => s.shutdown()));
    },
  };
  try {
    const result = replayCapture(flags.file, { ruleset, sink });
    await sink.shutdown();
    if (!result.hadSnapshot) {
      log("warning: a bare sensor stream: no /proc snapshot, process state comes from events only");
    } else if (result.unanswered > 0) {
      log(`/proc questions without a recorded answer (key@record): ${result.unansweredSample.join(", ")}`);
    }
    log(
      `replayed ${result.events} events from ${flags.file} (host ${result.hostname}): ` +
        `${result.detections} detections, ${result.unanswered} /proc questions the capture could not answer`,
    );
    return 0;
  } catch (err) {
    await sink.shutdown();
    if (
      err instanceof CaptureFormatError ||
      err instanceof FramingError ||
      err instanceof StreamHeaderError ||
      (err as NodeJS.ErrnoException).code === "ENOENT"
    ) {
      log(`error: ${flags.file}: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }
}

import { VERSION } from "../version.js";
import { MAIN_HELP, parseCommand, RUN_HELP, UsageError } from "./args.js";
import { CAPTURE_HELP } from "./capture-args.js";
import { REPLAY_HELP } from "./replay-args.js";
import { runCommand } from "./run.js";

async function main(argv: readonly string[]): Promise<number> {
  let command: ReturnType<typeof parseCommand>;
  try {
    command = parseCommand(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`peregrine: ${err.message}\n\n${MAIN_HELP}`);
    return 2;
  }
  switch (command.kind) {
    case "help":
      process.stdout.write(
        { run: RUN_HELP, capture: CAPTURE_HELP, replay: REPLAY_HELP, main: MAIN_HELP }[command.topic],
      );
      return 0;
    case "version":
      process.stdout.write(`peregrine ${VERSION}\n`);
      return 0;
    case "run":
      return runCommand(command.flags);
    case "capture":
      return (await import("./capture.js")).captureCommand(command.flags);
    case "replay":
      return (await import("./replay.js")).replayCommand(command.flags);
    case "rules-tool":
      return (await import("./rules-tools.js")).rulesToolCommand(command.command);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`peregrine: fatal: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);

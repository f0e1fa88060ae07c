import { startCapture } from "../capture/capture-session.js";
import type { CaptureFlags } from "./capture-args.js";

function log(message: string): void {
  process.stderr.write(`peregrine: ${message}\n`);
}

/** `peregrine capture`: record until --duration elapses or SIGINT/SIGTERM. Resolves with the exit code. */
export async function captureCommand(flags: CaptureFlags): Promise<number> {
  let capture: Awaited<ReturnType<typeof startCapture>>;
  try {
    capture = await startCapture({ path: flags.output, loaderPath: flags.loader });
  } catch (err) {
    log(`error: cannot start the capture: ${(err as Error).message}`);
    return 1;
  }
  log(`capturing to ${flags.output} (loader pid ${capture.sensor.pid}); ready`);
  const code = await new Promise<number>((resolve) => {
    const done = (code: number): void => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      clearTimeout(timer);
      resolve(code);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      log(`${signal}: stopping`);
      done(0);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const timer =
      flags.durationS === undefined
        ? undefined
        : setTimeout(() => done(0), Math.round(flags.durationS * 1000));
  });
  const result = await capture.stop();
  log(
    `captured ${result.events} events, ${result.processesAtStart} processes at start, ` +
      `${result.procAnswers} /proc answers: ${result.bytes} bytes in ${flags.output}`,
  );
  return code;
}

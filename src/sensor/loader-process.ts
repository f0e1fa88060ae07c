/**
 * Runs bpf/.output/peregrine-loader as a child process and decodes its stdout.
 *
 * The loader is the only privileged piece; the agent passes its own pid with
 * --ignore-pid so it never sees itself, and keeps the loader's stdin open as a
 * pipe: if the agent dies, the loader reads EOF and stops. The same pipe
 * carries filter updates ("syscalls ID,…" lines, see src/sensor/event-filter.ts).
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { DecodedRecord } from "../decode/events.js";
import { StreamDecoder, type StreamDecoderStats } from "../decode/stream-decoder.js";
import type { StreamHeader } from "../decode/stream-header.js";
import { filterCommand, type KernelFilter, kernelFilter } from "./event-filter.js";

export interface SensorOptions {
  /** Path of the loader binary; default defaultLoaderPath(). */
  readonly loaderPath?: string | undefined;
  /** More processes whose events the kernel drops (the agent's own pid is always added). */
  readonly ignorePids?: readonly number[] | undefined;
  /** Ring buffer size (power of two, page multiple); loader default 8 MiB. */
  readonly ringbufBytes?: number | undefined;
  /** Interval of PG_REC_STATS records; loader default 1000. */
  readonly statsIntervalMs?: number | undefined;
  /**
   * Falco evt.type names the rules need; the kernel sends these plus what the
   * state tables need (STATE_EVENT_TYPES). Undefined: every syscall the sensor knows.
   */
  readonly eventTypes?: ReadonlySet<string> | undefined;
  /** Send exactly eventTypes, without the state tables' set (captures of one kind, tests). */
  readonly exactEventTypes?: boolean | undefined;
  /**
   * How the loader attaches its syscall exit program (its --attach): "raw"
   * (the loader's default), one tp_btf/sys_exit program that every syscall
   * runs; "tracepoints", one syscalls:sys_exit_<name> per syscall the filter
   * needs, so unwanted ones cost no program run (docs/sensor.md: the
   * trade-off). The loader falls back to raw by itself, saying so on stderr,
   * when tracefs or a tracepoint is missing.
   */
  readonly attach?: SensorAttach | undefined;
  /** Each line the loader writes to stderr (warnings such as the fallback above). */
  onLoaderStderr?: ((line: string) => void) | undefined;
  /** How long stop() waits after SIGTERM before SIGKILL; default 5000. */
  readonly stopTimeoutMs?: number | undefined;
  /** Every decoded event and stats record, in stream order. */
  onRecord(record: DecodedRecord): void;
  /** Raw bytes of every record (valid only during the call), e.g. to write a capture. */
  onRawRecord?: ((buf: Buffer, offset: number, size: number) => void) | undefined;
  /** The loader exited after it had attached (stop() included). */
  onLoaderExit?:
    | ((code: number | null, signal: NodeJS.Signals | null, stderrTail: string) => void)
    | undefined;
  /** The stream broke (framing error: the loader is stopped) or onRecord threw. */
  onError?: ((err: Error) => void) | undefined;
}

export interface Sensor {
  /** The loader's stream header: attached and ready. */
  readonly header: StreamHeader;
  /** The loader's pid. */
  readonly pid: number;
  /** Decoder counters: records, malformed by reason, unknown kinds, framing errors. */
  readonly decoderStats: StreamDecoderStats;
  /** What the kernel sends now (undefined: everything). */
  readonly filter: KernelFilter | undefined;
  /**
   * Changes, at run time, which syscalls the kernel sends: these Falco
   * evt.type names ∪ STATE_EVENT_TYPES (unless exactEventTypes). Returns the
   * filter installed; names the sensor cannot produce are listed in `unknown`.
   */
  setEventTypes(evtTypes: ReadonlySet<string>): KernelFilter;
  /** SIGTERM, then SIGKILL after stopTimeoutMs; resolves once the loader is gone and its output read. */
  stop(): Promise<void>;
}

const STDERR_TAIL_BYTES = 8192;

/** The loader's --attach modes. */
export type SensorAttach = "tracepoints" | "raw";
export const SENSOR_ATTACH_MODES: readonly SensorAttach[] = ["tracepoints", "raw"];

/** bpf/.output/peregrine-loader of this package (from src/sensor or dist/sensor alike). */
export function defaultLoaderPath(): string {
  return fileURLToPath(new URL("../../bpf/.output/peregrine-loader", import.meta.url));
}

/** The loader's command line for the given options. */
export function loaderArgs(
  options: Pick<
    SensorOptions,
    "ignorePids" | "ringbufBytes" | "statsIntervalMs" | "eventTypes" | "exactEventTypes" | "attach"
  >,
): string[] {
  const args = ["--ignore-pid", String(process.pid)];
  for (const pid of options.ignorePids ?? []) {
    if (pid !== process.pid) args.push("--ignore-pid", String(pid));
  }
  if (options.ringbufBytes !== undefined) args.push("--ringbuf-bytes", String(options.ringbufBytes));
  if (options.statsIntervalMs !== undefined)
    args.push("--stats-interval-ms", String(options.statsIntervalMs));
  if (options.eventTypes !== undefined) {
    args.push("--syscalls", kernelFilter(options.eventTypes, options.exactEventTypes !== true).ids.join(","));
  }
  if (options.attach !== undefined) args.push("--attach", options.attach);
  return args;
}

/**
 * Starts the loader. Resolves once its stream header arrived (programs
 * attached); rejects with its stderr if it exits before that.
 */
export function startSensor(options: SensorOptions): Promise<Sensor> {
  const loaderPath = options.loaderPath ?? defaultLoaderPath();
  try {
    accessSync(loaderPath, constants.X_OK);
  } catch {
    return Promise.reject(
      new Error(
        `peregrine-loader not found or not executable at ${loaderPath}: build it with \`make -C bpf\``,
      ),
    );
  }
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  const { onRecord, onError, onLoaderExit } = options;
  const withState = options.exactEventTypes !== true;
  let filter = options.eventTypes === undefined ? undefined : kernelFilter(options.eventTypes, withState);

  return new Promise<Sensor>((resolve, reject) => {
    const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(loaderPath, loaderArgs(options), {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderrTail = "";
    let attached = false;
    let exited = false;
    let sensor: Sensor | undefined;
    const closed = new Promise<void>((done) => child.once("close", () => done()));

    const report = (err: Error): void => {
      if (onError) onError(err);
      // Nobody listens: surface it like any uncaught error, outside the stream's call stack.
      else
        queueMicrotask(() => {
          throw err;
        });
    };

    const decoder = new StreamDecoder({
      onHeader: (header) => {
        attached = true;
        sensor = {
          header,
          pid: child.pid ?? 0,
          get decoderStats() {
            return decoder.stats;
          },
          get filter() {
            return filter;
          },
          setEventTypes(evtTypes) {
            filter = kernelFilter(evtTypes, withState);
            if (!exited && child.stdin.writable) child.stdin.write(filterCommand(filter));
            return filter;
          },
          stop,
        };
        resolve(sensor);
      },
      onRecord: (rec) => {
        try {
          onRecord(rec);
        } catch (err) {
          report(err instanceof Error ? err : new Error(String(err)));
        }
      },
      onRawRecord: options.onRawRecord,
    });

    async function stop(): Promise<void> {
      if (!exited) {
        child.stdin.end();
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeoutMs);
        await closed;
        clearTimeout(timer);
      }
      await closed;
    }

    // An EPIPE on the loader's stdin (filter updates) only means it is gone.
    child.stdin.on("error", () => {});
    child.stderr.setEncoding("utf8");
    const stderrLines = options.onLoaderStderr ? lineSplitter(options.onLoaderStderr) : undefined;
    child.stderr.on("data", (text: string) => {
      stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
      stderrLines?.(text);
    });
    child.stdout.on("data", (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        // Everything after a framing error is untrusted: stop reading, stop the loader.
        child.stdout.removeAllListeners("data");
        child.stdout.resume();
        child.kill("SIGTERM");
        const error = err instanceof Error ? err : new Error(String(err));
        if (attached) report(error);
        else reject(error);
      }
    });
    child.once("error", (err) => {
      exited = true;
      if (!attached) reject(new Error(`cannot start peregrine-loader at ${loaderPath}: ${err.message}`));
      else report(err);
    });
    child.once("close", (code, signal) => {
      exited = true;
      if (!attached) {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new Error(`peregrine-loader ${how} before attaching: ${stderrTail.trim() || "(no stderr)"}`));
        return;
      }
      const alreadyBroken = decoder.stats.framingErrors > 0;
      try {
        decoder.end();
      } catch (err) {
        // E.g. SIGKILL in the middle of a write: the last record is cut.
        if (!alreadyBroken) report(err instanceof Error ? err : new Error(String(err)));
      }
      onLoaderExit?.(code, signal, stderrTail);
    });
  });
}

/** Feeds chunks of text, calls onLine with each complete line (without its newline). */
function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let partial = "";
  return (chunk) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  };
}

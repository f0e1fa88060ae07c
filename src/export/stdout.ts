import type { Detection } from "../rules/detection.js";
import { formatJsonLine, formatTextLine } from "./falco-format.js";
import { BoundedLineWriter, type LineStream } from "./line-writer.js";
import { type DetectionSink, type ExportCounters, NOOP_EXPORT_COUNTERS } from "./sink.js";

/** The `exporter` label of this sink's metrics. */
export const STDOUT_SINK_NAME = "stdout";

export type StdoutFormat = "json" | "text";

/** Text for a person at a terminal, JSON lines for anything else (a pipe, a file, a log shipper). */
export function chooseStdoutFormat(
  forced: StdoutFormat | undefined,
  isTTY: boolean | undefined,
): StdoutFormat {
  return forced ?? (isTTY === true ? "text" : "json");
}

export interface StdoutSinkOptions {
  /** Default process.stdout. */
  stream?: LineStream & { readonly isTTY?: boolean };
  /** Forces a format; default: text on a TTY, JSON lines otherwise. */
  format?: StdoutFormat;
  /** Time zone of the text format's clock (JSON is always UTC). Default "local", like Falco. */
  timeZone?: "local" | "utc";
  counters?: ExportCounters;
  /** Default 4 MiB; see BoundedLineWriter. */
  maxBufferedChars?: number;
  /** How long shutdown() waits for the stream to take what is buffered. Default 2000 ms. */
  shutdownTimeoutMillis?: number;
}

/**
 * Detections on stdout, Falco-style (see falco-format.ts). On a TTY Node
 * writes synchronously, so a terminal that cannot keep up slows the agent:
 * a person watching is the use, and JSON to a pipe is what production reads.
 */
export class StdoutSink implements DetectionSink {
  readonly name = STDOUT_SINK_NAME;
  readonly format: StdoutFormat;
  private readonly writer: BoundedLineWriter;
  private readonly zone: "local" | "utc";
  private readonly shutdownTimeoutMillis: number;

  constructor(options: StdoutSinkOptions = {}) {
    const stream = options.stream ?? process.stdout;
    this.format = chooseStdoutFormat(options.format, stream.isTTY);
    this.zone = options.timeZone ?? "local";
    this.shutdownTimeoutMillis = options.shutdownTimeoutMillis ?? 2000;
    this.writer = new BoundedLineWriter(stream, {
      counters: options.counters ?? NOOP_EXPORT_COUNTERS,
      ...(options.maxBufferedChars === undefined ? {} : { maxBufferedChars: options.maxBufferedChars }),
    });
  }

  /** Lines accepted and not yet handed to the kernel. */
  get queueLength(): number {
    return this.writer.queueLength;
  }

  emit(detection: Detection): void {
    this.writer.write(
      this.format === "json" ? formatJsonLine(detection) : formatTextLine(detection, this.zone),
    );
  }

  shutdown(): Promise<void> {
    return this.writer.close(this.shutdownTimeoutMillis);
  }
}

export function createStdoutSink(options: StdoutSinkOptions = {}): StdoutSink {
  return new StdoutSink(options);
}

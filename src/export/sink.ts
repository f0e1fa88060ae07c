import type { Detection } from "../rules/detection.js";

/**
 * One destination for detections (OTLP, stdout, …).
 *
 * emit() is called on the pipeline's hot path: it must be synchronous and
 * cheap, must never wait on I/O, and must not grow memory without bound — a
 * sink that cannot keep up drops and counts.
 */
export interface DetectionSink {
  /** Low-cardinality name, used as the `exporter` metric label. */
  readonly name: string;
  emit(detection: Detection): void;
  /** Flushes what is queued (within the sink's own time bound), then releases its resources. */
  shutdown(): Promise<void>;
}

/**
 * What an exporter reports about itself; metrics.ts implements it per
 * exporter with the label values already bound, so a call is one add.
 */
export interface ExportCounters {
  /** Records the destination acknowledged. */
  sent(n: number): void;
  /** Records given up on after trying (export error, retries exhausted, sink threw). */
  failed(n: number): void;
  /** Records written to the on-disk spool, to be sent when the destination is back. */
  spooled(n: number): void;
  /** Records lost: queue or spool full, or the sink already shut down. */
  dropped(n: number): void;
  /** Registers where the current queue length (in records) is read from at scrape time. */
  queueLength(read: () => number): void;
  /** Registers where the spool's size (bytes, records) is read from at scrape time. */
  spoolSize(readBytes: () => number, readRecords: () => number): void;
}

/** For sinks built without metrics (tests, tools). */
export const NOOP_EXPORT_COUNTERS: ExportCounters = {
  sent() {},
  failed() {},
  spooled() {},
  dropped() {},
  queueLength() {},
  spoolSize() {},
};

export interface FanOutOptions {
  /** Counters per sink name; a sink whose emit() throws has that record counted as failed. */
  countersFor?: (sinkName: string) => ExportCounters;
  /** Told about each sink failure (e.g. to log it, rate-limited by the caller). */
  onError?: (sinkName: string, error: unknown) => void;
}

/**
 * Sends every detection to every sink. A sink that throws never stops the
 * others and never reaches the pipeline: the record is counted as failed
 * for that sink. shutdown() shuts all sinks down in parallel and resolves
 * once every one has settled.
 */
export class FanOutSink implements DetectionSink {
  readonly name = "fanout";
  private readonly sinks: readonly DetectionSink[];
  private readonly counters: readonly ExportCounters[];
  private readonly onError: (sinkName: string, error: unknown) => void;

  constructor(sinks: readonly DetectionSink[], options: FanOutOptions = {}) {
    this.sinks = [...sinks];
    const countersFor = options.countersFor ?? (() => NOOP_EXPORT_COUNTERS);
    this.counters = this.sinks.map((sink) => countersFor(sink.name));
    this.onError = options.onError ?? (() => {});
  }

  emit(detection: Detection): void {
    for (let i = 0; i < this.sinks.length; i++) {
      const sink = this.sinks[i] as DetectionSink;
      try {
        sink.emit(detection);
      } catch (error) {
        (this.counters[i] as ExportCounters).failed(1);
        this.report(sink.name, error);
      }
    }
  }

  async shutdown(): Promise<void> {
    // Promise.resolve().then: a sink whose shutdown throws synchronously is still isolated.
    const results = await Promise.allSettled(
      this.sinks.map((sink) => Promise.resolve().then(() => sink.shutdown())),
    );
    results.forEach((result, i) => {
      if (result.status === "rejected") this.report((this.sinks[i] as DetectionSink).name, result.reason);
    });
  }

  private report(sinkName: string, error: unknown): void {
    try {
      this.onError(sinkName, error);
    } catch {
      // The error reporter itself must not take the pipeline down either.
    }
  }
}

import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import type { ExportCounters } from "./sink.js";

/**
 * The outermost exporter layer: sees each batch once, when the batch
 * processor hands it over (so the records have left the processor's queue),
 * and once more with the final result after any retries. That makes it the
 * one place to count sent/failed records and to learn the queue has shrunk.
 */
export class CountingLogExporter implements LogRecordExporter {
  private abandoned = false;

  constructor(
    private readonly inner: LogRecordExporter,
    private readonly counters: ExportCounters,
    /** Told how many records left the processor's queue. */
    private readonly onDequeued: (n: number) => void,
  ) {}

  /**
   * From now on, batches are failed at once without being counted or sent:
   * the owner has counted everything still queued as dropped (a shutdown
   * that ran out of time), and must not see those records twice.
   */
  abandon(): void {
    this.abandoned = true;
  }

  export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    if (this.abandoned) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error("exporter abandoned at shutdown") });
      return;
    }
    const n = logs.length;
    this.onDequeued(n);
    let reported = false;
    const report = (result: ExportResult): void => {
      if (reported) return; // an exporter calling back twice must not double-count
      reported = true;
      if (result.code === ExportResultCode.SUCCESS) this.counters.sent(n);
      else this.counters.failed(n);
      resultCallback(result);
    };
    try {
      this.inner.export(logs, report);
    } catch (error) {
      report({
        code: ExportResultCode.FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

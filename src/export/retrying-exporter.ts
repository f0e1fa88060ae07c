import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs";

/**
 * Retries for the OTLP/gRPC log exporter.
 *
 * Why our own: in @opentelemetry/otlp-grpc-exporter-base 0.223 the gRPC
 * transport reports every error as a plain failure, never as "retryable",
 * so the SDK's retrying transport never retries gRPC exports: one collector
 * restart would lose a whole batch. The OTLP specification lists the gRPC
 * codes that are transient; those are retried here with exponential backoff
 * and jitter, within a bounded number of attempts and a bounded total time.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly multiplier: number;
  /** No retry starts later than this after the first attempt began. */
  readonly maxElapsedMs: number;
}

/** The values the OpenTelemetry SDKs use (5 attempts, 1 s doubling by 1.5 up to 5 s). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  initialBackoffMs: 1000,
  maxBackoffMs: 5000,
  multiplier: 1.5,
  maxElapsedMs: 30_000,
};

/**
 * OTLP/gRPC transient failures: CANCELLED, DEADLINE_EXCEEDED, ABORTED,
 * OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS. RESOURCE_EXHAUSTED is retryable only
 * when the server sends RetryInfo, which we do not parse: not retried.
 */
const RETRYABLE_GRPC_CODES: ReadonlySet<number> = new Set([1, 4, 10, 11, 14, 15]);

const JITTER = 0.2;

export function isRetryableExportError(error: unknown): boolean {
  if (typeof error !== "object" || error === null || !("code" in error)) return false;
  const code = (error as { code: unknown }).code;
  return typeof code === "number" && RETRYABLE_GRPC_CODES.has(code);
}

interface PendingRetry {
  timer: NodeJS.Timeout | undefined;
  /** Completes the export with the given result (used to cut retries short at shutdown). */
  giveUp(result: ExportResult): void;
}

export class RetryingLogExporter implements LogRecordExporter {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly waiting = new Set<PendingRetry>();
  private closing = false;
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    private readonly inner: LogRecordExporter,
    private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    private readonly random: () => number = Math.random,
  ) {}

  export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    const started = Date.now();
    let attempt = 0;
    let backoff = this.policy.initialBackoffMs;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    this.inFlight.add(finished);
    let settled = false;
    const settle = (result: ExportResult): void => {
      if (settled) return;
      settled = true;
      this.inFlight.delete(finished);
      done();
      resultCallback(result);
    };

    const tryOnce = (): void => {
      attempt++;
      try {
        this.inner.export(logs, onResult);
      } catch (error) {
        settle({
          code: ExportResultCode.FAILED,
          error: error instanceof Error ? error : new Error(String(error)),
        });
      }
    };
    const onResult = (result: ExportResult): void => {
      const retryable =
        result.code !== ExportResultCode.SUCCESS &&
        !this.closing &&
        attempt < this.policy.maxAttempts &&
        isRetryableExportError(result.error);
      const delay = Math.min(backoff, this.policy.maxBackoffMs) * (1 + (this.random() * 2 - 1) * JITTER);
      if (!retryable || Date.now() + delay - started > this.policy.maxElapsedMs) {
        settle(result);
        return;
      }
      backoff *= this.policy.multiplier;
      const pending: PendingRetry = { timer: undefined, giveUp: settle };
      pending.timer = setTimeout(() => {
        this.waiting.delete(pending);
        tryOnce();
      }, delay);
      this.waiting.add(pending);
    };
    tryOnce();
  }

  /** Waits for every export in progress, retries included, to finish. */
  async forceFlush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    await this.inner.forceFlush();
  }

  /**
   * Retries not yet started are abandoned (reported as failed); then the
   * transport closes. Idempotent: the sink may call it on a shutdown timeout
   * while the batch processor's own shutdown calls it again.
   */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.shutdownOnce();
    return this.shutdownPromise;
  }

  private async shutdownOnce(): Promise<void> {
    this.closing = true;
    for (const pending of this.waiting) {
      clearTimeout(pending.timer);
      pending.giveUp({
        code: ExportResultCode.FAILED,
        error: new Error("exporter shut down before retrying"),
      });
    }
    this.waiting.clear();
    await Promise.all([...this.inFlight]);
    await this.inner.shutdown();
  }
}

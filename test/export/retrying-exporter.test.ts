import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { describe, expect, it } from "vitest";
import { isRetryableExportError, RetryingLogExporter } from "../../src/export/retrying-exporter.js";

/** A transport that answers from a script: one result per attempt. */
function scripted(results: ExportResult[]): LogRecordExporter & { attempts: number } {
  return {
    attempts: 0,
    export(_logs, cb) {
      const result = results[this.attempts++] ?? { code: ExportResultCode.SUCCESS };
      setImmediate(() => cb(result));
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
}

const unavailable: ExportResult = {
  code: ExportResultCode.FAILED,
  error: Object.assign(new Error("down"), { code: 14 }),
};
const policy = { maxAttempts: 4, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, maxElapsedMs: 5000 };

function exportOnce(exporter: LogRecordExporter): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export([] as ReadableLogRecord[], resolve));
}

describe("RetryingLogExporter", () => {
  it("tells transient gRPC codes from permanent ones", () => {
    for (const code of [1, 4, 10, 11, 14, 15]) expect(isRetryableExportError({ code })).toBe(true);
    for (const code of [0, 2, 3, 5, 7, 8, 12, 13, 16]) expect(isRetryableExportError({ code })).toBe(false);
    expect(isRetryableExportError(new Error("Concurrent export limit reached"))).toBe(false);
    expect(isRetryableExportError(undefined)).toBe(false);
  });

  it("retries until success, within the attempt limit", async () => {
    const transport = scripted([unavailable, unavailable]);
    const result = await exportOnce(new RetryingLogExporter(transport, policy));
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(transport.attempts).toBe(3);
  });

  it("gives up after maxAttempts", async () => {
    const transport = scripted(Array(10).fill(unavailable));
    const result = await exportOnce(new RetryingLogExporter(transport, policy));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(transport.attempts).toBe(4);
  });

  it("gives up when the next wait would pass the time budget", async () => {
    const transport = scripted(Array(10).fill(unavailable));
    const slow = { ...policy, initialBackoffMs: 1000, maxBackoffMs: 1000, maxElapsedMs: 500 };
    const result = await exportOnce(new RetryingLogExporter(transport, slow));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(transport.attempts).toBe(1);
  });

  it("abandons waiting retries at shutdown, reporting them failed, and flush waits for none left", async () => {
    const transport = scripted(Array(10).fill(unavailable));
    const exporter = new RetryingLogExporter(transport, {
      ...policy,
      initialBackoffMs: 60_000,
      maxBackoffMs: 60_000,
      maxElapsedMs: 120_000,
    });
    const pending = exportOnce(exporter);
    await new Promise((resolve) => setTimeout(resolve, 20)); // first attempt failed, retry scheduled in 60 s
    const started = Date.now();
    await exporter.shutdown();
    const result = await pending;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(transport.attempts).toBe(1);
    await exporter.forceFlush();
  });
});

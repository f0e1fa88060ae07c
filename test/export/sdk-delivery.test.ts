/**
 * The durable processor and the export-outcome rules on their own, with an
 * SDK LogRecordExporter of the test's (what the real OTLP exporters hand
 * back is covered over the wire in otlp-logs.test.ts and otlp-tls.test.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { diag } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { LoggerProvider, type LogRecordExporter, type ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { afterEach, describe, expect, it } from "vitest";
import {
  classifyExportError,
  createOtlpExporter,
  exportRecords,
  forwardSdkDiagnostics,
  type OtlpExporter,
} from "../../src/export/otlp-exporter.js";
import { DurableLogRecordProcessor } from "../../src/export/sdk-delivery.js";
import { Spool } from "../../src/export/spool.js";
import type { SpoolEntry } from "../../src/export/spool-codec.js";
import { statusWithRetryInfo } from "../support/otlp-receiver.js";
import { recordingCounters } from "../support/recording-counters.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function grpcError(code: number, trailer?: Buffer): Error {
  const metadata = new grpc.Metadata();
  if (trailer !== undefined) metadata.set("grpc-status-details-bin", trailer);
  return Object.assign(new Error(`${code}`), { code, details: "from the test", metadata });
}

describe("what a failed export comes to", () => {
  it("gRPC: OTLP's transient codes retry, RESOURCE_EXHAUSTED only with RetryInfo (its delay kept), the rest fail", () => {
    expect(classifyExportError("grpc", grpcError(14))).toMatchObject({
      kind: "retry",
      retryAfterMs: undefined,
    });
    expect(classifyExportError("grpc", grpcError(4))).toMatchObject({ kind: "retry" });
    expect(classifyExportError("grpc", grpcError(3))).toMatchObject({ kind: "fail" });
    expect(classifyExportError("grpc", grpcError(8))).toMatchObject({ kind: "fail" });
    expect(classifyExportError("grpc", grpcError(8, statusWithRetryInfo(8, "slow down", 1500)))).toEqual({
      kind: "retry",
      retryAfterMs: 1500,
      error: "gRPC RESOURCE_EXHAUSTED: from the test",
    });
    // A trailer that is not a google.rpc.Status is no hint.
    expect(classifyExportError("grpc", grpcError(8, Buffer.from([0xff, 0xff])))).toMatchObject({
      kind: "fail",
    });
  });

  it("HTTP: a status the exporter did not retry fails; retries used up, refused or TLS-failed connections retry", () => {
    const rejected = Object.assign(new Error("Bad Request"), { code: 400, data: "bad protobuf" });
    expect(classifyExportError("http/protobuf", rejected)).toEqual({
      kind: "fail",
      error: "HTTP 400 Bad Request: bad protobuf",
    });
    expect(
      classifyExportError("http/protobuf", new Error("Export failed with retryable status")),
    ).toMatchObject({
      kind: "retry",
    });
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(classifyExportError("http/protobuf", refused)).toMatchObject({ kind: "retry" });
  });
});

/** An SDK exporter whose answers the test decides; it remembers every record it was given. */
class ScriptedExporter implements LogRecordExporter {
  readonly received: string[] = [];
  calls = 0;
  constructor(private readonly answer: (call: number) => ExportResult | "hang") {}
  export(records: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    const answer = this.answer(this.calls++);
    if (answer === "hang") return;
    if (answer.code === ExportResultCode.SUCCESS) for (const r of records) this.received.push(String(r.body));
    setTimeout(() => done(answer), 1);
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

const OK: ExportResult = { code: ExportResultCode.SUCCESS };
const UNAVAILABLE: ExportResult = { code: ExportResultCode.FAILED, error: grpcError(14) };

function setup(
  exporter: LogRecordExporter,
  options: { spoolDir?: string; shutdownTimeoutMillis?: number } = {},
) {
  const counters = recordingCounters();
  const target: OtlpExporter = { protocol: "grpc", endpoint: "test", exporter };
  const spool =
    options.spoolDir === undefined ? undefined : Spool.open({ dir: options.spoolDir, maxBytes: 1 << 20 });
  const processor = new DurableLogRecordProcessor({
    exporter: target,
    spool,
    counters,
    maxQueueSize: 8,
    maxBatchSize: 4,
    scheduledDelayMillis: 5,
    backoff: { initialMs: 10, maxMs: 20 },
    shutdownTimeoutMillis: options.shutdownTimeoutMillis ?? 500,
  });
  cleanups.push(() => processor.shutdown());
  const logger = new LoggerProvider({
    resource: resourceFromAttributes({ "service.name": "t" }),
    processors: [processor],
  }).getLogger("peregrine", "1");
  const emit = (n: number) => {
    for (let i = 0; i < n; i++) logger.emit({ body: `r${i}`, severityNumber: 13 });
  };
  return { processor, counters, emit, spool };
}

describe("DurableLogRecordProcessor", () => {
  it("delivers in order through the SDK exporter, retrying transient failures", async () => {
    const exporter = new ScriptedExporter((call) => (call < 2 ? UNAVAILABLE : OK));
    const { processor, counters, emit } = setup(exporter);
    emit(6);
    await new Promise((r) => setTimeout(r, 300));
    await processor.forceFlush();
    expect(exporter.received).toEqual(["r0", "r1", "r2", "r3", "r4", "r5"]);
    expect(counters.totals).toEqual({ sent: 6, failed: 0, spooled: 0, dropped: 0 });
  });

  it("without a spool, resends the batches that failed one request at a time, in order, then two at once again", async () => {
    let outstanding = 0;
    const concurrency: number[] = [];
    const received: string[] = [];
    const exporter: LogRecordExporter = {
      export(records, done) {
        const call = concurrency.length;
        concurrency.push(outstanding++);
        setTimeout(() => {
          outstanding--;
          if (call < 2) return done(UNAVAILABLE);
          for (const r of records) received.push(String(r.body));
          done(OK);
        }, 5);
      },
      shutdown: async () => {},
      forceFlush: async () => {},
    };
    const { processor, counters, emit } = setup(exporter);
    emit(8); // two batches of four, both on the wire, both failing
    await new Promise((r) => setTimeout(r, 200));
    emit(8);
    await processor.forceFlush();
    await new Promise((r) => setTimeout(r, 100));
    await processor.forceFlush();
    expect(received).toEqual([...Array(8).keys(), ...Array(8).keys()].map((i) => `r${i}`));
    expect(counters.totals).toEqual({ sent: 16, failed: 0, spooled: 0, dropped: 0 });
    // Calls 0 and 1 went out together; the two resends (calls 2 and 3) each alone; then two at once again.
    expect(concurrency.slice(0, 4)).toEqual([0, 1, 0, 0]);
    expect(concurrency.slice(4)).toEqual([0, 1]);
  });

  it("counts a batch the collector refused for good as failed, and goes on", async () => {
    const exporter = new ScriptedExporter((call) =>
      call === 0 ? { code: ExportResultCode.FAILED, error: grpcError(3) } : OK,
    );
    const { processor, counters, emit } = setup(exporter);
    emit(4);
    await processor.forceFlush();
    emit(2);
    await processor.forceFlush();
    expect(counters.totals).toEqual({ sent: 2, failed: 4, spooled: 0, dropped: 0 });
    expect(exporter.received).toEqual(["r0", "r1"]);
  });

  it("at shutdown, spools what a collector that never answers still holds, and a restart delivers it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-sdk-delivery-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = setup(new ScriptedExporter(() => "hang"), { spoolDir: dir, shutdownTimeoutMillis: 100 });
    first.emit(6);
    await new Promise((r) => setTimeout(r, 50));
    await first.processor.shutdown();
    expect(first.counters.totals).toEqual({ sent: 0, failed: 0, spooled: 6, dropped: 0 });
    const exporter = new ScriptedExporter(() => OK);
    const second = setup(exporter, { spoolDir: dir });
    await new Promise((r) => setTimeout(r, 100));
    await second.processor.forceFlush();
    expect(exporter.received).toEqual(["r0", "r1", "r2", "r3", "r4", "r5"]);
    expect(second.counters.totals).toEqual({ sent: 6, failed: 0, spooled: 0, dropped: 0 });
    expect(second.spool?.records).toBe(0);
  });

  it("without a spool, counts as dropped what is left when shutdown times out, and what arrives after it", async () => {
    const { processor, counters, emit } = setup(new ScriptedExporter(() => "hang"), {
      shutdownTimeoutMillis: 50,
    });
    emit(10); // 8 fit in memory, 2 over the bound
    await new Promise((r) => setTimeout(r, 30));
    await processor.shutdown();
    emit(1);
    expect(counters.totals).toEqual({ sent: 0, failed: 0, spooled: 0, dropped: 11 });
  });

  it("renews the exporter while the collector stays away (a fresh gRPC connection), not before", async () => {
    const exporters: ScriptedExporter[] = [];
    const make = () => {
      const e = new ScriptedExporter(() => UNAVAILABLE);
      exporters.push(e);
      return e;
    };
    const target: OtlpExporter & { exporter: LogRecordExporter } = {
      protocol: "grpc",
      endpoint: "test",
      exporter: make(),
      renew() {
        target.exporter = make();
      },
    };
    const processor = new DurableLogRecordProcessor({
      exporter: target,
      spool: undefined,
      counters: recordingCounters(),
      scheduledDelayMillis: 1,
      backoff: { initialMs: 10, maxMs: 10, jitter: 0 },
      renewAfterMillis: 150,
      shutdownTimeoutMillis: 50,
    });
    cleanups.push(() => processor.shutdown());
    const logger = new LoggerProvider({ processors: [processor] }).getLogger("peregrine");
    logger.emit({ body: "x" });
    await new Promise((r) => setTimeout(r, 100));
    expect(exporters).toHaveLength(1); // failing for less than 150 ms: same exporter
    await new Promise((r) => setTimeout(r, 400));
    expect(exporters.length).toBeGreaterThanOrEqual(3);
    expect(exporters.length).toBeLessThanOrEqual(5);
    // Each renewed exporter was used: requests keep going to the current one (the newest may not have had its turn yet).
    expect(exporters.slice(0, -1).every((e) => e.calls > 0)).toBe(true);
  });

  it("counts a spooled record it cannot read back as failed, once, even when the collector fails in between", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-sdk-delivery-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // A run that spooled three records, one of them damaged past its CRC (not JSON).
    const first = setup(new ScriptedExporter(() => "hang"), { spoolDir: dir, shutdownTimeoutMillis: 50 });
    first.emit(2);
    await first.processor.shutdown();
    const spool = Spool.open({ dir, maxBytes: 1 << 20 });
    const head = spool.readHead()?.entries[0];
    spool.append([
      { resource: head?.resource as SpoolEntry["resource"], severity: 13, record: Buffer.from("{oops") },
    ]);
    spool.close();
    const exporter = new ScriptedExporter((call) => (call === 0 ? UNAVAILABLE : OK));
    const second = setup(exporter, { spoolDir: dir });
    await new Promise((r) => setTimeout(r, 150));
    await second.processor.forceFlush();
    expect(exporter.received).toEqual(["r0", "r1"]);
    expect(second.counters.totals).toEqual({ sent: 2, failed: 1, spooled: 0, dropped: 0 });
  });
});

describe("the SDK's own diagnostics", () => {
  it("reach our log, and a collector's partial success (which the exporter calls success) comes back with the rejected count", async () => {
    // ExportLogsServiceResponse{partial_success{rejected_log_records: 2, error_message: "too old"}}
    const inner = Buffer.concat([Buffer.from([0x08, 0x02, 0x12, 0x07]), Buffer.from("too old")]);
    const response = Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
    const server = new grpc.Server();
    server.addService(
      {
        Export: {
          path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      { Export: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, response) },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    cleanups.push(() => {
      server.forceShutdown();
    });
    const logged: string[] = [];
    forwardSdkDiagnostics((m) => logged.push(m));
    cleanups.push(() => diag.disable());
    const target = createOtlpExporter({
      endpoint: `http://127.0.0.1:${port}`,
      protocol: "grpc",
      headers: {},
      compression: "none",
      timeoutMillis: 2000,
      certificateFile: "",
      clientKeyFile: "",
      clientCertificateFile: "",
      insecure: false,
    });
    cleanups.push(() => target.exporter.shutdown());
    const records = (() => {
      const made: ReadableLogRecord[] = [];
      const logger = new LoggerProvider({
        processors: [{ onEmit: (r) => made.push(r), forceFlush: async () => {}, shutdown: async () => {} }],
      }).getLogger("peregrine");
      for (let i = 0; i < 3; i++) logger.emit({ body: `x${i}` });
      return made;
    })();
    expect(await exportRecords(target, records)).toEqual({
      kind: "ok",
      rejected: 2,
      rejectedReason: "too old",
    });
    expect(logged.join("\n")).toMatch(
      /OpenTelemetry SDK warning: Received Partial Success response:.*too old/,
    );
  });
});

/**
 * The export worker pool on its own, against the real gRPC test receiver:
 * batches of DetectionRecords made into SDK records and sent in worker
 * threads, spread over the workers, and what happens when a worker dies.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DetectionRecord } from "../../src/export/detection-record.js";
import { makeOrigin } from "../../src/export/detection-record.js";
import { ExportWorkerPool } from "../../src/export/export-workers.js";
import type { TransportOptions } from "../../src/export/otlp-exporter.js";
import { packBatch } from "../../src/export/packed-batch.js";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp-receiver.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function grpcTo(endpoint: string): TransportOptions {
  return {
    endpoint,
    protocol: "grpc",
    headers: {},
    compression: "none",
    timeoutMillis: 5000,
    certificateFile: "",
    clientKeyFile: "",
    clientCertificateFile: "",
    insecure: false,
  };
}

async function receiver(): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver();
  cleanups.push(() => r.close());
  return r;
}

function pool(endpoint: string, workers: number, extra: { maxOldGenerationSizeMb?: number } = {}) {
  const logs: string[] = [];
  const p = new ExportWorkerPool({
    transport: grpcTo(endpoint),
    workers,
    concurrencyLimit: 4,
    limits: { attributeCountLimit: 128, attributeValueLengthLimit: 8192 },
    onLog: (m) => logs.push(m),
    ...(extra.maxOldGenerationSizeMb !== undefined && {
      resourceLimits: { maxOldGenerationSizeMb: extra.maxOldGenerationSizeMb },
    }),
  });
  cleanups.push(() => p.shutdown());
  return { pool: p, logs };
}

const ORIGIN = makeOrigin({ "service.name": "checkout", "host.name": "h" }, "peregrine", "0.1.0");
const RULE = { "security_rule.name": "r", "peregrine.rule.tags": ["a", "b"] };

function records(from: number, n: number, body = (i: number) => `detection ${i}`): DetectionRecord[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      origin: ORIGIN,
      timeNs: 1_795_887_724_118_456_789n + BigInt(i),
      observedNs: 1_795_887_725_000_000_001n,
      severityNumber: 13,
      severityText: "Warning",
      body: body(i),
      eventName: "peregrine.detection",
      attributes: [RULE, { "process.pid": 4242 }, { "peregrine.field.n": i }],
    };
  });
}

describe("export worker pool", () => {
  it("makes SDK records from the layers and sends them, exact to the nanosecond, spreading batches over its workers", async () => {
    const r = await receiver();
    const { pool: p } = pool(r.url, 2);
    await p.ready;
    expect(p.running).toBe(2);
    const outcomes = await Promise.all([p.send(records(0, 3)), p.send(records(3, 3))]);
    expect(outcomes).toEqual([{ kind: "ok" }, { kind: "ok" }]);
    await r.waitForCount(6);
    const first = r.records.find((l) => l.attributes["peregrine.field.n"] === 0n);
    expect(first).toMatchObject({
      resource: { "service.name": "checkout", "host.name": "h" },
      scope: { name: "peregrine", version: "0.1.0" },
      body: "detection 0",
      timeUnixNano: 1_795_887_724_118_456_789n,
      observedTimeUnixNano: 1_795_887_725_000_000_001n,
      severityNumber: 13,
      severityText: "Warning",
      eventName: "peregrine.detection",
      attributes: {
        "security_rule.name": "r",
        "peregrine.rule.tags": ["a", "b"],
        "process.pid": 4242n,
        "peregrine.field.n": 0n,
      },
    });
    // Two requests, one per worker (each worker has its own connection, and so its own user agent generation 0).
    expect(r.requests).toBe(2);
  });

  it("a worker that dies fails its batch as transient (to be retried), and another takes the next batch", async () => {
    const r = await receiver();
    // A heap cap the worker runs within, and a batch far over it.
    const { pool: p, logs } = pool(r.url, 1, { maxOldGenerationSizeMb: 24 });
    await p.ready;
    const huge = records(0, 64, (i) => `${i}:${"x".repeat(1 << 20)}`);
    const outcome = await p.send(huge);
    expect(outcome).toMatchObject({ kind: "retry", error: expect.stringMatching(/export worker stopped/) });
    expect(logs.join("\n")).toMatch(/OTLP export worker stopped/);
    expect(await p.send(records(0, 2))).toEqual({ kind: "ok" });
    await r.waitForCount(2);
    expect(p.running).toBe(1);
  });

  it("sends a batch that columns cannot carry (a time below 0 ns) as objects, every record made", async () => {
    const r = await receiver();
    const { pool: p } = pool(r.url, 1);
    await p.ready;
    const batch = records(0, 3);
    batch[1] = { ...(batch[1] as DetectionRecord), timeNs: -1n };
    expect(packBatch(batch)).toBeUndefined();
    expect(await p.send(batch)).toEqual({ kind: "ok" });
    await r.waitForCount(3);
    expect(r.records.map((l) => l.body)).toEqual(["detection 0", "detection 1", "detection 2"]);
    expect(r.records[2]).toMatchObject({
      timeUnixNano: 1_795_887_724_118_456_791n,
      attributes: { "security_rule.name": "r", "process.pid": 4242n, "peregrine.field.n": 2n },
    });
  });
});

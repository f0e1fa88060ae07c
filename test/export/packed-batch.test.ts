/**
 * Batches in columns (packed-batch.ts), the form a batch crosses to an
 * export worker in: after a structured clone, the SDK records made from the
 * columns (with their key sequences laid down as V8 hidden classes, or not
 * yet) must serialize to the very bytes of plain SDK use on the objects.
 */
import { deserialize, serialize } from "node:v8";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { LogBody } from "@opentelemetry/api-logs";
import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { LoggerProvider, type LogRecordProcessor, type ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { describe, expect, it } from "vitest";
import { type DetectionRecord, makeOrigin } from "../../src/export/detection-record.js";
import { LOG_RECORD_LIMITS } from "../../src/export/otlp-logs.js";
import { type PackedBatch, packBatch, unpackBatch } from "../../src/export/packed-batch.js";
import { SdkRecordMaker } from "../../src/export/sdk-records.js";
import { nsToHrTime } from "../../src/export/time.js";

const CHECKOUT = makeOrigin({ "service.name": "checkout", "host.name": "h" }, "peregrine", "0.1.0");
const SENSOR = makeOrigin(
  { "service.name": "peregrine", "host.name": "h" },
  "peregrine",
  "0.1.0",
  "https://x/1",
);
const RULE = { "security_rule.name": "r", "peregrine.rule.tags": ["a", "b"] };
const PROCESS = { "process.pid": 4242, "process.command_args": ["cat", "/etc/shadow"], "user.id": "1000" };

/** Records of several shapes: three layers, one flat layer (as drained from the spool), none, optional fields left out. */
function mixed(): DetectionRecord[] {
  const out: DetectionRecord[] = [];
  for (let i = 0; i < 40; i++) {
    const own: Record<string, unknown> = { "peregrine.detection.id": `id-${i}`, "peregrine.field.n": i };
    if (i % 3 === 0) own["file.path"] = `/etc/f${i}`;
    if (i % 5 === 0) own["peregrine.field.map"] = { a: 1, b: [true, 2.5, "x"] };
    if (i % 7 === 0) own.bytes = new Uint8Array([1, 2, i]);
    out.push({
      origin: i % 4 === 0 ? SENSOR : CHECKOUT,
      timeNs: 1_795_887_724_118_456_789n + BigInt(i),
      observedNs: 1_795_887_725_000_000_001n + BigInt(i * 1000),
      ...(i % 6 !== 0 && { severityNumber: 13, severityText: "Warning" }),
      ...(i % 8 !== 0 && { body: i % 9 === 0 ? { kv: "body as a map" } : `detection ${i}` }),
      ...(i % 10 !== 0 && { eventName: "peregrine.detection" }),
      attributes:
        i % 11 === 0
          ? [{ ...RULE, ...PROCESS, ...own }]
          : i % 13 === 0
            ? [RULE, own]
            : ([RULE, PROCESS, own] as DetectionRecord["attributes"]),
    } as DetectionRecord);
  }
  return out;
}

const bytesOf = (records: ReturnType<SdkRecordMaker["make"]>) =>
  Buffer.from(ProtobufLogsSerializer.serializeRequest(records) ?? new Uint8Array());

/** The records as plain SDK use makes them: a LoggerProvider per origin, emit() with all layers merged. */
function plainSdkRecords(batch: readonly DetectionRecord[]): ReadableLogRecord[] {
  const out: ReadableLogRecord[] = [];
  const collect: LogRecordProcessor = {
    onEmit: (r) => void out.push(r),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const loggers = new Map<string, ReturnType<LoggerProvider["getLogger"]>>();
  for (const r of batch) {
    let logger = loggers.get(r.origin.key);
    if (logger === undefined) {
      logger = new LoggerProvider({
        resource: resourceFromAttributes(
          r.origin.resource as Parameters<typeof resourceFromAttributes>[0],
          r.origin.schemaUrl !== undefined ? { schemaUrl: r.origin.schemaUrl } : undefined,
        ),
        processors: [collect],
        logRecordLimits: LOG_RECORD_LIMITS,
      }).getLogger(r.origin.scopeName, r.origin.scopeVersion);
      loggers.set(r.origin.key, logger);
    }
    logger.emit({
      timestamp: nsToHrTime(r.timeNs),
      observedTimestamp: nsToHrTime(r.observedNs),
      context: ROOT_CONTEXT,
      ...(r.severityNumber !== undefined && { severityNumber: r.severityNumber }),
      ...(r.severityText !== undefined && { severityText: r.severityText }),
      ...(r.body !== undefined && { body: r.body as LogBody }),
      ...(r.eventName !== undefined && { eventName: r.eventName }),
      attributes: Object.assign({}, ...r.attributes),
    });
  }
  return out;
}

describe("packed batches", () => {
  it("make the same SDK records, byte for byte, as plain SDK use makes from the objects, after a structured clone", () => {
    const batch = mixed();
    const packed = packBatch(batch);
    expect(packed).toBeDefined();
    const cloned = deserialize(serialize(packed)) as PackedBatch;
    const expected = bytesOf(plainSdkRecords(batch));
    const maker = new SdkRecordMaker(LOG_RECORD_LIMITS);
    // Twice: the second time with the records' key sequences laid down (attribute-shapes.ts).
    expect(bytesOf(maker.makePacked(cloned)).equals(expected)).toBe(true);
    expect(maker.shapes).toBeGreaterThan(0);
    const again = bytesOf(maker.makePacked(deserialize(serialize(packed)) as PackedBatch));
    expect(again.length).toBeGreaterThan(1000);
    expect(again.equals(expected)).toBe(true);
    // make() from the objects: the same (it packs them first).
    expect(bytesOf(maker.make(batch)).equals(expected)).toBe(true);
    // And back to records: the same data (an empty last layer stands for none).
    expect(unpackBatch(cloned)).toEqual(batch);
  });

  it("shares the key list of records of one shape, so a message carries it once", () => {
    const batch = mixed().filter((r) => r.attributes.length === 3);
    const packed = packBatch(batch) as PackedBatch;
    const distinct = new Set(packed.lastKeys);
    const shapes = new Set(batch.map((r) => Object.keys(r.attributes[2] ?? {}).join("\n")));
    expect(distinct.size).toBe(shapes.size);
    expect(packed.layers.filter((l) => l === RULE)).toHaveLength(batch.length);
  });

  it("declines a batch with a time columns cannot hold exactly (it goes as objects)", () => {
    const [first] = mixed() as [DetectionRecord];
    expect(packBatch([{ ...first, timeNs: -1n }])).toBeUndefined();
    expect(packBatch([{ ...first, observedNs: 1n << 64n }])).toBeUndefined();
    expect(packBatch([{ ...first, timeNs: (1n << 64n) - 1n }])).toBeDefined();
    expect(packBatch([])).toEqual(expect.objectContaining({ origins: [], lastValues: [] }));
  });
});

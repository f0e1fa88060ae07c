/**
 * Batches in columns (packed-batch.ts), the form a batch crosses to an
 * export worker in: after a structured clone, the SDK records made from the
 * columns must serialize to the very bytes of those made from the objects.
 */
import { deserialize, serialize } from "node:v8";
import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { describe, expect, it } from "vitest";
import { type DetectionRecord, makeOrigin } from "../../src/export/detection-record.js";
import { LOG_RECORD_LIMITS } from "../../src/export/otlp-logs.js";
import { type PackedBatch, packBatch, unpackBatch } from "../../src/export/packed-batch.js";
import { SdkRecordMaker } from "../../src/export/sdk-records.js";

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

describe("packed batches", () => {
  it("make the same SDK records, byte for byte, as the objects they were packed from, after a structured clone", () => {
    const batch = mixed();
    const packed = packBatch(batch);
    expect(packed).toBeDefined();
    const cloned = deserialize(serialize(packed)) as PackedBatch;
    const fromObjects = new SdkRecordMaker(LOG_RECORD_LIMITS);
    const fromColumns = new SdkRecordMaker(LOG_RECORD_LIMITS);
    const expected = bytesOf(fromObjects.make(deserialize(serialize(batch))));
    const actual = bytesOf(fromColumns.makePacked(cloned));
    expect(actual.length).toBeGreaterThan(1000);
    expect(actual.equals(expected)).toBe(true);
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

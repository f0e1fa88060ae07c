import { resourceFromAttributes } from "@opentelemetry/resources";
import { LoggerProvider, type LogRecordProcessor, type ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { describe, expect, it } from "vitest";
import { type DetectionRecord, makeOrigin } from "../../src/export/detection-record.js";
import {
  detectionFromSpoolEntry,
  detectionToSpoolEntry,
  fromSpoolEntry,
  type SpoolEntry,
  toSpoolEntry,
} from "../../src/export/spool-codec.js";
import { nsToHrTime } from "../../src/export/time.js";

/** Records as the OTLP sink makes them: through a LoggerProvider, caught by a processor. */
function sdkRecords(emit: (provider: LoggerProvider) => void): ReadableLogRecord[] {
  const records: ReadableLogRecord[] = [];
  const catcher: LogRecordProcessor = {
    onEmit: (r) => records.push(r),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ "service.name": "checkout", "host.name": "h" }),
    processors: [catcher],
  });
  emit(provider);
  return records;
}

const TS = 1_795_887_724_118_456_789n; // nanoseconds a double cannot hold
const OBSERVED = 1_795_887_725_000_000_001n;

describe("spool codec", () => {
  it("rebuilds a record exactly: times to the nanosecond, severity, body, event name, typed attributes, resource and scope", () => {
    const [original] = sdkRecords((p) =>
      p.getLogger("peregrine", "0.1.0").emit({
        eventName: "peregrine.detection",
        timestamp: nsToHrTime(TS),
        observedTimestamp: nsToHrTime(OBSERVED),
        severityNumber: 13,
        severityText: "Warning",
        body: "cat read /etc/shadow",
        attributes: {
          "process.pid": 4242,
          "process.interactive": false,
          "process.command_args": ["cat", "/etc/shadow"],
          "peregrine.field.evt.res": null,
          "peregrine.field.ratio": 0.25,
          "peregrine.field.big": "18446744073709551615",
        },
      }),
    );
    const entry = toSpoolEntry(original as ReadableLogRecord);
    expect(entry.severity).toBe(13);
    // What goes to disk is bytes: copy them, as reading a segment back does.
    const fromDisk: SpoolEntry = {
      resource: { resource: Buffer.from(entry.resource.resource), scope: Buffer.from(entry.resource.scope) },
      severity: entry.severity,
      record: Buffer.from(entry.record),
    };
    const back = fromSpoolEntry(fromDisk);
    expect(back.hrTime).toEqual(nsToHrTime(TS));
    expect(back.hrTimeObserved).toEqual(nsToHrTime(OBSERVED));
    expect(back.severityNumber).toBe(13);
    expect(back.severityText).toBe("Warning");
    expect(back.body).toBe("cat read /etc/shadow");
    expect(back.eventName).toBe("peregrine.detection");
    expect(back.attributes).toEqual(original?.attributes);
    expect(back.droppedAttributesCount).toBe(0);
    expect(back.resource.attributes).toEqual({ "service.name": "checkout", "host.name": "h" });
    expect(back.instrumentationScope).toEqual({ name: "peregrine", version: "0.1.0" });
  });

  it("shares one resource and scope object among the records of a group (one ResourceLogs per request)", () => {
    const records = sdkRecords((p) => {
      const logger = p.getLogger("peregrine", "1");
      for (let i = 0; i < 3; i++) logger.emit({ body: `r${i}`, severityNumber: 9 });
    });
    const entries = records.map(toSpoolEntry);
    expect(new Set(entries.map((e) => e.resource)).size).toBe(1);
    const back = entries.map(fromSpoolEntry);
    expect(new Set(back.map((r) => r.resource)).size).toBe(1);
    expect(new Set(back.map((r) => r.instrumentationScope)).size).toBe(1);
    expect(back.map((r) => r.body)).toEqual(["r0", "r1", "r2"]);
  });

  it("refuses bytes that are not a spooled record, saying what is wrong", () => {
    const [record] = sdkRecords((p) => p.getLogger("peregrine").emit({ body: "x" }));
    const entry = toSpoolEntry(record as ReadableLogRecord);
    expect(() =>
      fromSpoolEntry({ ...entry, record: Buffer.from('{"time":"12.5","observed":"1","attributes":{}}') }),
    ).toThrow(/time is not a decimal count of nanoseconds/);
    expect(() => fromSpoolEntry({ ...entry, record: Buffer.from("[1,2]") })).toThrow(/not a JSON object/);
    expect(() => fromSpoolEntry({ ...entry, record: Buffer.from('{"time":"1","observed":"1"}') })).toThrow(
      /no attributes object/,
    );
  });
});

describe("spool codec for DetectionRecords (the OTLP sink's records before the SDK makes them)", () => {
  const origin = makeOrigin({ "service.name": "checkout", "host.name": "h" }, "peregrine", "0.1.0");
  const rule = { "security_rule.name": "r", "peregrine.rule.tags": ["a"] };
  const record = (n: number): DetectionRecord => ({
    origin,
    timeNs: TS + BigInt(n),
    observedNs: OBSERVED,
    severityNumber: 13,
    severityText: "Warning",
    body: `r${n}`,
    eventName: "peregrine.detection",
    attributes: [rule, { "process.pid": 4242, "process.interactive": false }, { "peregrine.field.n": n }],
  });
  const fromDisk = (entry: SpoolEntry): SpoolEntry => ({
    resource: { resource: Buffer.from(entry.resource.resource), scope: Buffer.from(entry.resource.scope) },
    severity: entry.severity,
    record: Buffer.from(entry.record),
  });

  it("rebuilds a record exactly, its layers as one object, and one origin per group with the same key", () => {
    const entries = [record(0), record(1)].map(detectionToSpoolEntry);
    expect(entries[0]?.resource).toBe(entries[1]?.resource); // one group per origin
    expect(entries[0]?.severity).toBe(13);
    const group = fromDisk(entries[0] as SpoolEntry).resource;
    const back = entries.map((e) => detectionFromSpoolEntry({ ...fromDisk(e), resource: group }));
    expect(back[0]).toEqual({
      origin,
      timeNs: TS,
      observedNs: OBSERVED,
      severityNumber: 13,
      severityText: "Warning",
      body: "r0",
      eventName: "peregrine.detection",
      attributes: [
        {
          "security_rule.name": "r",
          "peregrine.rule.tags": ["a"],
          "process.pid": 4242,
          "process.interactive": false,
          "peregrine.field.n": 0,
        },
      ],
    });
    expect(back[1]?.timeNs).toBe(TS + 1n);
    expect(back[0]?.origin).toBe(back[1]?.origin);
    expect(back[0]?.origin.key).toBe(origin.key);
  });

  it("refuses bytes that are not a spooled record, saying what is wrong", () => {
    const entry = detectionToSpoolEntry(record(0));
    expect(() =>
      detectionFromSpoolEntry({
        ...entry,
        record: Buffer.from('{"time":"-1","observed":"1","attributes":{}}'),
      }),
    ).toThrow(/time is not a decimal count of nanoseconds/);
    expect(() =>
      detectionFromSpoolEntry({ ...entry, record: Buffer.from('{"time":"1","observed":"1"}') }),
    ).toThrow(/no attributes object/);
  });
});

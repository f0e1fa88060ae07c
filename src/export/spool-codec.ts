/**
 * SDK log records ↔ the spool's self-describing form. The spool stores
 * bytes (spool.ts frames them, CRC-checks them and bounds them); this says
 * what the bytes are:
 *
 *   resource: JSON {"attributes": {…}, "schemaUrl"?: "…"}
 *   scope:    JSON {"name": "…", "version"?: "…", "schemaUrl"?: "…"}
 *   record:   JSON {"time": "<epoch ns>", "observed": "<epoch ns>",
 *                   "severityNumber"?: n, "severityText"?: "…", "body"?: …,
 *                   "eventName"?: "…", "attributes": {…}, "dropped": n}
 *
 * Times are decimal strings of nanoseconds (a JSON number would lose them).
 * Attribute values are what detections carry: strings, numbers, booleans,
 * null and arrays of those (no byte arrays). Reading rebuilds
 * ReadableLogRecords with resourceFromAttributes() and one resource and
 * scope object per group, so the exporter's serializer puts a group's
 * records under one ResourceLogs/ScopeLogs again.
 *
 * SPOOL_RECORD_FORMAT is written at the head of every segment (spool.ts):
 * a spool left by a version that wrote another form is not misread.
 *
 * Two record forms use it: SDK records (toSpoolEntry/fromSpoolEntry) and
 * the OTLP sink's DetectionRecords, which the SDK has not made yet
 * (detectionToSpoolEntry/detectionFromSpoolEntry; their attribute layers
 * are stored as one object). A DetectionRecord is stored before the SDK's
 * attribute limits apply, so its "dropped" is 0; when it is read back, the
 * SDK applies them again as it makes the record.
 */
import type { HrTime } from "@opentelemetry/api";
import type { AnyValue, LogAttributes, LogBody, SeverityNumber } from "@opentelemetry/api-logs";
import type { InstrumentationScope } from "@opentelemetry/core";
import { type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { type DetectionRecord, flatAttributes, makeOrigin, type RecordOrigin } from "./detection-record.js";

/** What a segment's format frame says; bump it when the JSON below changes. */
export const SPOOL_RECORD_FORMAT = "peregrine-spool/2 otlp-logs-json";

/** A resource and scope as stored once per segment; records point at it (identity = one group). */
export interface SpoolGroup {
  readonly resource: Buffer;
  readonly scope: Buffer;
}

/** One record as the spool holds it. */
export interface SpoolEntry {
  readonly resource: SpoolGroup;
  /** OTLP severity number: higher is more important (dropped last at the bound). */
  readonly severity: number;
  readonly record: Buffer;
}

type Scope = ReadableLogRecord["instrumentationScope"];

const NS_PER_S = 1_000_000_000n;

function hrTimeToNsText(t: HrTime): string {
  return (BigInt(Math.trunc(t[0])) * NS_PER_S + BigInt(Math.trunc(t[1]))).toString();
}

function nsTextToHrTime(text: unknown, what: string): HrTime {
  if (typeof text !== "string" || !/^\d{1,20}$/.test(text)) {
    throw new Error(`spooled record: ${what} is not a decimal count of nanoseconds`);
  }
  const ns = BigInt(text);
  return [Number(ns / NS_PER_S), Number(ns % NS_PER_S)];
}

// --- writing ---------------------------------------------------------------------------------

/** The group of a (resource, scope) pair, made once: a resource's records share it. */
const groups = new WeakMap<Resource, WeakMap<Scope, SpoolGroup>>();

function groupOf(resource: Resource, scope: Scope): SpoolGroup {
  let byScope = groups.get(resource);
  if (byScope === undefined) {
    byScope = new WeakMap();
    groups.set(resource, byScope);
  }
  let group = byScope.get(scope);
  if (group === undefined) {
    group = {
      resource: Buffer.from(
        JSON.stringify({
          attributes: resource.attributes,
          ...(resource.schemaUrl !== undefined &&
            resource.schemaUrl !== "" && { schemaUrl: resource.schemaUrl }),
        }),
      ),
      scope: Buffer.from(
        JSON.stringify({
          name: scope.name,
          ...(scope.version !== undefined && { version: scope.version }),
          ...(scope.schemaUrl !== undefined && { schemaUrl: scope.schemaUrl }),
        }),
      ),
    };
    byScope.set(scope, group);
  }
  return group;
}

export function toSpoolEntry(record: ReadableLogRecord): SpoolEntry {
  const stored: Record<string, unknown> = {
    time: hrTimeToNsText(record.hrTime),
    observed: hrTimeToNsText(record.hrTimeObserved),
    attributes: record.attributes,
    dropped: record.droppedAttributesCount,
  };
  if (record.severityNumber !== undefined) stored.severityNumber = record.severityNumber;
  if (record.severityText !== undefined) stored.severityText = record.severityText;
  if (record.body !== undefined) stored.body = record.body;
  if (record.eventName !== undefined) stored.eventName = record.eventName;
  return {
    resource: groupOf(record.resource, record.instrumentationScope),
    severity: record.severityNumber ?? 0,
    record: Buffer.from(JSON.stringify(stored)),
  };
}

// --- reading ---------------------------------------------------------------------------------

interface DecodedGroup {
  readonly resource: Resource;
  readonly scope: Scope;
}

/** Decoded groups by the spool's group object: the records of one segment share resource and scope objects. */
const decodedGroups = new WeakMap<SpoolGroup, DecodedGroup>();

function objectOf(bytes: Buffer, what: string): Record<string, unknown> {
  const value: unknown = JSON.parse(bytes.toString("utf8"));
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`spooled ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function decodeGroup(group: SpoolGroup): DecodedGroup {
  let decoded = decodedGroups.get(group);
  if (decoded !== undefined) return decoded;
  const r = objectOf(group.resource, "resource");
  const s = objectOf(group.scope, "scope");
  const attributes = (r.attributes ?? {}) as Record<string, AnyValue>;
  const resource = resourceFromAttributes(
    attributes as Parameters<typeof resourceFromAttributes>[0],
    typeof r.schemaUrl === "string" ? { schemaUrl: r.schemaUrl } : undefined,
  );
  if (typeof s.name !== "string") throw new Error("spooled scope has no name");
  const scope: InstrumentationScope = {
    name: s.name,
    ...(typeof s.version === "string" && { version: s.version }),
    ...(typeof s.schemaUrl === "string" && { schemaUrl: s.schemaUrl }),
  };
  decoded = { resource, scope };
  decodedGroups.set(group, decoded);
  return decoded;
}

/** Rebuilds the record; throws with what is wrong when the bytes are not one of ours. */
export function fromSpoolEntry(entry: SpoolEntry): ReadableLogRecord {
  const { resource, scope } = decodeGroup(entry.resource);
  const r = objectOf(entry.record, "record");
  const attributes = r.attributes;
  if (typeof attributes !== "object" || attributes === null || Array.isArray(attributes)) {
    throw new Error("spooled record has no attributes object");
  }
  return {
    hrTime: nsTextToHrTime(r.time, "time"),
    hrTimeObserved: nsTextToHrTime(r.observed, "observed"),
    ...(typeof r.severityNumber === "number" && { severityNumber: r.severityNumber as SeverityNumber }),
    ...(typeof r.severityText === "string" && { severityText: r.severityText }),
    ...(r.body !== undefined && { body: r.body as LogBody }),
    ...(typeof r.eventName === "string" && { eventName: r.eventName }),
    resource,
    instrumentationScope: scope,
    attributes: attributes as LogAttributes,
    droppedAttributesCount: typeof r.dropped === "number" ? r.dropped : 0,
  };
}

// --- DetectionRecords (the OTLP sink's records before the SDK makes them) ----------------

const originGroups = new WeakMap<RecordOrigin, SpoolGroup>();

function originGroup(origin: RecordOrigin): SpoolGroup {
  let group = originGroups.get(origin);
  if (group === undefined) {
    group = {
      resource: Buffer.from(
        JSON.stringify({
          attributes: origin.resource,
          ...(origin.schemaUrl !== undefined && origin.schemaUrl !== "" && { schemaUrl: origin.schemaUrl }),
        }),
      ),
      scope: Buffer.from(
        JSON.stringify({
          name: origin.scopeName,
          ...(origin.scopeVersion !== undefined && { version: origin.scopeVersion }),
        }),
      ),
    };
    originGroups.set(origin, group);
  }
  return group;
}

export function detectionToSpoolEntry(record: DetectionRecord): SpoolEntry {
  const stored: Record<string, unknown> = {
    time: record.timeNs.toString(),
    observed: record.observedNs.toString(),
    attributes: flatAttributes(record),
    dropped: 0,
  };
  if (record.severityNumber !== undefined) stored.severityNumber = record.severityNumber;
  if (record.severityText !== undefined) stored.severityText = record.severityText;
  if (record.body !== undefined) stored.body = record.body;
  if (record.eventName !== undefined) stored.eventName = record.eventName;
  return {
    resource: originGroup(record.origin),
    severity: record.severityNumber ?? 0,
    record: Buffer.from(JSON.stringify(stored)),
  };
}

/** Decoded origins by the spool's group object: the records of one segment share one. */
const decodedOrigins = new WeakMap<SpoolGroup, RecordOrigin>();

function decodeOrigin(group: SpoolGroup): RecordOrigin {
  let origin = decodedOrigins.get(group);
  if (origin !== undefined) return origin;
  const r = objectOf(group.resource, "resource");
  const s = objectOf(group.scope, "scope");
  const attributes = r.attributes ?? {};
  if (typeof attributes !== "object" || attributes === null || Array.isArray(attributes)) {
    throw new Error("spooled resource has no attributes object");
  }
  if (typeof s.name !== "string") throw new Error("spooled scope has no name");
  origin = makeOrigin(
    attributes as LogAttributes,
    s.name,
    typeof s.version === "string" ? s.version : undefined,
    typeof r.schemaUrl === "string" ? r.schemaUrl : undefined,
  );
  decodedOrigins.set(group, origin);
  return origin;
}

function nsOf(text: unknown, what: string): bigint {
  if (typeof text !== "string" || !/^\d{1,20}$/.test(text)) {
    throw new Error(`spooled record: ${what} is not a decimal count of nanoseconds`);
  }
  return BigInt(text);
}

/** Rebuilds the DetectionRecord; throws with what is wrong when the bytes are not one of ours. */
export function detectionFromSpoolEntry(entry: SpoolEntry): DetectionRecord {
  const origin = decodeOrigin(entry.resource);
  const r = objectOf(entry.record, "record");
  const attributes = r.attributes;
  if (typeof attributes !== "object" || attributes === null || Array.isArray(attributes)) {
    throw new Error("spooled record has no attributes object");
  }
  return {
    origin,
    timeNs: nsOf(r.time, "time"),
    observedNs: nsOf(r.observed, "observed"),
    ...(typeof r.severityNumber === "number" && { severityNumber: r.severityNumber }),
    ...(typeof r.severityText === "string" && { severityText: r.severityText }),
    ...(r.body !== undefined && { body: r.body }),
    ...(typeof r.eventName === "string" && { eventName: r.eventName }),
    attributes: [attributes as LogAttributes],
  };
}

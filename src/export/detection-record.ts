/**
 * A detection's log record before the SDK makes it: plain data (numbers,
 * strings, bigints, plain objects), so that it can cross to an export
 * worker thread by structured clone, and be spooled and read back.
 *
 * The attributes come in layers, in order: the rule's (security_rule.*,
 * built once per rule), the process's (process.*, user.*, built once per
 * process state) and the detection's own. Layers are shared objects: a
 * batch posted to a worker carries each distinct rule and process layer
 * once (structured clone keeps object identity within a message), and the
 * SDK copies them into its record one after the other (sdk-records.ts).
 */
import type { LogAttributes } from "@opentelemetry/api-logs";

/** Where a record comes from: its resource and instrumentation scope. One object per workload. */
export interface RecordOrigin {
  /** Stable across threads and messages: resource attributes and scope as one string. */
  readonly key: string;
  readonly resource: LogAttributes;
  readonly schemaUrl?: string;
  readonly scopeName: string;
  readonly scopeVersion?: string;
}

export interface DetectionRecord {
  readonly origin: RecordOrigin;
  /** Epoch ns: the kernel's event time. */
  readonly timeNs: bigint;
  /** Epoch ns: when the agent emitted the record. */
  readonly observedNs: bigint;
  readonly severityNumber?: number;
  readonly severityText?: string;
  readonly body?: unknown;
  readonly eventName?: string;
  /** Attribute layers, applied in order (a later layer's key would replace an earlier one's). */
  readonly attributes: readonly LogAttributes[];
}

/** The key of an origin: everything that makes two origins the same resource and scope. */
export function originKey(
  resource: LogAttributes,
  scopeName: string,
  scopeVersion: string | undefined,
  schemaUrl?: string,
): string {
  return JSON.stringify([scopeName, scopeVersion ?? null, schemaUrl ?? null, resource]);
}

export function makeOrigin(
  resource: LogAttributes,
  scopeName: string,
  scopeVersion: string | undefined,
  schemaUrl?: string,
): RecordOrigin {
  return {
    key: originKey(resource, scopeName, scopeVersion, schemaUrl),
    resource,
    scopeName,
    ...(scopeVersion !== undefined && { scopeVersion }),
    ...(schemaUrl !== undefined && { schemaUrl }),
  };
}

/** All layers in one object (the spool stores records flat). */
export function flatAttributes(record: DetectionRecord): LogAttributes {
  const layers = record.attributes;
  if (layers.length === 1) return layers[0] as LogAttributes;
  const out: LogAttributes = {};
  for (const layer of layers) for (const key in layer) out[key] = layer[key];
  return out;
}

/**
 * A batch of DetectionRecords in columns, the form a batch crosses to an
 * export worker in (export-workers.ts → export-worker.ts → sdk-records.ts).
 *
 * Why: structured clone makes every object anew on the other side, and
 * there that is most of what passing a record costs — about 1 µs for the
 * record object and its layer array, 2 µs for its own attribute layer
 * (bench/export-cost.mjs, "declone"). In columns a batch has no object per
 * record: the times travel in one typed array (one copy), the last
 * attribute layer of each record as its values in one flat array with its
 * keys as an array shared by every record of the same shape (a message
 * carries each shared object once), and the worker hands the SDK the
 * values straight from the columns. The rule's and the process's layers
 * stay shared objects, as before.
 *
 * Nothing is lost or changed on the way: packBatch() declines (undefined)
 * a batch it could not carry exactly — a time outside 0 … 2^64−1 ns — and
 * the caller sends that one as objects.
 */
import type { LogAttributes } from "@opentelemetry/api-logs";
import type { DetectionRecord, RecordOrigin } from "./detection-record.js";

export interface PackedBatch {
  /** Per record: its origin (one object per workload, shared). */
  readonly origins: RecordOrigin[];
  /** Per record: timeNs, observedNs. */
  readonly times: BigUint64Array;
  readonly severityNumbers: (number | undefined)[];
  /** Per record: severityText, eventName. */
  readonly texts: (string | undefined)[];
  readonly bodies: unknown[];
  /** Per record: how many layers before its last one (in `layers`, in order). */
  readonly layerCounts: number[];
  /** The layers before each record's last, all records in order (shared objects). */
  readonly layers: LogAttributes[];
  /** Per record: the keys of its last layer, in the layer's order (shared by records of one shape). */
  readonly lastKeys: (readonly string[])[];
  /** The values of every record's last layer, in record and key order. */
  readonly lastValues: unknown[];
}

const MAX_NS = (1n << 64n) - 1n;

/** Recent key lists, so that records of one shape share one array (and a message carries it once). */
const SHAPES = 8;
let shapes: (readonly string[])[] = [];

function keysOf(layer: LogAttributes): readonly string[] {
  search: for (const keys of shapes) {
    let i = 0;
    for (const key in layer) if (keys[i++] !== key) continue search;
    if (i === keys.length) return keys;
  }
  const keys = Object.keys(layer);
  shapes = [keys, ...shapes.slice(0, SHAPES - 1)];
  return keys;
}

/** The batch in columns, or undefined when a time does not fit 64 unsigned bits (send it as objects). */
export function packBatch(batch: readonly DetectionRecord[]): PackedBatch | undefined {
  const n = batch.length;
  const times = new BigUint64Array(2 * n);
  const packed: PackedBatch = {
    origins: new Array(n),
    times,
    severityNumbers: new Array(n),
    texts: new Array(2 * n),
    bodies: new Array(n),
    layerCounts: new Array(n),
    layers: [],
    lastKeys: new Array(n),
    lastValues: [],
  };
  for (let j = 0; j < n; j++) {
    const r = batch[j] as DetectionRecord;
    if (r.timeNs < 0n || r.timeNs > MAX_NS || r.observedNs < 0n || r.observedNs > MAX_NS) return undefined;
    times[2 * j] = r.timeNs;
    times[2 * j + 1] = r.observedNs;
    packed.origins[j] = r.origin;
    packed.severityNumbers[j] = r.severityNumber;
    packed.texts[2 * j] = r.severityText;
    packed.texts[2 * j + 1] = r.eventName;
    packed.bodies[j] = r.body;
    const layers = r.attributes;
    const shared = Math.max(0, layers.length - 1);
    packed.layerCounts[j] = shared;
    for (let i = 0; i < shared; i++) packed.layers.push(layers[i] as LogAttributes);
    const last = layers.length > 0 ? (layers[layers.length - 1] as LogAttributes) : {};
    const keys = keysOf(last);
    packed.lastKeys[j] = keys;
    for (let i = 0; i < keys.length; i++) packed.lastValues.push(last[keys[i] as string]);
  }
  return packed;
}

/** The records of a packed batch as DetectionRecords again (tests, and anything not on the hot path). */
export function unpackBatch(packed: PackedBatch): DetectionRecord[] {
  const out: DetectionRecord[] = [];
  let layer = 0;
  let value = 0;
  for (let j = 0; j < packed.origins.length; j++) {
    const attributes: LogAttributes[] = [];
    for (let i = 0; i < (packed.layerCounts[j] as number); i++)
      attributes.push(packed.layers[layer++] as LogAttributes);
    const keys = packed.lastKeys[j] as readonly string[];
    const last: LogAttributes = {};
    for (const key of keys) last[key] = packed.lastValues[value++] as LogAttributes[string];
    attributes.push(last);
    const severityNumber = packed.severityNumbers[j];
    const severityText = packed.texts[2 * j];
    const eventName = packed.texts[2 * j + 1];
    const body = packed.bodies[j];
    out.push({
      origin: packed.origins[j] as RecordOrigin,
      timeNs: packed.times[2 * j] as bigint,
      observedNs: packed.times[2 * j + 1] as bigint,
      ...(severityNumber !== undefined && { severityNumber }),
      ...(severityText !== undefined && { severityText }),
      ...(body !== undefined && { body }),
      ...(eventName !== undefined && { eventName }),
      attributes,
    });
  }
  return out;
}

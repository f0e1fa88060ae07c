/**
 * OTLP logs protobuf, written by hand (opentelemetry-proto v1: the
 * collector/logs, logs, common and resource messages; field numbers in the
 * comments). Why not the SDK: the spool stores and resends the encoded
 * bytes, the delivery layer needs one encoded record per detection (to drop
 * by priority, record by record), and encoding straight from a detection
 * skips the SDK's per-record objects on the hot path.
 */
import type { AnyValue, LogAttributes } from "@opentelemetry/api-logs";

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LDELIM = 2;

/** A growable byte buffer with protobuf primitives; nested messages via begin()/end(). */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  reset(): void {
    this.pos = 0;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number): void {
    this.ensure(10);
    let v = value; // a non-negative integer up to 2^53
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  /** int64 as a varint, negative numbers in two's complement (10 bytes), as protobuf does. */
  int64(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  fixed64(field: number, value: bigint): void {
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    this.buf.writeBigUInt64LE(value, this.pos);
    this.pos += 8;
  }

  double(field: number, value: number): void {
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  string(field: number, value: string): void {
    this.tag(field, WIRE_LDELIM);
    const len = value.length;
    if (len < 128) {
      // Short ASCII (most keys and values): a byte per char, no encoder call.
      this.ensure(1 + len * 3);
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      if (i === len) {
        buf[this.pos] = len;
        this.pos = start + len;
        return;
      }
    }
    const max = len * 3;
    if (max < 128) {
      this.ensure(1 + max);
      const n = this.buf.write(value, this.pos + 1, "utf8");
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(value, "utf8");
    this.varint(n);
    this.ensure(n);
    this.buf.write(value, this.pos, "utf8");
    this.pos += n;
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_LDELIM);
    this.varint(value.length);
    this.raw(value);
  }

  raw(value: Uint8Array): void {
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /**
   * Starts a length-delimited field; returns the mark end() needs. One byte
   * is reserved for the length: most nested messages (a KeyValue, an
   * AnyValue) are under 128 bytes, and the rare longer one is moved forward.
   */
  begin(field: number): number {
    this.tag(field, WIRE_LDELIM);
    this.ensure(1);
    const mark = this.pos;
    this.pos += 1;
    return mark;
  }

  /** Writes the length at the mark, moving the body forward when the length needs more than one byte. */
  end(mark: number): void {
    const bodyStart = mark + 1;
    const len = this.pos - bodyStart;
    if (len < 0x80) {
      this.buf[mark] = len;
      return;
    }
    let size = 1;
    for (let v = len; v > 0x7f; v = Math.floor(v / 128)) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(mark + size, bodyStart, this.pos);
    let v = len;
    let at = mark;
    while (v > 0x7f) {
      this.buf[at++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[at] = v;
    this.pos += size - 1;
  }

  /** A copy of what was written. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

export interface AttributeLimits {
  /** Attributes beyond it are dropped and counted in dropped_attributes_count. */
  readonly count: number;
  /** Strings longer than it (in UTF-16 units) are cut. */
  readonly valueLength: number;
}

/** Loki keeps at most 128 structured-metadata entries per record; 8 Ki characters per value. */
export const DEFAULT_ATTRIBUTE_LIMITS: AttributeLimits = { count: 128, valueLength: 8192 };

function anyValue(w: ProtoWriter, field: number, value: AnyValue, limits: AttributeLimits): void {
  const mark = w.begin(field);
  anyValueBody(w, value, limits);
  w.end(mark);
}

// AnyValue: string_value 1, bool_value 2, int_value 3, double_value 4, array_value 5, kvlist_value 6, bytes_value 7.
function anyValueBody(w: ProtoWriter, value: AnyValue, limits: AttributeLimits): void {
  switch (typeof value) {
    case "string":
      w.string(1, value.length > limits.valueLength ? value.slice(0, limits.valueLength) : value);
      return;
    case "boolean":
      w.tag(2, WIRE_VARINT);
      w.varint(value ? 1 : 0);
      return;
    case "number":
      if (Number.isSafeInteger(value)) {
        w.tag(3, WIRE_VARINT);
        w.int64(value);
      } else {
        w.double(4, value);
      }
      return;
    default:
      break;
  }
  if (value === null || value === undefined) return; // an empty AnyValue
  if (Array.isArray(value)) {
    const mark = w.begin(5);
    for (const item of value) anyValue(w, 1, item as AnyValue, limits);
    w.end(mark);
    return;
  }
  if (value instanceof Uint8Array) {
    w.bytes(7, value);
    return;
  }
  const mark = w.begin(6);
  for (const [k, v] of Object.entries(value)) keyValue(w, 1, k, v as AnyValue, limits);
  w.end(mark);
}

/** Encoded `key` fields (tag + length + bytes): attribute keys are a small closed set, encoded once each. */
const keyBytes = new Map<string, Buffer>();
const MAX_CACHED_KEYS = 4096;

function writeKey(w: ProtoWriter, key: string): void {
  let bytes = keyBytes.get(key);
  if (bytes === undefined) {
    const kw = new ProtoWriter(64 + key.length * 3);
    kw.string(1, key);
    bytes = kw.finish();
    if (keyBytes.size < MAX_CACHED_KEYS) keyBytes.set(key, bytes);
  }
  w.raw(bytes);
}

// KeyValue: key 1, value 2.
function keyValue(
  w: ProtoWriter,
  field: number,
  key: string,
  value: AnyValue,
  limits: AttributeLimits,
): void {
  const mark = w.begin(field);
  writeKey(w, key);
  if (value !== undefined) anyValue(w, 2, value, limits);
  w.end(mark);
}

/** Writes attributes as repeated KeyValue `field`; returns how many were dropped by the count limit. */
export function writeAttributes(
  w: ProtoWriter,
  field: number,
  attributes: LogAttributes,
  limits: AttributeLimits = DEFAULT_ATTRIBUTE_LIMITS,
): number {
  let n = 0;
  let dropped = 0;
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
    if (n >= limits.count) {
      dropped++;
      continue;
    }
    keyValue(w, field, key, value, limits);
    n++;
  }
  return dropped;
}

/** Repeated LogRecord.attributes (field 6) encoded once, for attributes shared by many records. */
export interface EncodedAttributes {
  readonly bytes: Buffer;
  readonly count: number;
  readonly dropped: number;
}

/** Reused by encodeAttributes (synchronous, so one is enough). */
const scratch = new ProtoWriter(4096);

export function encodeAttributes(
  attributes: LogAttributes,
  limits: AttributeLimits = DEFAULT_ATTRIBUTE_LIMITS,
): EncodedAttributes {
  const w = scratch;
  w.reset();
  const dropped = writeAttributes(w, 6, attributes, limits);
  let count = 0;
  for (const key in attributes) if (attributes[key] !== undefined) count++;
  return { bytes: w.finish(), count: count - dropped, dropped };
}

/** What one log record carries (the LogRecord message's fields). */
export interface LogRecordFields {
  readonly timeUnixNano: bigint;
  readonly observedTimeUnixNano: bigint;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: string;
  readonly attributes: LogAttributes;
  readonly eventName: string;
}

/**
 * One LogRecord message (without its tag and length): the unit the queue
 * and the spool hold, and what a request concatenates.
 */
export function encodeLogRecord(
  w: ProtoWriter,
  record: LogRecordFields,
  limits: AttributeLimits = DEFAULT_ATTRIBUTE_LIMITS,
  /** Attributes already encoded (see encodeAttributes), written first; they count toward the limit. */
  prefix?: EncodedAttributes,
  prefix2?: EncodedAttributes,
): Buffer {
  w.reset();
  w.fixed64(1, record.timeUnixNano);
  w.tag(2, WIRE_VARINT);
  w.varint(record.severityNumber);
  w.string(3, record.severityText);
  anyValue(w, 5, record.body, limits);
  let rest = limits;
  let dropped = 0;
  for (const p of prefix2 === undefined ? [prefix] : [prefix, prefix2]) {
    if (p === undefined) continue;
    if (p.count > rest.count) {
      // Does not fit whole: count it dropped rather than cut an encoded block apart.
      dropped += p.count + p.dropped;
      continue;
    }
    w.raw(p.bytes);
    dropped += p.dropped;
    rest = { count: rest.count - p.count, valueLength: limits.valueLength };
  }
  dropped += writeAttributes(w, 6, record.attributes, rest);
  if (dropped > 0) {
    w.tag(7, WIRE_VARINT);
    w.varint(dropped);
  }
  w.fixed64(11, record.observedTimeUnixNano);
  w.string(12, record.eventName);
  return w.finish();
}

/**
 * A Resource message plus the InstrumentationScope, encoded once per
 * resource: `resource` is the body of ResourceLogs.resource (field 1),
 * `scope` the body of ScopeLogs.scope (field 1).
 */
export interface EncodedResource {
  readonly resource: Buffer;
  readonly scope: Buffer;
}

export function encodeResource(
  attributes: LogAttributes,
  scopeName: string,
  scopeVersion: string,
): EncodedResource {
  const w = new ProtoWriter(1024);
  writeAttributes(w, 1, attributes); // Resource.attributes = 1
  const resource = w.finish();
  w.reset();
  w.string(1, scopeName); // InstrumentationScope.name = 1
  w.string(2, scopeVersion); // .version = 2
  return { resource, scope: w.finish() };
}

/** Records of one resource, in order. */
export interface ResourceGroup {
  readonly resource: EncodedResource;
  readonly records: readonly Uint8Array[];
}

/** ExportLogsServiceRequest: resource_logs 1 → ResourceLogs{resource 1, scope_logs 2 → ScopeLogs{scope 1, log_records 2}}. */
export function encodeExportRequest(
  groups: readonly ResourceGroup[],
  w: ProtoWriter = new ProtoWriter(),
): Buffer {
  w.reset();
  for (const group of groups) {
    const rl = w.begin(1);
    w.bytes(1, group.resource.resource);
    const sl = w.begin(2);
    w.bytes(1, group.resource.scope);
    for (const record of group.records) w.bytes(2, record);
    w.end(sl);
    w.end(rl);
  }
  return w.finish();
}

/** Reads a varint at `at`; returns [value, next offset]. */
function readVarint(buf: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  let i = at;
  for (;;) {
    if (i >= buf.length) throw new Error("truncated varint");
    const b = buf[i++] as number;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, i];
    scale *= 128;
    if (scale > 2 ** 63) throw new Error("varint too long");
  }
}

/** Iterates the fields of a message: [field number, wire type, value (number or bytes)]. */
export function* readFields(buf: Uint8Array): Generator<[number, number, number | Uint8Array]> {
  let at = 0;
  while (at < buf.length) {
    const [key, afterKey] = readVarint(buf, at);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    at = afterKey;
    if (wire === WIRE_VARINT) {
      const [v, next] = readVarint(buf, at);
      at = next;
      yield [field, wire, v];
    } else if (wire === WIRE_LDELIM) {
      const [len, next] = readVarint(buf, at);
      if (next + len > buf.length) throw new Error("truncated field");
      yield [field, wire, buf.subarray(next, next + len)];
      at = next + len;
    } else if (wire === WIRE_FIXED64) {
      at += 8;
      yield [field, wire, 0];
    } else if (wire === 5) {
      at += 4;
      yield [field, wire, 0];
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

/** ExportLogsServiceResponse.partial_success (1).rejected_log_records (1) and error_message (2). */
export function decodeExportResponse(buf: Uint8Array): { rejected: number; message: string } {
  let rejected = 0;
  let message = "";
  for (const [field, wire, value] of readFields(buf)) {
    if (field !== 1 || wire !== WIRE_LDELIM) continue;
    for (const [f, wt, v] of readFields(value as Uint8Array)) {
      if (f === 1 && wt === WIRE_VARINT) rejected = v as number;
      else if (f === 2 && wt === WIRE_LDELIM) message = Buffer.from(v as Uint8Array).toString("utf8");
    }
  }
  return { rejected, message };
}

/**
 * DetectionRecords → OpenTelemetry SDK log records, made by
 * `@opentelemetry/sdk-logs`: one LoggerProvider per origin (workload
 * resource + scope), made once, each Logger emitting into a processor of
 * ours that collects the batch for the SDK's OTLP exporter.
 *
 * The record is emitted without attributes, and every layer is added with
 * the record's own setAttribute(), key by key, while the processor holds it
 * (the SDK lets a processor modify a record in onEmit): the same check,
 * limits and order as the SDK's setAttributes() / emit({attributes}), which
 * loop over Object.entries() — an array of [key, value] pairs allocated per
 * layer and record that this loop does without (8 µs per record of 41
 * attributes instead of 11, `bench/export-cost.mjs --baseline`).
 * From a packed batch (packed-batch.ts) the last layer's values are read
 * straight from the batch's columns, no object made for them.
 * Why in layers rather than one merged object: reading keys from the small
 * objects the layers are is cheap, and about twice as slow from a merged
 * object of 40 keys (V8 keeps an object of more than ~16 keys added one by
 * one as a hash table).
 * The SDK's own attribute object of each record would be such a hash table
 * too; attribute-shapes.ts lays each key sequence down once as V8 hidden
 * classes so that it is not (the first record of a sequence notes it).
 */
import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { LogAttributes, Logger, LogRecord } from "@opentelemetry/api-logs";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  LoggerProvider,
  type LogRecordLimits,
  type LogRecordProcessor,
  type ReadableLogRecord,
  type SdkLogRecord,
} from "@opentelemetry/sdk-logs";
import { AttributeShapes } from "./attribute-shapes.js";
import type { DetectionRecord, RecordOrigin } from "./detection-record.js";
import { type PackedBatch, packBatch } from "./packed-batch.js";
import { nsToHrTime } from "./time.js";

/**
 * Origins kept (a LoggerProvider each). The main thread already caps
 * distinct workload resources at 1024; spooled records of older versions
 * may add a few. Beyond it the map is cleared (the providers are remade).
 */
const MAX_ORIGINS = 2048;

/**
 * Records per batch whose key sequence may be noted (attribute-shapes.ts):
 * a batch's records mostly share a few; this bounds the cost when they do not.
 */
const NOTES_PER_BATCH = 8;

/** Catches what a Logger emits, adding the record's attribute layers. */
class Collector implements LogRecordProcessor {
  /** The record's layers as objects: layers[layersFrom … layersTo). */
  layers: readonly LogAttributes[] = [];
  layersFrom = 0;
  layersTo = 0;
  /** Then, from a packed batch, its last layer: keys with values from lastValues[valuesFrom]. */
  lastKeys: readonly string[] = [];
  lastValues: readonly unknown[] = [];
  valuesFrom = 0;
  out: ReadableLogRecord[] = [];
  /** Key sequences laid down as V8 hidden classes (attribute-shapes.ts). */
  readonly shapes = new AttributeShapes();
  /** How many more records of this batch may have their key sequence noted (each costs a key list). */
  notesLeft = 0;
  /** The previous record's layer objects and last key list: a record with the same ones has its key sequence. */
  private readonly previous: unknown[] = [];

  onEmit(record: SdkLogRecord): void {
    const layers = this.layers;
    for (let i = this.layersFrom; i < this.layersTo; i++) {
      const layer = layers[i] as LogAttributes;
      // Layers are plain objects (made by us, by structured clone or JSON.parse): for-in sees
      // exactly their own keys, in the order Object.entries() would give them.
      for (const key in layer) record.setAttribute(key, layer[key]);
    }
    const keys = this.lastKeys;
    const values = this.lastValues;
    const from = this.valuesFrom;
    for (let i = 0; i < keys.length; i++)
      record.setAttribute(keys[i] as string, values[from + i] as LogAttributes[string]);
    if (this.notesLeft > 0 && !this.likePrevious()) {
      this.notesLeft--;
      this.shapes.note(record.attributes);
    }
    this.out.push(record);
  }

  /** Whether this record's layers and last key list are the previous record's (then remembers this one's). */
  private likePrevious(): boolean {
    const previous = this.previous;
    const n = this.layersTo - this.layersFrom;
    let same = previous.length === n + 1 && previous[n] === this.lastKeys;
    for (let i = 0; same && i < n; i++) same = previous[i] === this.layers[this.layersFrom + i];
    if (!same) {
      previous.length = 0;
      for (let i = this.layersFrom; i < this.layersTo; i++) previous.push(this.layers[i]);
      previous.push(this.lastKeys);
    }
    return same;
  }

  /** Between batches: holds on to nothing of the last one. */
  reset(): void {
    this.layers = [];
    this.layersFrom = 0;
    this.layersTo = 0;
    this.lastKeys = [];
    this.lastValues = [];
    this.previous.length = 0;
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

export class SdkRecordMaker {
  private readonly loggers = new Map<string, Logger>();
  private readonly collector = new Collector();
  private readonly limits: LogRecordLimits;

  constructor(limits: LogRecordLimits) {
    this.limits = limits;
  }

  private loggerOf(origin: RecordOrigin): Logger {
    let logger = this.loggers.get(origin.key);
    if (logger !== undefined) return logger;
    if (this.loggers.size >= MAX_ORIGINS) this.loggers.clear();
    const provider = new LoggerProvider({
      resource: resourceFromAttributes(
        origin.resource as Parameters<typeof resourceFromAttributes>[0],
        origin.schemaUrl !== undefined ? { schemaUrl: origin.schemaUrl } : undefined,
      ),
      processors: [this.collector],
      logRecordLimits: this.limits,
    });
    logger = provider.getLogger(origin.scopeName, origin.scopeVersion);
    this.loggers.set(origin.key, logger);
    return logger;
  }

  private emit(
    origin: RecordOrigin,
    timeNs: bigint,
    observedNs: bigint,
    severityNumber: number | undefined,
    severityText: string | undefined,
    eventName: string | undefined,
    body: unknown,
  ): void {
    const emitted: LogRecord = {
      timestamp: nsToHrTime(timeNs),
      observedTimestamp: nsToHrTime(observedNs),
      // An explicit context: the SDK does not look up the active one (detections have no trace).
      context: ROOT_CONTEXT,
    };
    if (eventName !== undefined) emitted.eventName = eventName;
    if (severityNumber !== undefined) emitted.severityNumber = severityNumber;
    if (severityText !== undefined) emitted.severityText = severityText;
    if (body !== undefined) emitted.body = body as LogRecord["body"];
    this.loggerOf(origin).emit(emitted);
  }

  private start(): void {
    this.collector.reset();
    this.collector.out = [];
    this.collector.notesLeft = NOTES_PER_BATCH;
  }

  private finish(): ReadableLogRecord[] {
    const collector = this.collector;
    collector.reset();
    const out = collector.out;
    collector.out = [];
    return out;
  }

  /** Key sequences laid down as V8 hidden classes so far (attribute-shapes.ts). */
  get shapes(): number {
    return this.collector.shapes.size;
  }

  /**
   * SDK records for a batch, in the batch's order: made from the batch in
   * columns when it packs (packed-batch.ts; in this thread that is what
   * lets records of one shape be recognised as such), else from the objects.
   */
  make(batch: readonly DetectionRecord[]): ReadableLogRecord[] {
    const packed = packBatch(batch);
    if (packed !== undefined) return this.makePacked(packed);
    this.start();
    const collector = this.collector;
    for (const r of batch) {
      collector.layers = r.attributes;
      collector.layersFrom = 0;
      collector.layersTo = r.attributes.length;
      this.emit(r.origin, r.timeNs, r.observedNs, r.severityNumber, r.severityText, r.eventName, r.body);
    }
    return this.finish();
  }

  /** SDK records for a batch in columns (packed-batch.ts), in the batch's order: the same records as make(). */
  makePacked(packed: PackedBatch): ReadableLogRecord[] {
    this.start();
    const collector = this.collector;
    collector.layers = packed.layers;
    collector.lastValues = packed.lastValues;
    const { times, texts } = packed;
    let layer = 0;
    let value = 0;
    for (let j = 0; j < packed.origins.length; j++) {
      const keys = packed.lastKeys[j] as readonly string[];
      collector.layersFrom = layer;
      layer += packed.layerCounts[j] as number;
      collector.layersTo = layer;
      collector.lastKeys = keys;
      collector.valuesFrom = value;
      value += keys.length;
      this.emit(
        packed.origins[j] as RecordOrigin,
        times[2 * j] as bigint,
        times[2 * j + 1] as bigint,
        packed.severityNumbers[j],
        texts[2 * j],
        texts[2 * j + 1],
        packed.bodies[j],
      );
    }
    return this.finish();
  }
}

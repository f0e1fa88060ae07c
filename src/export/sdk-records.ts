/**
 * DetectionRecords → OpenTelemetry SDK log records, made by
 * `@opentelemetry/sdk-logs`: one LoggerProvider per origin (workload
 * resource + scope), made once, each Logger emitting into a processor of
 * ours that collects the batch for the SDK's OTLP exporter.
 *
 * The record is made from the first attribute layer (the rule's); the
 * other layers are added with the record's own setAttributes() while the
 * processor holds it (the SDK lets a processor modify a record in onEmit).
 * Why in layers rather than one merged object: the SDK copies attributes
 * key by key from Object.entries(), which is cheap on the small objects the
 * layers are and about twice as slow on a merged object of 40 keys (V8
 * keeps an object of more than ~16 keys added one by one as a hash table).
 */
import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { Logger, LogRecord } from "@opentelemetry/api-logs";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  LoggerProvider,
  type LogRecordLimits,
  type LogRecordProcessor,
  type ReadableLogRecord,
  type SdkLogRecord,
} from "@opentelemetry/sdk-logs";
import type { DetectionRecord, RecordOrigin } from "./detection-record.js";
import { nsToHrTime } from "./time.js";

/**
 * Origins kept (a LoggerProvider each). The main thread already caps
 * distinct workload resources at 1024; spooled records of older versions
 * may add a few. Beyond it the map is cleared (the providers are remade).
 */
const MAX_ORIGINS = 2048;

/** Catches what a Logger emits, adding the record's remaining attribute layers. */
class Collector implements LogRecordProcessor {
  layers: DetectionRecord["attributes"] = [];
  out: ReadableLogRecord[] = [];

  onEmit(record: SdkLogRecord): void {
    const layers = this.layers;
    for (let i = 1; i < layers.length; i++)
      record.setAttributes(layers[i] as NonNullable<LogRecord["attributes"]>);
    this.out.push(record);
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

  /** SDK records for a batch, in the batch's order. */
  make(batch: readonly DetectionRecord[]): ReadableLogRecord[] {
    const collector = this.collector;
    collector.out = [];
    for (const r of batch) {
      collector.layers = r.attributes;
      const emitted: LogRecord = {
        timestamp: nsToHrTime(r.timeNs),
        observedTimestamp: nsToHrTime(r.observedNs),
        // An explicit context: the SDK does not look up the active one (detections have no trace).
        context: ROOT_CONTEXT,
        attributes: r.attributes[0] ?? {},
      };
      if (r.eventName !== undefined) emitted.eventName = r.eventName;
      if (r.severityNumber !== undefined) emitted.severityNumber = r.severityNumber;
      if (r.severityText !== undefined) emitted.severityText = r.severityText;
      if (r.body !== undefined) emitted.body = r.body as LogRecord["body"];
      this.loggerOf(r.origin).emit(emitted);
    }
    collector.layers = [];
    const out = collector.out;
    collector.out = [];
    return out;
  }
}

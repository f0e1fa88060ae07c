import { hostname as osHostname } from "node:os";
import type { Attributes } from "@opentelemetry/api";
import type { Logger } from "@opentelemetry/api-logs";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type LogRecordExporter,
  type LogRecordLimits,
} from "@opentelemetry/sdk-logs";
import type { Detection } from "../rules/detection.js";
import { severityNumber } from "../rules/priority.js";
import { CountingLogExporter } from "./counting-exporter.js";
import { type DetectionAttributeOptions, detectionAttributes } from "./detection-attributes.js";
import { priorityName } from "./priority-name.js";
import { DEFAULT_RETRY_POLICY, RetryingLogExporter, type RetryPolicy } from "./retrying-exporter.js";
import {
  DETECTION_EVENT_NAME,
  RESOURCE_ATTR_HOST_NAME,
  RESOURCE_ATTR_SERVICE_NAME,
  RESOURCE_ATTR_SERVICE_VERSION,
} from "./semconv.js";
import { type DetectionSink, type ExportCounters, NOOP_EXPORT_COUNTERS } from "./sink.js";
import { nowNs, nsToHrTime } from "./time.js";

/** The `exporter` label of this sink's metrics. */
export const OTLP_LOGS_SINK_NAME = "otlp";
/** service.name of the sensor's own resource, and the instrumentation scope name. */
export const SENSOR_SERVICE_NAME = "peregrine";

/** A resource chosen for one detection (later: the affected workload). */
export interface WorkloadResource {
  /** Identifies the resource; detections with the same key share one resource. */
  readonly key: string;
  /** Merged over the sensor's resource (these win on conflicts, e.g. service.name). */
  readonly attributes: Attributes;
}

export interface OtlpLogSinkOptions extends DetectionAttributeOptions {
  /** OTLP/gRPC endpoint, e.g. "http://127.0.0.1:4317" (see resolveOtlpLogsEndpoint). */
  endpoint: string;
  /** The sensor's version: service.version and the instrumentation scope version. */
  version: string;
  /** host.name of the resource (default: os.hostname()). */
  hostname?: string;
  counters?: ExportCounters;
  /** Records waiting for export; beyond it new detections are dropped and counted. Default 2048. */
  maxQueueSize?: number;
  /** Default 512. */
  maxExportBatchSize?: number;
  /** How long a record may wait for a batch to fill. Default 1000 ms. */
  scheduledDelayMillis?: number;
  /** Deadline of one export attempt (the gRPC call). Default 10 000 ms. */
  attemptTimeoutMillis?: number;
  retry?: Partial<RetryPolicy>;
  /** shutdown() flushes for at most this long, then counts what is left as dropped. Default 10 000 ms. */
  shutdownTimeoutMillis?: number;
  /**
   * Chooses the resource of a detection. Undefined (the default, and this
   * version's behaviour) means the sensor's own resource.
   */
  resourceFor?: (detection: Detection) => WorkloadResource | undefined;
  /** Epoch ns for observedTimestamp (tests pin it). */
  now?: () => bigint;
  /** Replaces the OTLP/gRPC transport (tests); retries and counting still wrap it. */
  transport?: LogRecordExporter;
}

/** Loki keeps at most 128 structured-metadata entries per record; more would be cut there anyway. */
const LOG_RECORD_LIMITS: LogRecordLimits = { attributeCountLimit: 128, attributeValueLengthLimit: 8192 };
/** Distinct resources (workloads) kept at once; detections beyond it use the sensor's resource. */
const MAX_RESOURCES = 1024;

/**
 * Detections as OTLP log records over gRPC: one record per detection,
 * body = the rendered output, eventName "peregrine.detection", severity from
 * the rule priority, timestamp = the kernel's event time.
 *
 * Pipeline: emit() → LoggerProvider → BatchLogRecordProcessor (bounded queue)
 * → CountingLogExporter (sent/failed, queue accounting) → RetryingLogExporter
 * → OTLPLogExporter. The batch processor drops silently when its queue is
 * full, so the sink keeps its own count of queued records and refuses (and
 * counts) a record before the processor would drop it unseen.
 */
export class OtlpLogSink implements DetectionSink {
  readonly name = OTLP_LOGS_SINK_NAME;
  private readonly processor: BatchLogRecordProcessor;
  private readonly counting: CountingLogExporter;
  private readonly retrying: RetryingLogExporter;
  private readonly sensorResource: Resource;
  private readonly sensorLogger: Logger;
  private readonly workloadLoggers = new Map<string, Logger>();
  private readonly counters: ExportCounters;
  private readonly maxQueueSize: number;
  private readonly shutdownTimeoutMillis: number;
  private readonly version: string;
  private readonly attributeOptions: DetectionAttributeOptions;
  private readonly resourceFor: ((detection: Detection) => WorkloadResource | undefined) | undefined;
  private readonly now: () => bigint;
  /** Records in the processor's queue: added on emit, removed when a batch reaches the exporter. */
  private queued = 0;
  private closed = false;
  private shutdownPromise: Promise<void> | undefined;

  constructor(options: OtlpLogSinkOptions) {
    this.counters = options.counters ?? NOOP_EXPORT_COUNTERS;
    this.maxQueueSize = options.maxQueueSize ?? 2048;
    this.shutdownTimeoutMillis = options.shutdownTimeoutMillis ?? 10_000;
    this.version = options.version;
    this.attributeOptions =
      options.includeCommandLine === undefined ? {} : { includeCommandLine: options.includeCommandLine };
    this.resourceFor = options.resourceFor;
    this.now = options.now ?? nowNs;
    const attemptTimeoutMillis = options.attemptTimeoutMillis ?? 10_000;
    const retry: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };

    const transport =
      options.transport ??
      new OTLPLogExporter({ url: options.endpoint, timeoutMillis: attemptTimeoutMillis });
    this.retrying = new RetryingLogExporter(transport, retry);
    this.counting = new CountingLogExporter(this.retrying, this.counters, (n) => {
      this.queued = Math.max(0, this.queued - n);
    });
    this.processor = new BatchLogRecordProcessor({
      exporter: this.counting,
      maxQueueSize: this.maxQueueSize,
      maxExportBatchSize: Math.min(options.maxExportBatchSize ?? 512, this.maxQueueSize),
      scheduledDelayMillis: options.scheduledDelayMillis ?? 1000,
      // The processor waits this long for one batch before moving on: enough for every retry.
      exportTimeoutMillis: retry.maxElapsedMs + attemptTimeoutMillis + 1000,
    });
    this.counters.queueLength(() => this.queued);

    this.sensorResource = resourceFromAttributes({
      [RESOURCE_ATTR_SERVICE_NAME]: SENSOR_SERVICE_NAME,
      [RESOURCE_ATTR_SERVICE_VERSION]: options.version,
      [RESOURCE_ATTR_HOST_NAME]: options.hostname ?? osHostname(),
    });
    this.sensorLogger = this.loggerFor(this.sensorResource);
  }

  /** Records accepted and not yet handed to the exporter. */
  get queueLength(): number {
    return this.queued;
  }

  emit(detection: Detection): void {
    if (this.closed || this.queued >= this.maxQueueSize) {
      this.counters.dropped(1);
      return;
    }
    const { rule } = detection;
    this.logger(detection).emit({
      eventName: DETECTION_EVENT_NAME,
      timestamp: nsToHrTime(detection.event.event.tsNs),
      observedTimestamp: nsToHrTime(this.now()),
      severityNumber: severityNumber(rule.priority),
      severityText: priorityName(rule.priority),
      body: detection.output,
      attributes: detectionAttributes(detection, this.attributeOptions),
    });
    this.queued++;
  }

  /** Exports everything queued now (tests; a SIGUSR1-style flush). */
  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }

  /**
   * Flushes then closes, within shutdownTimeoutMillis. Past that, pending
   * retries are abandoned (counted failed) and whatever is still queued is
   * counted dropped, so the agent can exit on time.
   */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.shutdownOnce();
    return this.shutdownPromise;
  }

  private async shutdownOnce(): Promise<void> {
    this.closed = true;
    // processor.shutdown(): flush the queue, wait for exports, then shut the exporter chain down.
    const flushed = this.processor.shutdown().then(
      () => "done" as const,
      () => "done" as const,
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.shutdownTimeoutMillis);
    });
    const outcome = await Promise.race([flushed, timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.counting.abandon();
      this.counters.dropped(this.queued);
      this.queued = 0;
      // Not awaited: an attempt already on the wire ends at its own deadline, and must not hold exit up.
      this.retrying.shutdown().catch(() => {});
    }
  }

  private logger(detection: Detection): Logger {
    if (this.resourceFor === undefined) return this.sensorLogger;
    const workload = this.resourceFor(detection);
    if (workload === undefined) return this.sensorLogger;
    let logger = this.workloadLoggers.get(workload.key);
    if (logger === undefined) {
      if (this.workloadLoggers.size >= MAX_RESOURCES) return this.sensorLogger;
      logger = this.loggerFor(this.sensorResource.merge(resourceFromAttributes(workload.attributes)));
      this.workloadLoggers.set(workload.key, logger);
    }
    return logger;
  }

  /**
   * One LoggerProvider per resource, all sharing the one batch processor:
   * the OTLP serializer groups a batch by resource, so records of different
   * workloads travel in one request under their own resources.
   */
  private loggerFor(resource: Resource): Logger {
    const provider = new LoggerProvider({
      resource,
      processors: [this.processor],
      logRecordLimits: LOG_RECORD_LIMITS,
    });
    return provider.getLogger(SENSOR_SERVICE_NAME, this.version);
  }
}

export function createOtlpLogSink(options: OtlpLogSinkOptions): OtlpLogSink {
  return new OtlpLogSink(options);
}

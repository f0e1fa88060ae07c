import type { LogAttributes, Logger } from "@opentelemetry/api-logs";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { LoggerProvider, type LogRecordLimits } from "@opentelemetry/sdk-logs";
import type { ProcessInfo } from "../enrich/process-info.js";
import type { Detection } from "../rules/detection.js";
import { severityNumber } from "../rules/priority.js";
import {
  type DetectionAttributeOptions,
  detectionOwnAttributes,
  processAttributes,
  ruleAttributes,
} from "./detection-attributes.js";
import { createOtlpExporter, type OtlpExporter, type TransportOptions } from "./otlp-exporter.js";
import { priorityName } from "./priority-name.js";
import { NO_SANITIZER, type Sanitizer } from "./sanitize.js";
import { type BackoffPolicy, DurableLogRecordProcessor } from "./sdk-delivery.js";
import { DETECTION_EVENT_NAME } from "./semconv.js";
import { type DetectionSink, type ExportCounters, NOOP_EXPORT_COUNTERS } from "./sink.js";
import { Spool } from "./spool.js";
import { nowNs, nsToHrTime } from "./time.js";
import {
  type HostIdentity,
  hostIdentity,
  type ResourceMode,
  ResourceResolver,
  SENSOR_SERVICE_NAME,
} from "./workload-resource.js";

/** The `exporter` label of this sink's metrics. */
export const OTLP_LOGS_SINK_NAME = "otlp";
export { SENSOR_SERVICE_NAME } from "./workload-resource.js";

export interface SpoolSettings {
  readonly dir: string;
  readonly maxBytes: number;
}

export interface OtlpLogSinkOptions extends Omit<DetectionAttributeOptions, "workloadOnRecord"> {
  /** Where and how to send (see resolveOtlpTransport), or a ready SDK exporter (tests, benchmarks). */
  transport: TransportOptions | OtlpExporter;
  /** The sensor's version: the instrumentation scope version (and service.version of the sensor resource). */
  version: string;
  /** host.name (default os.hostname()). */
  hostname?: string;
  /** The host part of every resource (default: read from this machine). */
  host?: HostIdentity;
  /** "workload" (default): the resource is the affected workload; "sensor": one resource, the sensor. */
  resource?: ResourceMode;
  counters?: ExportCounters;
  /** Records in memory. Default 2048. */
  maxQueueSize?: number;
  /** Default 512. */
  maxExportBatchSize?: number;
  /** Requests on the wire at once (default 2; the spool drains one at a time). */
  maxConcurrentExports?: number;
  /** How long a record may wait for a batch to fill. Default 200 ms. */
  scheduledDelayMillis?: number;
  /** On-disk spool for when the collector is away; undefined: none (records wait in memory, up to the bound). */
  spool?: SpoolSettings;
  backoff?: Partial<BackoffPolicy>;
  /** shutdown() delivers for at most this long, then spools (or drops) the rest. Default 10 000 ms. */
  shutdownTimeoutMillis?: number;
  /** Epoch ns for observedTimestamp (tests pin it). */
  now?: () => bigint;
  /** Told about delivery problems (the caller rate-limits). */
  onError?: (message: string) => void;
}

/**
 * Loki keeps at most 128 structured-metadata entries per record, so more
 * would be cut there anyway; 8 Ki characters per value. The SDK applies
 * them and counts what it drops in dropped_attributes_count.
 */
export const LOG_RECORD_LIMITS: Required<LogRecordLimits> = {
  attributeCountLimit: 128,
  attributeValueLengthLimit: 8192,
};

function isExporter(t: TransportOptions | OtlpExporter): t is OtlpExporter {
  return typeof (t as OtlpExporter).exporter === "object";
}

/**
 * Detections as OTLP log records, made with the OpenTelemetry logs SDK:
 * one record per detection, body = the rendered output (sanitized),
 * EventName "peregrine.detection", severity from the rule priority,
 * timestamp = the kernel's event time, resource = the workload.
 *
 * One LoggerProvider per workload resource (made once, at most 1024, see
 * ResourceResolver), all feeding one DurableLogRecordProcessor, which
 * batches, sends through the SDK's OTLP exporter (gRPC or HTTP/protobuf),
 * spools and counts. The exporter's serializer groups a batch by resource,
 * so records of different workloads travel in one request, each under its
 * own resource.
 */
export class OtlpLogSink implements DetectionSink {
  readonly name = OTLP_LOGS_SINK_NAME;
  readonly spool: Spool | undefined;
  private readonly processor: DurableLogRecordProcessor;
  private readonly loggers: ResourceResolver<Logger>;
  private readonly attributeOptions: DetectionAttributeOptions;
  private readonly ownAttributeOptions: DetectionAttributeOptions;
  private readonly sanitizer: Sanitizer;
  private readonly now: () => bigint;

  constructor(options: OtlpLogSinkOptions) {
    const counters = options.counters ?? NOOP_EXPORT_COUNTERS;
    this.now = options.now ?? nowNs;
    this.sanitizer = options.sanitizer ?? NO_SANITIZER;
    const exporter = isExporter(options.transport)
      ? options.transport
      : createOtlpExporter(options.transport, Math.max(2, options.maxConcurrentExports ?? 2) + 1);
    this.spool = options.spool === undefined ? undefined : Spool.open(options.spool);
    this.processor = new DurableLogRecordProcessor({
      exporter,
      spool: this.spool,
      counters,
      ...(options.maxQueueSize !== undefined && { maxQueueSize: options.maxQueueSize }),
      ...(options.maxExportBatchSize !== undefined && { maxBatchSize: options.maxExportBatchSize }),
      ...(options.maxConcurrentExports !== undefined && {
        maxConcurrentExports: options.maxConcurrentExports,
      }),
      ...(options.scheduledDelayMillis !== undefined && {
        scheduledDelayMillis: options.scheduledDelayMillis,
      }),
      ...(options.backoff !== undefined && { backoff: options.backoff }),
      ...(options.shutdownTimeoutMillis !== undefined && {
        shutdownTimeoutMillis: options.shutdownTimeoutMillis,
      }),
      ...(options.onError !== undefined && { onError: options.onError }),
    });
    const processors = [this.processor];
    const version = options.version;
    this.loggers = new ResourceResolver<Logger>({
      mode: options.resource ?? "workload",
      host: options.host ?? hostIdentity(options.hostname),
      version,
      // Scope: the sensor (name + version), the same on every resource.
      make: (attributes) =>
        new LoggerProvider({
          resource: resourceFromAttributes(attributes as Parameters<typeof resourceFromAttributes>[0]),
          processors,
          logRecordLimits: LOG_RECORD_LIMITS,
        }).getLogger(SENSOR_SERVICE_NAME, version),
    });
    this.attributeOptions = {
      sanitizer: this.sanitizer,
      workloadOnRecord: this.loggers.workloadOnRecord,
      ...(options.includeCommandLine !== undefined && { includeCommandLine: options.includeCommandLine }),
    };
    this.ownAttributeOptions = { ...this.attributeOptions, skipProcess: true };
  }

  /** process.* / user.* of a process, built once per process state (a process raises detections in bursts). */
  private readonly processCache = new WeakMap<ProcessInfo, CachedProcess>();

  private processAttributesOf(detection: Detection): LogAttributes | undefined {
    const process = detection.event.process;
    if (process === undefined) return undefined;
    const cached = this.processCache.get(process);
    // The table updates a process in place (exec, setuid, chdir): reuse only while what we read is unchanged.
    if (cached !== undefined && sameProcessState(cached, process)) return cached.attributes;
    const attributes = processAttributes(process, detection.event.users, this.attributeOptions);
    this.processCache.set(process, { ...snapshot(process), attributes });
    return attributes;
  }

  /** Records in memory, not yet acknowledged. */
  get queueLength(): number {
    return this.processor.queueLength;
  }

  emit(detection: Detection): void {
    const { rule } = detection;
    const attributes = detectionOwnAttributes(
      detection,
      this.ownAttributeOptions,
      startAttributes(ruleAttributes(rule), this.processAttributesOf(detection)),
    );
    this.loggers.resourceOf(detection).emit({
      eventName: DETECTION_EVENT_NAME,
      timestamp: nsToHrTime(detection.event.event.tsNs),
      observedTimestamp: nsToHrTime(this.now()),
      severityNumber: severityNumber(rule.priority),
      severityText: priorityName(rule.priority),
      body: this.sanitizer.text(detection.output),
      attributes,
    });
  }

  /** Sends what is queued now; resolves when delivered or when the collector is failing. */
  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }

  /**
   * Delivers what is queued within shutdownTimeoutMillis; what is left goes
   * to the spool (or is counted dropped without one).
   */
  shutdown(): Promise<void> {
    return this.processor.shutdown();
  }
}

/**
 * A record's attributes start as a copy of the rule's (security_rule.*) and
 * the process's (process.*, user.*), both built once; the detection's own
 * are added to it. The SDK copies the result into the record.
 */
function startAttributes(rule: LogAttributes, process: LogAttributes | undefined): LogAttributes {
  const out: LogAttributes = {};
  for (const key in rule) out[key] = rule[key];
  if (process !== undefined) for (const key in process) out[key] = process[key];
  return out;
}

/** The ProcessInfo fields processAttributes() reads. */
interface ProcessState {
  readonly ppid: number;
  readonly name: string;
  readonly exePath: string;
  readonly argv: readonly string[];
  readonly vpid: number;
  readonly cwd: string;
  readonly startNs: bigint;
  readonly tty: number;
  readonly sid: number;
  readonly euid: number;
  readonly uid: number;
  readonly container: ProcessInfo["container"];
}

interface CachedProcess extends ProcessState {
  readonly attributes: LogAttributes;
}

function snapshot(p: ProcessInfo): ProcessState {
  return {
    ppid: p.ppid,
    name: p.name,
    exePath: p.exePath,
    argv: p.argv,
    vpid: p.vpid,
    cwd: p.cwd,
    startNs: p.startNs,
    tty: p.tty,
    sid: p.sid,
    euid: p.euid,
    uid: p.uid,
    container: p.container,
  };
}

function sameProcessState(a: ProcessState, p: ProcessInfo): boolean {
  return (
    a.argv === p.argv &&
    a.exePath === p.exePath &&
    a.cwd === p.cwd &&
    a.euid === p.euid &&
    a.uid === p.uid &&
    a.ppid === p.ppid &&
    a.name === p.name &&
    a.vpid === p.vpid &&
    a.startNs === p.startNs &&
    a.tty === p.tty &&
    a.sid === p.sid &&
    a.container === p.container
  );
}

export function createOtlpLogSink(options: OtlpLogSinkOptions): OtlpLogSink {
  return new OtlpLogSink(options);
}

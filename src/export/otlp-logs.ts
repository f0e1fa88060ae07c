import type { LogAttributes } from "@opentelemetry/api-logs";
import type { LogRecordLimits } from "@opentelemetry/sdk-logs";
import type { ProcessInfo } from "../enrich/process-info.js";
import type { Detection } from "../rules/detection.js";
import { severityNumber } from "../rules/priority.js";
import {
  type DetectionAttributeOptions,
  detectionOwnAttributes,
  processAttributes,
  ruleAttributes,
} from "./detection-attributes.js";
import { type DetectionRecord, makeOrigin, type RecordOrigin } from "./detection-record.js";
import { defaultExportWorkers, ExportWorkerPool } from "./export-workers.js";
import {
  createOtlpExporter,
  exportRecords,
  type OtlpExporter,
  type TransportOptions,
} from "./otlp-exporter.js";
import { priorityName } from "./priority-name.js";
import { NO_SANITIZER, type Sanitizer } from "./sanitize.js";
import { type BackoffPolicy, DurableDelivery, type RecordTransport } from "./sdk-delivery.js";
import { SdkRecordMaker } from "./sdk-records.js";
import { DETECTION_EVENT_NAME } from "./semconv.js";
import { type DetectionSink, type ExportCounters, NOOP_EXPORT_COUNTERS } from "./sink.js";
import { Spool } from "./spool.js";
import { detectionFromSpoolEntry, detectionToSpoolEntry } from "./spool-codec.js";
import { nowNs } from "./time.js";
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
  /** Where and how to send (see resolveOtlpTransport), or a ready SDK exporter (tests; used in this thread). */
  transport: TransportOptions | OtlpExporter;
  /**
   * Worker threads that make the SDK records and run the SDK exporter
   * (export-workers.ts). Default: one per core, at most 4. 0: in this
   * thread (as with a ready exporter).
   */
  exportWorkers?: number;
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
 * emit() maps the detection to a DetectionRecord (plain data: its
 * workload's origin, made once per workload, at most 1024, see
 * ResourceResolver; the rule's and the process's attributes, made once;
 * the detection's own) and queues it in a DurableDelivery, which batches,
 * spools and counts. Each batch goes to an export worker thread
 * (export-workers.ts) that makes the SDK records — one LoggerProvider per
 * workload resource — and sends them with the SDK's OTLP exporter (gRPC or
 * HTTP/protobuf). The exporter's serializer groups a batch by resource, so
 * records of different workloads travel in one request, each under its
 * own resource.
 */
export class OtlpLogSink implements DetectionSink {
  readonly name = OTLP_LOGS_SINK_NAME;
  readonly spool: Spool | undefined;
  /** Export worker threads making and sending the SDK records (0: in this thread). */
  readonly exportWorkers: number;
  private readonly delivery: DurableDelivery<DetectionRecord>;
  /**
   * Resolves once the export workers have started (loaded the SDK and made
   * their exporter: a few hundred ms). Records emitted before wait in
   * memory (or the spool) and go out then.
   */
  readonly ready: Promise<void>;
  private readonly origins: ResourceResolver<RecordOrigin>;
  private readonly attributeOptions: DetectionAttributeOptions;
  private readonly ownAttributeOptions: DetectionAttributeOptions;
  private readonly sanitizer: Sanitizer;
  private readonly now: () => bigint;

  constructor(options: OtlpLogSinkOptions) {
    const counters = options.counters ?? NOOP_EXPORT_COUNTERS;
    this.now = options.now ?? nowNs;
    this.sanitizer = options.sanitizer ?? NO_SANITIZER;
    const maxInFlight = Math.max(1, options.maxConcurrentExports ?? 2);
    // The spool first: when it cannot be had (locked by another agent), no worker has been started yet.
    this.spool = options.spool === undefined ? undefined : Spool.open(options.spool);
    let transport: RecordTransport<DetectionRecord>;
    this.exportWorkers = isExporter(options.transport)
      ? 0
      : Math.max(0, options.exportWorkers ?? defaultExportWorkers());
    try {
      transport =
        isExporter(options.transport) || this.exportWorkers === 0
          ? inThreadTransport(options.transport, maxInFlight + 1)
          : new ExportWorkerPool({
              transport: options.transport,
              workers: this.exportWorkers,
              concurrencyLimit: maxInFlight + 1,
              limits: LOG_RECORD_LIMITS,
              onLog: options.onError ?? (() => {}),
            });
    } catch (error) {
      this.spool?.close(); // a bad certificate file: release the spool's lock for the caller's next try
      throw error;
    }
    this.ready = transport.ready ?? Promise.resolve();
    this.delivery = new DurableDelivery<DetectionRecord>({
      transport,
      codec: { toSpoolEntry: detectionToSpoolEntry, fromSpoolEntry: detectionFromSpoolEntry },
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
    const version = options.version;
    this.origins = new ResourceResolver<RecordOrigin>({
      mode: options.resource ?? "workload",
      host: options.host ?? hostIdentity(options.hostname),
      version,
      // Scope: the sensor (name + version), the same on every resource.
      make: (attributes) => makeOrigin(attributes, SENSOR_SERVICE_NAME, version),
    });
    this.attributeOptions = {
      sanitizer: this.sanitizer,
      workloadOnRecord: this.origins.workloadOnRecord,
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
    return this.delivery.queueLength;
  }

  emit(detection: Detection): void {
    this.delivery.push(this.toRecord(detection));
  }

  /** The record emit() queues for a detection (also what the export cost bench measures). */
  toRecord(detection: Detection): DetectionRecord {
    const { rule } = detection;
    const own = detectionOwnAttributes(detection, this.ownAttributeOptions);
    const process = this.processAttributesOf(detection);
    return {
      origin: this.origins.resourceOf(detection),
      timeNs: detection.event.event.tsNs,
      observedNs: this.now(),
      severityNumber: severityNumber(rule.priority),
      severityText: priorityName(rule.priority),
      body: this.sanitizer.text(detection.output),
      eventName: DETECTION_EVENT_NAME,
      attributes: process === undefined ? [ruleAttributes(rule), own] : [ruleAttributes(rule), process, own],
    };
  }

  /** Sends what is queued now; resolves when delivered or when the collector is failing. */
  forceFlush(): Promise<void> {
    return this.delivery.forceFlush();
  }

  /**
   * Delivers what is queued within shutdownTimeoutMillis; what is left goes
   * to the spool (or is counted dropped without one).
   */
  shutdown(): Promise<void> {
    return this.delivery.shutdown();
  }
}

/** The SDK exporter in this thread: records made here, by the same maker the workers use. */
function inThreadTransport(
  transport: TransportOptions | OtlpExporter,
  concurrencyLimit: number,
): RecordTransport<DetectionRecord> {
  const target = isExporter(transport) ? transport : createOtlpExporter(transport, concurrencyLimit);
  const maker = new SdkRecordMaker(LOG_RECORD_LIMITS);
  return {
    protocol: target.protocol,
    endpoint: target.endpoint,
    send: (batch) => {
      try {
        return exportRecords(target, maker.make(batch));
      } catch (error) {
        return Promise.resolve({ kind: "fail", error: `making SDK records: ${(error as Error).message}` });
      }
    },
    renew: () => target.renew?.(),
    shutdown: () => target.exporter.shutdown(),
  };
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

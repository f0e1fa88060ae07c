import type { ProcessInfo } from "../enrich/process-info.js";
import type { Detection, RuleInfo } from "../rules/detection.js";
import { severityNumber } from "../rules/priority.js";
import { type BackoffPolicy, Delivery } from "./delivery.js";
import {
  type DetectionAttributeOptions,
  detectionOwnAttributes,
  processAttributes,
  ruleAttributes,
} from "./detection-attributes.js";
import {
  DEFAULT_ATTRIBUTE_LIMITS,
  type EncodedAttributes,
  encodeAttributes,
  encodeLogRecord,
  ProtoWriter,
} from "./otlp-encode.js";
import { createTransport, type OtlpTransport, type TransportOptions } from "./otlp-transport.js";
import { priorityName } from "./priority-name.js";
import { NO_SANITIZER, type Sanitizer } from "./sanitize.js";
import { DETECTION_EVENT_NAME } from "./semconv.js";
import { type DetectionSink, type ExportCounters, NOOP_EXPORT_COUNTERS } from "./sink.js";
import { Spool } from "./spool.js";
import { nowNs } from "./time.js";
import { type HostIdentity, hostIdentity, type ResourceMode, ResourceResolver } from "./workload-resource.js";

/** The `exporter` label of this sink's metrics. */
export const OTLP_LOGS_SINK_NAME = "otlp";
export { SENSOR_SERVICE_NAME } from "./workload-resource.js";

export interface SpoolSettings {
  readonly dir: string;
  readonly maxBytes: number;
}

export interface OtlpLogSinkOptions extends Omit<DetectionAttributeOptions, "workloadOnRecord"> {
  /** Where and how to send (see resolveOtlpTransport), or a ready transport (tests, benchmarks). */
  transport: TransportOptions | OtlpTransport;
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

function isTransport(t: TransportOptions | OtlpTransport): t is OtlpTransport {
  return typeof (t as OtlpTransport).send === "function";
}

/**
 * Detections as OTLP log records: one record per detection, body = the
 * rendered output (sanitized), EventName "peregrine.detection", severity
 * from the rule priority, timestamp = the kernel's event time, resource =
 * the workload. emit() encodes the record straight to protobuf and queues
 * it; Delivery batches, sends, spools and counts.
 */
export class OtlpLogSink implements DetectionSink {
  readonly name = OTLP_LOGS_SINK_NAME;
  readonly spool: Spool | undefined;
  private readonly delivery: Delivery;
  private readonly resources: ResourceResolver;
  private readonly writer = new ProtoWriter(16_384);
  private readonly attributeOptions: DetectionAttributeOptions;
  private readonly ownAttributeOptions: DetectionAttributeOptions;
  private readonly sanitizer: Sanitizer;
  private readonly now: () => bigint;
  private readonly shutdownTimeoutMillis: number;
  private readonly counters: ExportCounters;
  private shutdownPromise: Promise<void> | undefined;

  constructor(options: OtlpLogSinkOptions) {
    this.counters = options.counters ?? NOOP_EXPORT_COUNTERS;
    this.now = options.now ?? nowNs;
    this.shutdownTimeoutMillis = options.shutdownTimeoutMillis ?? 10_000;
    this.sanitizer = options.sanitizer ?? NO_SANITIZER;
    this.resources = new ResourceResolver({
      mode: options.resource ?? "workload",
      host: options.host ?? hostIdentity(options.hostname),
      version: options.version,
    });
    this.attributeOptions = {
      sanitizer: this.sanitizer,
      workloadOnRecord: this.resources.workloadOnRecord,
      ...(options.includeCommandLine !== undefined && { includeCommandLine: options.includeCommandLine }),
    };
    this.ownAttributeOptions = { ...this.attributeOptions, skipProcess: true };
    const transport = isTransport(options.transport) ? options.transport : createTransport(options.transport);
    this.spool = options.spool === undefined ? undefined : Spool.open(options.spool);
    this.delivery = new Delivery({
      transport,
      spool: this.spool,
      counters: this.counters,
      ...(options.maxQueueSize !== undefined && { maxQueueSize: options.maxQueueSize }),
      ...(options.maxExportBatchSize !== undefined && { maxBatchSize: options.maxExportBatchSize }),
      ...(options.maxConcurrentExports !== undefined && {
        maxConcurrentExports: options.maxConcurrentExports,
      }),
      ...(options.scheduledDelayMillis !== undefined && {
        scheduledDelayMillis: options.scheduledDelayMillis,
      }),
      ...(options.backoff !== undefined && { backoff: options.backoff }),
      ...(options.onError !== undefined && { onError: options.onError }),
    });
  }

  /** security_rule.* and the rule's tags/source, encoded once per loaded rule. */
  private readonly encodedRules = new WeakMap<RuleInfo, EncodedAttributes>();

  /** process.* / user.* of a process, encoded once per process state (a process raises detections in bursts). */
  private readonly encodedProcesses = new WeakMap<ProcessInfo, EncodedProcess>();

  private processAttributesOf(detection: Detection): EncodedAttributes | undefined {
    const process = detection.event.process;
    if (process === undefined) return undefined;
    const cached = this.encodedProcesses.get(process);
    // The table updates a process in place (exec, setuid, chdir): reuse only while what we encode is unchanged.
    if (cached !== undefined && sameProcessState(cached, process)) return cached.encoded;
    const encoded = encodeAttributes(
      processAttributes(process, detection.event.users, this.attributeOptions),
      DEFAULT_ATTRIBUTE_LIMITS,
    );
    this.encodedProcesses.set(process, { ...snapshot(process), encoded });
    return encoded;
  }

  private ruleAttributesOf(rule: RuleInfo): EncodedAttributes {
    let encoded = this.encodedRules.get(rule);
    if (encoded === undefined) {
      encoded = encodeAttributes(ruleAttributes(rule), DEFAULT_ATTRIBUTE_LIMITS);
      this.encodedRules.set(rule, encoded);
    }
    return encoded;
  }

  /** Records in memory, not yet acknowledged. */
  get queueLength(): number {
    return this.delivery.queueLength;
  }

  emit(detection: Detection): void {
    const { rule } = detection;
    const severity = severityNumber(rule.priority);
    const record = encodeLogRecord(
      this.writer,
      {
        timeUnixNano: detection.event.event.tsNs,
        observedTimeUnixNano: this.now(),
        severityNumber: severity,
        severityText: priorityName(rule.priority),
        body: this.sanitizer.text(detection.output),
        attributes: detectionOwnAttributes(detection, this.ownAttributeOptions),
        eventName: DETECTION_EVENT_NAME,
      },
      DEFAULT_ATTRIBUTE_LIMITS,
      this.ruleAttributesOf(rule),
      this.processAttributesOf(detection),
    );
    this.delivery.enqueue({ resource: this.resources.resourceOf(detection), severity, record });
  }

  /** Sends what is queued now; resolves when delivered or when the collector is failing. */
  forceFlush(): Promise<void> {
    return this.delivery.flush();
  }

  /**
   * Delivers what is queued within shutdownTimeoutMillis; what is left goes
   * to the spool (or is counted dropped without one).
   */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.delivery.shutdown(this.shutdownTimeoutMillis);
    return this.shutdownPromise;
  }
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

interface EncodedProcess extends ProcessState {
  readonly encoded: EncodedAttributes;
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

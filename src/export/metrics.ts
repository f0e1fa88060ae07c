import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { KernelStats } from "../decode/events.js";
import type { RuleInfo } from "../rules/detection.js";
import { priorityName } from "./priority-name.js";
import type { ExportCounters } from "./sink.js";

/** Every metric name starts with it. */
export const METRIC_PREFIX = "peregrine_";

export interface MetricsOptions {
  /** The sensor's version, for peregrine_build_info. */
  version: string;
  /** Node.js process metrics (CPU, memory, event loop lag, GC) under the same prefix. Default true. */
  defaultMetrics?: boolean;
}

/** A value of a label whose values come from outside (event types, error reasons, sink names). */
const MAX_LABEL_VALUES = 64;
const OTHER = "other";

/**
 * Seconds per event. Rule evaluation takes microseconds per event, so the
 * buckets start at 1 µs; the caller observes a batch's time divided by its
 * size (or a sample of events), never each event.
 */
const RULE_EVALUATION_BUCKETS = [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2];

/** One label set of a BufferedCounter: add() is a plain number add, safe on the hot path. */
export class CounterHandle {
  pending = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}
  inc(n = 1): void {
    this.pending += n;
  }
}

/**
 * A prom-client Counter fed from plain-number handles and folded in at
 * scrape time (prom-client's own inc() hashes the labels on every call,
 * too slow for per-event counting). A handle's series exists at 0 from the
 * moment the handle is made.
 */
class BufferedCounter {
  private readonly counter: Counter;
  private readonly handles = new Map<string, CounterHandle>();

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    const handles = this.handles;
    this.counter = new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        for (const handle of handles.values()) {
          if (handle.pending === 0) continue;
          this.inc(handle.labels, handle.pending);
          handle.pending = 0;
        }
      },
    });
  }

  handle(labels: Readonly<Record<string, string>>): CounterHandle {
    const key = Object.values(labels).join("\u0000");
    let handle = this.handles.get(key);
    if (handle === undefined) {
      handle = new CounterHandle(labels);
      this.handles.set(key, handle);
      this.counter.inc(labels, 0);
    }
    return handle;
  }
}

/** Keeps a label's cardinality bounded: the first MAX_LABEL_VALUES values pass, later ones become "other". */
class BoundedLabel {
  private readonly seen = new Set<string>();
  value(v: string): string {
    if (this.seen.has(v)) return v;
    if (this.seen.size >= MAX_LABEL_VALUES) return OTHER;
    this.seen.add(v);
    return v;
  }
}

/** Counts since load → deltas; a total that went down means the loader restarted (a counter reset). */
function delta(current: number, previous: number): number {
  return current >= previous ? current - previous : current;
}

/**
 * The agent's Prometheus metrics, in a registry of their own (never the
 * global one, so tests and embedders can hold several). Names carry the
 * unit and counters end in _total; labels are bounded (no pid, no pod).
 */
export class PeregrineMetrics {
  readonly registry = new Registry();
  private readonly ruleMatches: BufferedCounter;
  private readonly ruleHandles = new Map<string, CounterHandle>();
  private readonly ruleHandlesByInfo = new WeakMap<RuleInfo, CounterHandle>();
  private readonly events: BufferedCounter;
  private readonly eventHandles = new Map<string, CounterHandle>();
  private readonly eventTypes = new BoundedLabel();
  private readonly decoderErrors: BufferedCounter;
  private readonly decoderReasons = new BoundedLabel();
  private readonly exportRecords: BufferedCounter;
  private readonly exporterNames = new BoundedLabel();
  private readonly queueReaders = new Map<string, () => number>();
  private readonly kernelSeen: CounterHandle;
  private readonly kernelEmitted: CounterHandle;
  private readonly kernelRingbufFull: CounterHandle;
  private readonly kernelTruncated: CounterHandle;
  private readonly kernelReadFailed: CounterHandle;
  private lastKernel: KernelStats | undefined;
  private readonly ruleEvaluation: Histogram;
  private processTableReader: (() => number) | undefined;

  constructor(options: MetricsOptions) {
    const r = this.registry;
    const p = METRIC_PREFIX;

    const buildInfo = new Gauge({
      name: `${p}build_info`,
      help: "Always 1; the label carries the sensor's version.",
      labelNames: ["version"],
      registers: [r],
    });
    buildInfo.set({ version: options.version }, 1);

    this.ruleMatches = new BufferedCounter(r, `${p}rule_matches_total`, "Detections, by rule.", [
      "rule",
      "priority",
      "source",
    ]);
    this.events = new BufferedCounter(r, `${p}events_total`, "Events decoded, by Falco evt.type.", ["type"]);
    this.decoderErrors = new BufferedCounter(
      r,
      `${p}decoder_errors_total`,
      "Records the decoder counted and skipped, by reason.",
      ["reason"],
    );
    this.exportRecords = new BufferedCounter(
      r,
      `${p}export_records_total`,
      "Detection records by exporter and outcome: sent (acknowledged), failed (given up after trying), dropped (never attempted: queue full or shut down).",
      ["exporter", "result"],
    );

    // Kernel counters (enum pg_counter in bpf/include/peregrine_wire.h), summed over CPUs by the loader.
    const kernel = (name: string, help: string) => new BufferedCounter(r, `${p}${name}`, help, []).handle({});
    this.kernelSeen = kernel(
      "kernel_events_seen_total",
      "Tracepoint hits of watched syscalls (PG_CNT_EVENTS_SEEN).",
    );
    this.kernelEmitted = kernel(
      "kernel_events_total",
      "Records the kernel submitted to the ring buffer (PG_CNT_EVENTS_EMITTED).",
    );
    this.kernelRingbufFull = new BufferedCounter(
      r,
      `${p}kernel_drops_total`,
      "Records the kernel lost, by reason (ringbuf_full: PG_CNT_RINGBUF_FULL).",
      ["reason"],
    ).handle({ reason: "ringbuf_full" });
    this.kernelTruncated = kernel(
      "kernel_truncated_total",
      "Records whose strings were cut to fit (PG_CNT_TRUNCATED).",
    );
    this.kernelReadFailed = kernel(
      "kernel_read_failures_total",
      "User or kernel memory reads that failed (PG_CNT_READ_FAILED).",
    );

    const queueReaders = this.queueReaders;
    new Gauge({
      name: `${p}export_queue_length`,
      help: "Detection records waiting in an exporter's queue.",
      labelNames: ["exporter"],
      registers: [r],
      collect() {
        for (const [exporter, read] of queueReaders) this.set({ exporter }, read());
      },
    });

    this.ruleEvaluation = new Histogram({
      name: `${p}rule_evaluation_seconds`,
      help: "Time to evaluate the rules against one event (observed per batch or on a sample).",
      buckets: RULE_EVALUATION_BUCKETS,
      registers: [r],
    });

    const metrics = this;
    new Gauge({
      name: `${p}process_table_size`,
      help: "Processes in the process table.",
      registers: [r],
      collect() {
        if (metrics.processTableReader !== undefined) this.set(metrics.processTableReader());
      },
    });

    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: r, prefix: p });
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Creates every loaded rule's series at 0, so a rule that never fired is visible as such. */
  initRules(rules: readonly RuleInfo[]): void {
    for (const rule of rules) this.ruleHandle(rule);
  }

  ruleMatched(rule: RuleInfo): void {
    this.ruleHandle(rule).inc();
  }

  /** One decoded event of Falco type `type` ("openat", "execve", …). */
  eventDecoded(type: string, n = 1): void {
    let handle = this.eventHandles.get(type);
    if (handle === undefined) {
      handle = this.events.handle({ type: this.eventTypes.value(type) });
      this.eventHandles.set(type, handle);
    }
    handle.inc(n);
  }

  decoderError(reason: string, n = 1): void {
    this.decoderErrors.handle({ reason: this.decoderReasons.value(reason) }).inc(n);
  }

  /** A stats record from the loader: totals since load, turned into counter increments. */
  kernelStats(stats: KernelStats): void {
    const last = this.lastKernel;
    this.kernelSeen.inc(delta(stats.eventsSeen, last?.eventsSeen ?? 0));
    this.kernelEmitted.inc(delta(stats.eventsEmitted, last?.eventsEmitted ?? 0));
    this.kernelRingbufFull.inc(delta(stats.ringbufFull, last?.ringbufFull ?? 0));
    this.kernelTruncated.inc(delta(stats.truncated, last?.truncated ?? 0));
    this.kernelReadFailed.inc(delta(stats.readFailed, last?.readFailed ?? 0));
    this.lastKernel = stats;
  }

  /** Seconds spent evaluating rules per event (a batch's time over its size). */
  observeRuleEvaluation(secondsPerEvent: number): void {
    this.ruleEvaluation.observe(secondsPerEvent);
  }

  /** Where the process-table size is read from at scrape time. */
  processTableSize(read: () => number): void {
    this.processTableReader = read;
  }

  /** Counters for one exporter, label values bound once; its three result series start at 0. */
  exportCounters(exporter: string): ExportCounters {
    const name = this.exporterNames.value(exporter);
    const sent = this.exportRecords.handle({ exporter: name, result: "sent" });
    const failed = this.exportRecords.handle({ exporter: name, result: "failed" });
    const dropped = this.exportRecords.handle({ exporter: name, result: "dropped" });
    const queueReaders = this.queueReaders;
    return {
      sent: (n) => sent.inc(n),
      failed: (n) => failed.inc(n),
      dropped: (n) => dropped.inc(n),
      queueLength(read) {
        queueReaders.set(name, read);
      },
    };
  }

  private ruleHandle(rule: RuleInfo): CounterHandle {
    let handle = this.ruleHandlesByInfo.get(rule);
    if (handle !== undefined) return handle;
    const key = `${rule.source}\u0000${rule.name}`;
    handle = this.ruleHandles.get(key);
    if (handle === undefined) {
      handle = this.ruleMatches.handle({
        rule: rule.name,
        priority: priorityName(rule.priority),
        source: rule.source,
      });
      this.ruleHandles.set(key, handle);
    }
    this.ruleHandlesByInfo.set(rule, handle);
    return handle;
  }
}

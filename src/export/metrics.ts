import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  Registry,
  type RegistryContentType,
} from "prom-client";
import type { KernelStats } from "../decode/events.js";
import type { Detection, RuleInfo } from "../rules/detection.js";
import { detectionId } from "./detection-id.js";
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
  /** Exemplar label set for the next scrape (OpenMetrics), e.g. the last detection's id. */
  exemplar: Readonly<Record<string, string>> | undefined;
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

  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly exemplars = false,
  ) {
    const handles = this.handles;
    this.counter = new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      enableExemplars: exemplars,
      collect() {
        for (const handle of handles.values()) {
          if (handle.pending === 0) continue;
          if (exemplars) {
            this.inc({
              labels: handle.labels,
              value: handle.pending,
              ...(handle.exemplar !== undefined && { exemplarLabels: handle.exemplar }),
            });
          } else {
            this.inc(handle.labels, handle.pending);
          }
          handle.pending = 0;
        }
      },
    });
  }

  /** Removes a label set's series (a rule unloaded): it disappears from the exposition. */
  remove(labels: Readonly<Record<string, string>>): void {
    const key = Object.values(labels).join("\u0000");
    if (!this.handles.delete(key)) return;
    this.counter.remove(labels);
  }

  handle(labels: Readonly<Record<string, string>>): CounterHandle {
    const key = Object.values(labels).join("\u0000");
    let handle = this.handles.get(key);
    if (handle === undefined) {
      handle = new CounterHandle(labels);
      this.handles.set(key, handle);
      if (this.exemplars) this.counter.inc({ labels, value: 0 });
      else this.counter.inc(labels, 0);
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

/** A rule's series: a rule whose priority changed on reload is another series (the old one is removed). */
function ruleKey(rule: RuleInfo): string {
  return `${rule.source}\u0000${rule.name}\u0000${rule.priority}`;
}

/** Kinds of peregrine_enrichment_misses_total. */
export const ENRICHMENT_MISS_KINDS = ["process", "fd", "user", "container"] as const;
export type EnrichmentMissKind = (typeof ENRICHMENT_MISS_KINDS)[number];
/** Families of peregrine_kernel_drops_total. */
export type KernelDropFamily = "file" | "process" | "network" | "other";

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
  /**
   * In OpenMetrics mode while the metrics are created (prom-client allows
   * exemplars only there), then switched to the Prometheus text format,
   * which is what a client gets unless it asks for OpenMetrics (metrics()).
   */
  readonly registry = new Registry();
  /** Scrapes one at a time: an OpenMetrics scrape switches the registry's format while it runs. */
  private scrapeChain: Promise<unknown> = Promise.resolve();
  private readonly ruleMatches: BufferedCounter;
  private readonly ruleHandles = new Map<string, CounterHandle>();
  private readonly ruleHandlesByInfo = new WeakMap<RuleInfo, CounterHandle>();
  private readonly events: BufferedCounter;
  private readonly eventHandles = new Map<string, CounterHandle>();
  /** The last two event types counted and their handles (eventDecoded). */
  private eventType0 = "";
  private eventHandle0: CounterHandle | undefined;
  private eventType1 = "";
  private eventHandle1: CounterHandle | undefined;
  private readonly eventTypes = new BoundedLabel();
  private readonly decoderErrors: BufferedCounter;
  private readonly decoderReasons = new BoundedLabel();
  private readonly exportRecords: BufferedCounter;
  private readonly exporterNames = new BoundedLabel();
  private readonly kernelDropReasons = new BoundedLabel();
  private readonly queueReaders = new Map<string, () => number>();
  private readonly kernelSeen: CounterHandle;
  private readonly kernelEmitted: CounterHandle;
  private readonly kernelRingbufFull: CounterHandle;
  private readonly kernelTruncated: CounterHandle;
  private readonly kernelReadFailed: CounterHandle;
  private lastKernel: KernelStats | undefined;
  private readonly ruleEvaluation: Histogram;
  private processTableReader: (() => number) | undefined;
  private fdTableReader: (() => number) | undefined;
  private readonly kernelDropCounter: BufferedCounter;
  private readonly kernelFiltered: CounterHandle;
  private readonly loaderRestarts: CounterHandle;
  private readonly reloadSuccess: CounterHandle;
  private readonly reloadFailure: CounterHandle;
  private readonly rulesLoadedGauge: Gauge;
  private readonly rulesUnsupportedGauge: Gauge;
  private readonly enrichmentMisses: BufferedCounter;
  private readonly enrichmentHandles = new Map<EnrichmentMissKind, CounterHandle>();
  private readonly spoolBytesReaders = new Map<string, () => number>();
  private readonly spoolRecordsReaders = new Map<string, () => number>();

  constructor(options: MetricsOptions) {
    const r = this.registry;
    this.setFormat(true);
    const p = METRIC_PREFIX;

    const buildInfo = new Gauge({
      name: `${p}build_info`,
      help: "Always 1; the label carries the sensor's version.",
      labelNames: ["version"],
      registers: [r],
    });
    buildInfo.set({ version: options.version }, 1);

    this.ruleMatches = new BufferedCounter(
      r,
      `${p}rule_matches_total`,
      "Detections, by rule. OpenMetrics scrapes carry an exemplar with the last detection's id (the log record's peregrine.detection.id).",
      ["rule", "priority", "source"],
      true,
    );
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
      "Detection records by exporter and outcome: sent (acknowledged), failed (rejected for good, or given up after trying), spooled (written to the on-disk spool to be sent later), dropped (lost: queue or spool full, or shut down).",
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
    this.kernelDropCounter = new BufferedCounter(
      r,
      `${p}kernel_drops_total`,
      "Records the kernel lost, by reason (ringbuf_full: PG_CNT_RINGBUF_FULL) and event family (file|process|network|other; other when the kernel did not say).",
      ["reason", "family"],
    );
    this.kernelRingbufFull = this.kernelDropCounter.handle({ reason: "ringbuf_full", family: "other" });
    this.kernelFiltered = kernel(
      "kernel_events_filtered_total",
      "Syscall events dropped in the kernel by the syscall filter (no loaded rule or state table needs them).",
    );
    this.loaderRestarts = kernel(
      "loader_restarts_total",
      "Times the agent restarted the BPF loader process.",
    );

    const reloads = new BufferedCounter(
      r,
      `${p}rules_reloads_total`,
      "Rules reloads, by result (success|failure).",
      ["result"],
    );
    this.reloadSuccess = reloads.handle({ result: "success" });
    this.reloadFailure = reloads.handle({ result: "failure" });
    this.rulesLoadedGauge = new Gauge({
      name: `${p}rules_loaded`,
      help: "Enabled rules currently loaded.",
      registers: [r],
    });
    this.rulesUnsupportedGauge = new Gauge({
      name: `${p}rules_unsupported_fields`,
      help: "Distinct fields the loaded rules use that the sensor cannot answer (comparisons on them are false).",
      registers: [r],
    });
    this.enrichmentMisses = new BufferedCounter(
      r,
      `${p}enrichment_misses_total`,
      "Lookups the enricher could not answer, by kind (process|fd|user|container).",
      ["kind"],
    );
    for (const kind of ENRICHMENT_MISS_KINDS) {
      this.enrichmentHandles.set(kind, this.enrichmentMisses.handle({ kind }));
    }
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

    new Gauge({
      name: `${p}fd_table_size`,
      help: "Open file descriptors in the fd table, all processes together.",
      registers: [r],
      collect() {
        if (metrics.fdTableReader !== undefined) this.set(metrics.fdTableReader());
      },
    });

    const spoolBytesReaders = this.spoolBytesReaders;
    new Gauge({
      name: `${p}export_spool_bytes`,
      help: "Bytes in an exporter's on-disk spool.",
      labelNames: ["exporter"],
      registers: [r],
      collect() {
        for (const [exporter, read] of spoolBytesReaders) this.set({ exporter }, read());
      },
    });
    const spoolRecordsReaders = this.spoolRecordsReaders;
    new Gauge({
      name: `${p}export_spool_records`,
      help: "Detection records in an exporter's on-disk spool.",
      labelNames: ["exporter"],
      registers: [r],
      collect() {
        for (const [exporter, read] of spoolRecordsReaders) this.set({ exporter }, read());
      },
    });

    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: r, prefix: p });
      // prom-client names three gauges "…_total", which promtool rejects (only counters end in _total).
      for (const name of [
        "nodejs_active_handles_total",
        "nodejs_active_requests_total",
        "nodejs_active_resources_total",
      ]) {
        r.removeSingleMetric(`${p}${name}`);
      }
    }
    this.setFormat(false);
  }

  /**
   * The exposition of every metric: Prometheus text (0.0.4) by default,
   * OpenMetrics 1.0 (with exemplars) when `openMetrics` is true.
   */
  metrics(openMetrics = false): Promise<string> {
    const run = this.scrapeChain.then(() => (openMetrics ? this.openMetricsText() : this.registry.metrics()));
    this.scrapeChain = run.catch(() => {});
    return run;
  }

  /** prom-client types a registry by one format; ours switches (see the registry's comment). */
  private setFormat(openMetrics: boolean): void {
    (this.registry as unknown as Registry<RegistryContentType>).setContentType(
      openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE,
    );
  }

  /** Content type of metrics(false). */
  get contentType(): string {
    return Registry.PROMETHEUS_CONTENT_TYPE;
  }

  /** Content type of metrics(true). */
  get openMetricsContentType(): string {
    return Registry.OPENMETRICS_CONTENT_TYPE;
  }

  /**
   * prom-client's OpenMetrics output strips "_total" from each counter's
   * name in place (OpenMetrics adds it back per sample) and never restores
   * it, which would rename our counters in later Prometheus-text scrapes:
   * the names are put back once the text is made.
   */
  private async openMetricsText(): Promise<string> {
    const counters = this.registry
      .getMetricsAsArray()
      .filter((m) => (m.type as unknown as string) === "counter");
    const names = counters.map((m) => m.name);
    this.setFormat(true);
    try {
      return await this.registry.metrics();
    } finally {
      this.setFormat(false);
      counters.forEach((m, i) => {
        (m as { name: string }).name = names[i] as string;
      });
    }
  }

  /** Creates every loaded rule's series at 0, so a rule that never fired is visible as such. */
  initRules(rules: readonly RuleInfo[]): void {
    for (const rule of rules) this.ruleHandle(rule);
    this.rulesLoadedGauge.set(this.ruleHandles.size);
  }

  /**
   * After a reload: the new rules' series exist (at 0 when new), and the
   * series of every rule no longer loaded (or whose priority or source
   * changed) are removed. Sets peregrine_rules_loaded.
   */
  setRules(rules: readonly RuleInfo[]): void {
    const keep = new Set<string>();
    for (const rule of rules) {
      this.ruleHandle(rule);
      keep.add(ruleKey(rule));
    }
    for (const [key, handle] of this.ruleHandles) {
      if (keep.has(key)) continue;
      this.ruleMatches.remove(handle.labels);
      this.ruleHandles.delete(key);
    }
    this.rulesLoadedGauge.set(this.ruleHandles.size);
  }

  /** Removes these rules' series (rules unloaded). */
  removeRules(rules: readonly RuleInfo[]): void {
    for (const rule of rules) {
      const key = ruleKey(rule);
      const handle = this.ruleHandles.get(key);
      if (handle === undefined) continue;
      this.ruleMatches.remove(handle.labels);
      this.ruleHandles.delete(key);
    }
    this.rulesLoadedGauge.set(this.ruleHandles.size);
  }

  /** One detection of `rule`; with the detection, its id becomes the series' exemplar. */
  ruleMatched(rule: RuleInfo, detection?: Detection): void {
    const handle = this.ruleHandle(rule);
    handle.inc();
    if (detection !== undefined) handle.exemplar = { detection_id: detectionId(detection) };
  }

  /** One rules reload attempt finished (hot reload). */
  rulesReloaded(success: boolean): void {
    (success ? this.reloadSuccess : this.reloadFailure).inc();
  }

  /** Enabled rules loaded (setRules/initRules set it too). */
  rulesLoaded(n: number): void {
    this.rulesLoadedGauge.set(n);
  }

  /** Distinct fields the loaded rules use that the sensor cannot answer. */
  rulesUnsupportedFields(n: number): void {
    this.rulesUnsupportedGauge.set(n);
  }

  /** Kernel drops with the event family known (the loader's per-family counters, as deltas). */
  kernelDrops(reason: string, family: KernelDropFamily, n = 1): void {
    this.kernelDropCounter.handle({ reason: this.kernelDropReasons.value(reason), family }).inc(n);
  }

  /** Events the in-kernel syscall filter dropped (deltas). */
  kernelEventsFiltered(n: number): void {
    this.kernelFiltered.inc(n);
  }

  loaderRestarted(): void {
    this.loaderRestarts.inc();
    // A new loader's kernel counters start from zero: take its first totals as they come.
    this.lastKernel = undefined;
  }

  enrichmentMiss(kind: EnrichmentMissKind, n = 1): void {
    (this.enrichmentHandles.get(kind) as CounterHandle).inc(n);
  }

  /** Where the fd-table size is read from at scrape time. */
  fdTableSize(read: () => number): void {
    this.fdTableReader = read;
  }

  /** One decoded event of Falco type `type` ("openat", "execve", …). */
  eventDecoded(type: string, n = 1): void {
    // A stream mostly alternates a few types (openat, close …): the last two handles are at
    // hand, so most events skip the Map lookup (it runs for every record the agent decodes).
    let handle: CounterHandle | undefined;
    if (type === this.eventType0) handle = this.eventHandle0;
    else if (type === this.eventType1) handle = this.eventHandle1;
    if (handle === undefined) {
      handle = this.eventHandles.get(type);
      if (handle === undefined) {
        handle = this.events.handle({ type: this.eventTypes.value(type) });
        this.eventHandles.set(type, handle);
      }
      this.eventType1 = this.eventType0;
      this.eventHandle1 = this.eventHandle0;
      this.eventType0 = type;
      this.eventHandle0 = handle;
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
    const byFamily = stats.ringbufFullByFamily;
    if (byFamily === undefined) this.kernelRingbufFull.inc(delta(stats.ringbufFull, last?.ringbufFull ?? 0));
    else {
      const lastByFamily = last?.ringbufFullByFamily;
      for (const family of ["file", "process", "network", "other"] as const) {
        const n = delta(byFamily[family], lastByFamily?.[family] ?? 0);
        if (n > 0) this.kernelDrops("ringbuf_full", family, n);
      }
    }
    if (stats.filtered !== undefined) this.kernelFiltered.inc(delta(stats.filtered, last?.filtered ?? 0));
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

  /** Counters for one exporter, label values bound once; its four result series start at 0. */
  exportCounters(exporter: string): ExportCounters {
    const name = this.exporterNames.value(exporter);
    const sent = this.exportRecords.handle({ exporter: name, result: "sent" });
    const failed = this.exportRecords.handle({ exporter: name, result: "failed" });
    const spooled = this.exportRecords.handle({ exporter: name, result: "spooled" });
    const dropped = this.exportRecords.handle({ exporter: name, result: "dropped" });
    const queueReaders = this.queueReaders;
    const spoolBytesReaders = this.spoolBytesReaders;
    const spoolRecordsReaders = this.spoolRecordsReaders;
    return {
      sent: (n) => sent.inc(n),
      failed: (n) => failed.inc(n),
      spooled: (n) => spooled.inc(n),
      dropped: (n) => dropped.inc(n),
      queueLength(read) {
        queueReaders.set(name, read);
      },
      spoolSize(readBytes, readRecords) {
        spoolBytesReaders.set(name, readBytes);
        spoolRecordsReaders.set(name, readRecords);
      },
    };
  }

  private ruleHandle(rule: RuleInfo): CounterHandle {
    let handle = this.ruleHandlesByInfo.get(rule);
    if (handle !== undefined && this.ruleHandles.get(ruleKey(rule)) === handle) return handle;
    const key = ruleKey(rule);
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

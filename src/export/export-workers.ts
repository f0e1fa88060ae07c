/**
 * The OTLP sink's transport: a small pool of export worker threads
 * (export-worker.ts), each owning LoggerProviders and an SDK
 * OTLPLogExporter. Why: making SDK log records and serializing them is
 * most of the CPU an exported detection costs (about 30 µs of 40 for a
 * typical record); in worker threads it runs beside the agent's pipeline,
 * on the other cores, instead of in it.
 *
 * What crosses the thread boundary is plain data, by structured clone: a
 * batch of DetectionRecords one way, in columns (packed-batch.ts; the
 * rule's and process's attribute layers are shared objects, so a batch
 * carries each once), and the
 * outcome of its export the other way (sent / partial success / retry with
 * a hint / failed), plus the SDK's warnings as text. Queue, spool, order,
 * retries and counting stay in the main thread (DurableDelivery), which
 * decides what is sent when: a batch is in a worker only while it is being
 * sent. A worker that dies fails its batches as transient (they are
 * retried or spooled, nothing is lost uncounted) and is started again on
 * the next batch.
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { type ResourceLimits, Worker } from "node:worker_threads";
import type { LogRecordLimits } from "@opentelemetry/sdk-logs";
import type { DetectionRecord } from "./detection-record.js";
import { checkTransportFiles, type SendOutcome, type TransportOptions } from "./otlp-exporter.js";
import { type PackedBatch, packBatch } from "./packed-batch.js";
import type { RecordTransport } from "./sdk-delivery.js";

/** What a worker is started with (workerData). */
export interface WorkerSettings {
  readonly transport: TransportOptions;
  /** Memory caps of each worker thread (a worker over them dies; its batches are retried). */
  readonly resourceLimits?: ResourceLimits;
  /** Requests the worker's SDK exporter may have on the wire at once. */
  readonly concurrencyLimit: number;
  readonly limits: Required<LogRecordLimits>;
}

export type ToWorker =
  | { readonly type: "send"; readonly id: number; readonly batch: DetectionRecord[] }
  | { readonly type: "send-packed"; readonly id: number; readonly packed: PackedBatch }
  | { readonly type: "renew" }
  | { readonly type: "shutdown" };

export type FromWorker =
  | { readonly type: "outcome"; readonly id: number; readonly outcome: SendOutcome }
  | { readonly type: "log"; readonly message: string }
  | { readonly type: "ready" }
  | { readonly type: "closed" };

/** Worker threads by default: one per core, at most 4 (the main thread and the collector need CPU too). */
export function defaultExportWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

export interface ExportWorkerPoolOptions {
  readonly transport: TransportOptions;
  readonly workers: number;
  readonly concurrencyLimit: number;
  readonly limits: Required<LogRecordLimits>;
  /** Memory caps of each worker thread (Node's worker resourceLimits); default: Node's. */
  readonly resourceLimits?: ResourceLimits;
  /** The SDK's warnings and worker failures, as text (the caller rate-limits). */
  readonly onLog: (message: string) => void;
}

interface Slot {
  worker: Worker | undefined;
  /** Called once the worker has its exporter (or has failed to start). */
  started: (() => void) | undefined;
  readonly pending: Map<number, (outcome: SendOutcome) => void>;
  closed: (() => void) | undefined;
}

/**
 * The worker: the compiled export-worker.js beside this module, or, when
 * this module runs from its .ts source (the tests, under a TypeScript
 * runner), export-worker.ts loaded through tsx's loader, which a worker
 * thread does not inherit.
 */
function startWorker(workerData: WorkerSettings): Worker {
  const resourceLimits = workerData.resourceLimits;
  const options = { workerData, ...(resourceLimits !== undefined && { resourceLimits }) };
  if (!import.meta.url.endsWith(".ts")) {
    return new Worker(new URL("./export-worker.js", import.meta.url), options);
  }
  // tsx's ESM entry ("import" condition of tsx/esm/api), found from this package.
  const tsx = pathToFileURL(
    createRequire(import.meta.url)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  ).href;
  const entry = new URL("./export-worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, ...options });
}

export class ExportWorkerPool implements RecordTransport<DetectionRecord> {
  readonly protocol: string;
  readonly endpoint: string;
  private readonly settings: WorkerSettings;
  private readonly onLog: (message: string) => void;
  private readonly slots: Slot[];
  private nextId = 1;
  private turn = 0;
  private stopping = false;

  constructor(options: ExportWorkerPoolOptions) {
    checkTransportFiles(options.transport);
    this.protocol = options.transport.protocol;
    this.endpoint = options.transport.endpoint;
    this.settings = {
      transport: options.transport,
      concurrencyLimit: options.concurrencyLimit,
      limits: options.limits,
      ...(options.resourceLimits !== undefined && { resourceLimits: options.resourceLimits }),
    };
    this.onLog = options.onLog;
    this.slots = Array.from({ length: Math.max(1, options.workers) }, () => ({
      worker: undefined,
      pending: new Map(),
      closed: undefined,
      started: undefined,
    }));
    // Started now, not on the first batch: loading the SDK in a thread takes a few hundred ms, and
    // delivery waits for `ready` before its first request (so none is in flight, with an unknown
    // fate, while records pile up behind it).
    this.ready = Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.started = resolve;
            this.start(slot);
          }),
      ),
    ).then(() => {});
  }

  /** Resolves once every worker has started (or failed to). */
  readonly ready: Promise<void>;

  /** Worker threads running now. */
  get running(): number {
    return this.slots.filter((s) => s.worker !== undefined).length;
  }

  private start(slot: Slot): Worker {
    const worker = startWorker(this.settings);
    // Idle workers do not keep the process alive; a batch in flight has the delivery's timers for that.
    worker.unref();
    worker.on("message", (message: FromWorker) => {
      if (message.type === "outcome") {
        const resolve = slot.pending.get(message.id);
        slot.pending.delete(message.id);
        resolve?.(message.outcome);
      } else if (message.type === "log") {
        this.onLog(message.message);
      } else if (message.type === "ready") {
        slot.started?.();
        slot.started = undefined;
      } else if (message.type === "closed") {
        slot.closed?.();
      }
    });
    const lost = (why: string) => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      if (!this.stopping)
        this.onLog(`OTLP export worker stopped: ${why}; starting another for the next batch`);
      const waiting = [...slot.pending.values()];
      slot.pending.clear();
      for (const resolve of waiting) {
        resolve({ kind: "retry", retryAfterMs: undefined, error: `export worker stopped: ${why}` });
      }
      slot.closed?.();
      slot.started?.();
      slot.started = undefined;
    };
    worker.on("error", (error) => lost(error.message));
    worker.on("exit", (code) => lost(`exit code ${code}`));
    slot.worker = worker;
    return worker;
  }

  /** The slot with the fewest batches in flight (round robin among equals). */
  private pick(): Slot {
    let best: Slot | undefined;
    const n = this.slots.length;
    for (let i = 0; i < n; i++) {
      const slot = this.slots[(this.turn + i) % n] as Slot;
      if (best === undefined || slot.pending.size < best.pending.size) best = slot;
    }
    this.turn = (this.turn + 1) % n;
    return best as Slot;
  }

  send(batch: DetectionRecord[]): Promise<SendOutcome> {
    if (this.stopping) {
      return Promise.resolve({ kind: "retry", retryAfterMs: undefined, error: "export workers shut down" });
    }
    const slot = this.pick();
    const worker = slot.worker ?? this.start(slot);
    const id = this.nextId++;
    return new Promise<SendOutcome>((resolve) => {
      slot.pending.set(id, resolve);
      try {
        // In columns (packed-batch.ts: no object per record to remake in the worker), or as
        // objects when the batch holds what columns cannot carry exactly.
        const packed = packBatch(batch);
        worker.postMessage(
          packed !== undefined
            ? ({ type: "send-packed", id, packed } satisfies ToWorker)
            : ({ type: "send", id, batch } satisfies ToWorker),
        );
      } catch (error) {
        // A record that cannot be cloned (not plain data) cannot be sent, now or later.
        slot.pending.delete(id);
        resolve({
          kind: "fail",
          error: `cannot pass the batch to the export worker: ${(error as Error).message}`,
        });
      }
    });
  }

  renew(): void {
    for (const slot of this.slots) slot.worker?.postMessage({ type: "renew" } satisfies ToWorker);
  }

  /**
   * Asks each worker to shut its exporter down (its requests end first, at
   * their deadline at the latest), then ends the threads; a worker that has
   * not answered within the export timeout and a second is ended anyway.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    const waitMs = this.settings.transport.timeoutMillis + 1000;
    await Promise.all(
      this.slots.map(async (slot) => {
        const worker = slot.worker;
        if (worker === undefined) return;
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          slot.closed = resolve;
          timer = setTimeout(resolve, waitMs);
          worker.postMessage({ type: "shutdown" } satisfies ToWorker);
        });
        clearTimeout(timer);
        slot.worker = undefined;
        await worker.terminate();
        // Batches still in the thread have an unknown fate: transient, as for a worker that died.
        for (const resolve of slot.pending.values()) {
          resolve({ kind: "retry", retryAfterMs: undefined, error: "export worker shut down" });
        }
        slot.pending.clear();
      }),
    );
  }
}

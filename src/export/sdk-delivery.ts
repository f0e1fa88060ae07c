/**
 * Durable, ordered delivery of log records through the SDK's OTLP
 * exporter: DurableDelivery, over records of any form with a transport
 * that sends a batch and a codec that spools one. The OTLP sink uses it
 * with DetectionRecords (plain data) sent by export worker threads
 * (export-workers.ts), which make the SDK records and run the SDK
 * exporter; DurableLogRecordProcessor is the same over SDK records, as a
 * LogRecordProcessor, sending in this thread.
 *
 * A bounded in-memory queue → batches → transport.send(); when
 * the collector is unreachable or refuses (a transient error), the batch
 * and everything after it go to the on-disk spool, and the spool is
 * drained, oldest first, one request at a time, before anything newer is
 * sent.
 *
 * Why not the SDK's BatchLogRecordProcessor: it drops silently when its
 * queue is full, drops a batch the exporter failed, and has no spool; the
 * design asks that every record end up counted exactly once as sent,
 * failed (rejected for good) or dropped (memory full without a spool, the
 * spool at its bound, or shutdown), with spooled counting the records
 * written to disk on the way.
 *
 * onEmit() never blocks and never waits on I/O except the spool's
 * page-cache write when the memory queue is full.
 */
import type { LogRecordProcessor, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { exportRecords, type OtlpExporter, type SendOutcome } from "./otlp-exporter.js";
import type { ExportCounters } from "./sink.js";
import type { Spool } from "./spool.js";
import { fromSpoolEntry, type SpoolEntry, toSpoolEntry } from "./spool-codec.js";

/** Sends one batch; what it came to. Never rejects. */
export interface RecordTransport<R> {
  /** "grpc" | "http/protobuf", for messages. */
  readonly protocol: string;
  readonly endpoint: string;
  send(batch: R[]): Promise<SendOutcome>;
  /** A fresh connection after a long outage (see OtlpExporter.renew). */
  renew?(): void;
  /** Ends the transport once its requests have ended (not awaited when shutdown timed out). */
  shutdown(): Promise<void>;
  /** Resolves when the transport can send (export workers started); no request goes out before. */
  readonly ready?: Promise<void>;
}

/** A record ↔ its spooled form (spool-codec.ts). */
export interface RecordCodec<R> {
  toSpoolEntry(record: R): SpoolEntry;
  /** Throws with what is wrong when the bytes are not a record. */
  fromSpoolEntry(entry: SpoolEntry): R;
}

/** The SDK exporter in this thread as a transport of SDK records. */
export function sdkExporterTransport(target: OtlpExporter): RecordTransport<ReadableLogRecord> {
  return {
    protocol: target.protocol,
    endpoint: target.endpoint,
    send: (batch) => exportRecords(target, batch),
    ...(target.renew !== undefined && { renew: () => target.renew?.() }),
    shutdown: () => target.exporter.shutdown(),
  };
}

export const SDK_RECORD_CODEC: RecordCodec<ReadableLogRecord> = { toSpoolEntry, fromSpoolEntry };

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  /** ± this fraction of the delay, drawn at random: clients of one collector do not retry in step. */
  readonly jitter: number;
  /** A server retry hint longer than this is cut to it. */
  readonly maxHintMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 500,
  maxMs: 5000,
  multiplier: 1.5,
  jitter: 0.2,
  maxHintMs: 60_000,
};

export interface DurableDeliveryOptions<R> {
  readonly transport: RecordTransport<R>;
  readonly codec: RecordCodec<R>;
  /** undefined: no spool; records wait in memory (up to the bound) while the collector is away. */
  readonly spool: Spool | undefined;
  readonly counters: ExportCounters;
  /** Records held in memory. Default 2048. */
  readonly maxQueueSize?: number;
  /** Records per request. Default 512. */
  readonly maxBatchSize?: number;
  /** A record waits at most this long for its batch to fill. Default 200 ms. */
  readonly scheduledDelayMillis?: number;
  /**
   * Requests from memory on the wire at once. Default 2: the next batch is
   * serialized and sent while the collector answers the last one. A batch
   * that fails can then arrive after the one sent behind it; the spool is
   * always drained one request at a time, strictly in order.
   */
  readonly maxConcurrentExports?: number;
  readonly backoff?: Partial<BackoffPolicy>;
  /** shutdown() delivers for at most this long, then spools (or drops) the rest. Default 10 000 ms. */
  readonly shutdownTimeoutMillis?: number;
  /**
   * After this long of transient failures in a row, the exporter is renewed
   * (OtlpExporter.renew: a gRPC client with a fresh connection and no
   * reconnect backoff), and again each time this long passes. Default 5000 ms.
   */
  readonly renewAfterMillis?: number;
  /** Told about export errors (rate-limited by the caller). */
  readonly onError?: (message: string) => void;
  readonly random?: () => number;
}

export interface DurableProcessorOptions
  extends Omit<DurableDeliveryOptions<ReadableLogRecord>, "transport" | "codec"> {
  readonly exporter: OtlpExporter;
}

interface PendingRequest<R> {
  readonly batch: readonly R[];
  readonly outcome: Promise<SendOutcome>;
  /** Holds records put back after a failure: resent alone, so that they arrive in order. */
  readonly resend: boolean;
}

export class DurableDelivery<R> {
  private readonly target: RecordTransport<R>;
  private readonly codec: RecordCodec<R>;
  private readonly spool: Spool | undefined;
  private readonly counters: ExportCounters;
  private readonly maxQueueSize: number;
  private readonly maxBatchSize: number;
  private readonly delayMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly onError: (message: string) => void;
  private readonly random: () => number;
  private readonly shutdownTimeoutMillis: number;
  private readonly renewAfterMillis: number;
  /** When the exporter last succeeded or was renewed (epoch ms). */
  private lastGoodOrRenewed = Date.now();

  /** FIFO of records in memory: items[head..]. */
  private items: R[] = [];
  private head = 0;
  private firstQueuedAt = 0;
  private wake: (() => void) | undefined;
  /** What the worker is waiting for: new records wake it from idle or a batch wait, never from a backoff. */
  private sleeping: "idle" | "batch" | "backoff" | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextBackoff: number;
  private closing = false;
  private readonly running: Promise<void>;
  private shutdownPromise: Promise<void> | undefined;
  /** Records of the spool's head segment already delivered in this run (resent after a restart). */
  private headDelivered = 0;
  /** Requests on the wire from memory, oldest first (their outcomes are handled in this order). */
  private pending: PendingRequest<R>[] = [];
  private readonly maxInFlight: number;
  /** No request before this time (epoch ms): a backoff after a transient failure. */
  private retryAt = 0;
  /** Records at the front of memory that were put back after a failure (older than the rest). */
  private requeued = 0;
  /** Whether the last take() included records put back after a failure. */
  private tookRequeued = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: DurableDeliveryOptions<R>) {
    this.target = options.transport;
    this.codec = options.codec;
    this.spool = options.spool;
    this.counters = options.counters;
    this.maxQueueSize = options.maxQueueSize ?? 2048;
    this.maxBatchSize = Math.min(options.maxBatchSize ?? 512, this.maxQueueSize);
    this.maxInFlight = Math.max(1, options.maxConcurrentExports ?? 2);
    this.delayMs = options.scheduledDelayMillis ?? 200;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.shutdownTimeoutMillis = options.shutdownTimeoutMillis ?? 10_000;
    this.renewAfterMillis = options.renewAfterMillis ?? 5000;
    this.onError = options.onError ?? (() => {});
    this.random = options.random ?? Math.random;
    this.nextBackoff = this.backoff.initialMs;
    this.counters.queueLength(() => this.queueLength);
    if (this.spool !== undefined) {
      const spool = this.spool;
      this.counters.spoolSize(
        () => spool.bytes,
        () => spool.records,
      );
    }
    this.running = this.run();
  }

  /** Records in memory (the batches on the wire included). */
  get queueLength(): number {
    let n = this.items.length - this.head;
    for (const p of this.pending) n += p.batch.length;
    return n;
  }

  /** Queues a record (never blocks; memory full: to the spool, or dropped and counted). */
  push(record: R): void {
    if (this.closing) {
      this.counters.dropped(1);
      return;
    }
    if (this.items.length - this.head >= this.maxQueueSize) {
      // Memory is full (the collector is slow or away): the oldest in-memory records go to disk, in order.
      if (this.spool === undefined) {
        this.counters.dropped(1);
        return;
      }
      this.spoolMemory();
    }
    if (this.items.length === this.head) this.firstQueuedAt = Date.now();
    this.items.push(record);
    // The worker sleeps while idle: wake it for the first record (it then waits out the batch delay) and a full batch.
    if (
      this.sleeping === "idle" ||
      (this.sleeping === "batch" && this.items.length - this.head >= this.maxBatchSize)
    ) {
      this.poke();
    }
  }

  /** Sends everything queued now (and the spool, if the collector answers); resolves when idle or failing. */
  forceFlush(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.poke(true);
    });
  }

  /**
   * Stops taking records, delivers what is in memory while the collector
   * answers, and within shutdownTimeoutMillis moves whatever is left to the
   * spool (or counts it dropped without one). Every LoggerProvider shares
   * this processor: the sink calls this once, not the providers.
   */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.shutdownOnce();
    return this.shutdownPromise;
  }

  private async shutdownOnce(): Promise<void> {
    this.closing = true;
    this.poke(true);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.shutdownTimeoutMillis);
    });
    const outcome = await Promise.race([this.running.then(() => "done" as const), timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      // The batches on the wire have an unknown fate: spool them too (at-least-once), with the rest.
      const rest = [...this.pending.flatMap((p) => p.batch), ...this.takeAll()];
      this.pending = [];
      this.toSpoolOrDrop(rest);
      // Not awaited: a request still on the wire ends at its own deadline and must not hold the exit up.
      this.target.shutdown().catch(() => {});
    } else {
      await this.target.shutdown().catch(() => {});
    }
    this.spool?.close();
  }

  private poke(now = false): void {
    if (now) this.firstQueuedAt = 0;
    const wake = this.wake;
    this.wake = undefined;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    wake?.();
  }

  private sleep(ms: number, kind: "idle" | "batch" | "backoff"): Promise<void> {
    this.sleeping = kind;
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.wake = undefined;
        resolve();
      }, ms);
    }).finally(() => {
      this.sleeping = undefined;
    });
  }

  private take(n: number): R[] {
    this.tookRequeued = this.requeued > 0;
    const end = Math.min(this.items.length, this.head + n);
    const batch = this.items.slice(this.head, end);
    this.head = end;
    this.requeued = Math.max(0, this.requeued - batch.length);
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 65_536) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private takeAll(): R[] {
    return this.take(this.items.length - this.head);
  }

  private spoolMemory(): void {
    this.toSpoolOrDrop(this.takeAll());
  }

  private toSpoolOrDrop(records: readonly R[]): void {
    if (records.length === 0) return;
    if (this.spool === undefined) {
      this.counters.dropped(records.length);
      return;
    }
    const entries: SpoolEntry[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) entries[i] = this.codec.toSpoolEntry(records[i] as R);
    const { written, dropped } = this.spool.append(entries);
    if (written > 0) this.counters.spooled(written);
    if (dropped > 0) this.counters.dropped(dropped);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** A transient failure: tell, and renew the exporter when the collector has been away long enough. */
  private transientFailure(outcome: Extract<SendOutcome, { kind: "retry" }>): void {
    this.onError(`OTLP ${this.target.protocol} to ${this.target.endpoint}: ${outcome.error}; retrying`);
    const now = Date.now();
    if (this.target.renew !== undefined && now - this.lastGoodOrRenewed >= this.renewAfterMillis) {
      this.lastGoodOrRenewed = now;
      this.target.renew();
    }
  }

  private delayAfter(outcome: Extract<SendOutcome, { kind: "retry" }>): number {
    if (outcome.retryAfterMs !== undefined) return Math.min(outcome.retryAfterMs, this.backoff.maxHintMs);
    const base = Math.min(this.nextBackoff, this.backoff.maxMs);
    this.nextBackoff = Math.min(this.nextBackoff * this.backoff.multiplier, this.backoff.maxMs);
    return base * (1 + (this.random() * 2 - 1) * this.backoff.jitter);
  }

  /**
   * Requests allowed on the wire now: one while records put back after a
   * failure are being resent (requests in flight may arrive in any order:
   * with export workers, each has its own connection), else maxInFlight.
   */
  private inFlightLimit(): number {
    if (this.requeued > 0) return 1;
    for (const p of this.pending) if (p.resend) return 1;
    return this.maxInFlight;
  }

  /** Starts sending a batch from memory; its outcome is handled in launch order by settleOldest(). */
  private launch(): void {
    const batch = this.take(this.maxBatchSize);
    if (this.items.length > this.head) this.firstQueuedAt = Date.now();
    this.pending.push({ batch, outcome: this.target.send(batch), resend: this.tookRequeued });
  }

  /**
   * Handles the oldest request in flight. Returns false when the delivery
   * must stop (shutdown took the batches over).
   */
  private async settleOldest(): Promise<boolean> {
    const oldest = this.pending[0] as PendingRequest<R>;
    const outcome = await oldest.outcome;
    if (this.pending[0] !== oldest) return false; // shutdown timed out and took the batches over
    this.pending.shift();
    const { batch } = oldest;
    if (outcome.kind === "ok") {
      this.nextBackoff = this.backoff.initialMs;
      this.lastGoodOrRenewed = Date.now();
      this.delivered(outcome, batch.length);
      return true;
    }
    if (outcome.kind === "fail") {
      this.counters.failed(batch.length);
      this.onError(`OTLP export rejected for good: ${outcome.error}`);
      return true;
    }
    this.transientFailure(outcome);
    if (this.retryAt <= Date.now()) this.retryAt = Date.now() + this.delayAfter(outcome);
    if (this.spool !== undefined) {
      // To disk, then drained from there, in order, once the collector answers.
      this.toSpoolOrDrop(batch);
    } else {
      // No spool: the batch goes back to the front of the queue and waits; newer records queue behind it.
      // Batches settle in launch order: each failed one goes behind those put back before it.
      const rest = this.items.slice(this.head);
      this.items = [...rest.slice(0, this.requeued), ...batch, ...rest.slice(this.requeued)];
      this.head = 0;
      this.requeued += batch.length;
      while (this.items.length > this.maxQueueSize) {
        this.items.pop();
        this.counters.dropped(1);
      }
    }
    if (this.pending.length === 0) this.notifyIdle();
    return true;
  }

  /**
   * Rebuilds a slice of the spool's head segment as SDK records. A record
   * whose bytes are not ours (damaged, yet past its CRC) cannot be sent: it
   * is left out, and counted failed once its slice is done with.
   */
  /** An accepted request: sent, but what the collector rejected in it (a partial success) counts failed. */
  private delivered(outcome: Extract<SendOutcome, { kind: "ok" }>, n: number): void {
    const rejected = outcome.rejected ?? 0;
    if (n - rejected > 0) this.counters.sent(n - rejected);
    if (rejected > 0) {
      this.counters.failed(rejected);
      this.onError(
        `OTLP collector rejected ${rejected} of ${n} records (partial success)${outcome.rejectedReason ? `: ${outcome.rejectedReason}` : ""}`,
      );
    }
  }

  private spooledRecords(entries: readonly SpoolEntry[]): {
    records: R[];
    bad: number;
    reason: string;
  } {
    const records: R[] = [];
    let bad = 0;
    let reason = "";
    for (const entry of entries) {
      try {
        records.push(this.codec.fromSpoolEntry(entry));
      } catch (error) {
        bad++;
        reason = (error as Error).message;
      }
    }
    return { records, bad, reason };
  }

  /** Sends the spool's head segment, batch by batch; false when the collector failed again. */
  private async drainHead(spool: Spool): Promise<boolean> {
    const head = spool.readHead();
    if (head === undefined) return true;
    const entries = head.entries;
    while (this.headDelivered < entries.length) {
      const slice = entries.slice(this.headDelivered, this.headDelivered + this.maxBatchSize);
      const { records: batch, bad, reason } = this.spooledRecords(slice);
      const outcome: SendOutcome = batch.length === 0 ? { kind: "ok" } : await this.target.send(batch);
      if (outcome.kind === "retry") {
        this.transientFailure(outcome);
        this.retryAt = Date.now() + this.delayAfter(outcome);
        return false; // the slice is read and sent again from the same place
      }
      if (bad > 0) {
        this.counters.failed(bad);
        this.onError(`${bad} spooled records could not be read back: ${reason}`);
      }
      this.nextBackoff = this.backoff.initialMs;
      if (outcome.kind === "ok") {
        this.delivered(outcome, batch.length);
        this.lastGoodOrRenewed = Date.now();
      } else {
        this.counters.failed(batch.length);
        this.onError(`OTLP export rejected for good: ${outcome.error}`);
      }
      this.headDelivered += slice.length;
      if (this.items.length - this.head >= this.maxQueueSize) this.spoolMemory();
    }
    this.headDelivered = 0;
    spool.removeHead();
    return true;
  }

  private async run(): Promise<void> {
    // Records queue (and overflow to the spool, in order) while the transport starts.
    if (this.target.ready !== undefined) await this.target.ready;
    for (;;) {
      const spool = this.spool;
      if (spool !== undefined && spool.records > 0) {
        // Requests already in flight from memory finish first: what fails of them joins the spool in order.
        if (this.pending.length > 0) {
          if (!(await this.settleOldest())) return;
          continue;
        }
        // Drain mode, one request at a time: memory goes behind the spool so that order holds.
        this.spoolMemory();
        if (this.closing) return; // the collector was away: the spool keeps it all, in order
        const wait = this.retryAt - Date.now();
        if (wait > 0) {
          this.notifyIdle();
          await this.sleep(wait, "backoff");
          continue;
        }
        await this.drainHead(spool);
        continue;
      }

      const queued = this.items.length - this.head;
      const waited = Date.now() - this.firstQueuedAt;
      const due =
        queued > 0 &&
        (queued >= this.maxBatchSize ||
          waited >= this.delayMs ||
          this.closing ||
          this.idleWaiters.length > 0);
      const backingOff = this.retryAt > Date.now();
      if (due && !backingOff && this.pending.length < this.inFlightLimit()) {
        this.launch();
        continue;
      }
      if (this.pending.length > 0) {
        if (!(await this.settleOldest())) return;
        continue;
      }
      if (backingOff) {
        this.notifyIdle();
        if (this.closing) {
          this.toSpoolOrDrop(this.takeAll());
          return;
        }
        await this.sleep(this.retryAt - Date.now(), "backoff");
        continue;
      }
      if (queued === 0) {
        this.notifyIdle();
        if (this.closing) return;
        await this.sleep(60_000, "idle");
        continue;
      }
      await this.sleep(this.delayMs - waited, "batch");
    }
  }
}

/**
 * DurableDelivery as the LogRecordProcessor of LoggerProviders in this
 * thread: SDK records, sent by the SDK exporter in this thread.
 */
export class DurableLogRecordProcessor
  extends DurableDelivery<ReadableLogRecord>
  implements LogRecordProcessor
{
  constructor(options: DurableProcessorOptions) {
    const { exporter, ...rest } = options;
    super({ ...rest, transport: sdkExporterTransport(exporter), codec: SDK_RECORD_CODEC });
  }

  /** LogRecordProcessor: a record the SDK just made (read-only once this returns; we only read it). */
  onEmit(record: ReadableLogRecord): void {
    this.push(record);
  }
}

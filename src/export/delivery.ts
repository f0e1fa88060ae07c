/**
 * Durable, ordered delivery of encoded log records: a bounded in-memory
 * queue → batches → transport; when the collector is unreachable or
 * refuses (a transient error), the batch and everything after it go to the
 * on-disk spool, and the spool is drained, oldest first, before anything
 * newer is sent. From memory, up to maxConcurrentExports requests are in
 * flight (outcomes handled in launch order); the spool drains one request
 * at a time, strictly in order.
 *
 * enqueue() never blocks and never waits on I/O except the spool's
 * page-cache write when the memory queue is full. Every record ends up
 * counted exactly once as sent, failed (rejected for good) or dropped (the
 * memory queue full without a spool, the spool at its bound, or shutdown);
 * spooled counts the records written to disk on the way.
 */
import type { EncodedResource, ResourceGroup } from "./otlp-encode.js";
import { encodeExportRequest, ProtoWriter } from "./otlp-encode.js";
import type { OtlpTransport, SendOutcome } from "./otlp-transport.js";
import type { ExportCounters } from "./sink.js";
import type { Spool, SpoolEntry } from "./spool.js";

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

export interface DeliveryOptions {
  readonly transport: OtlpTransport;
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
   * encoded and sent while the collector answers the last one. A batch that
   * fails can then arrive after the one sent behind it; the spool is always
   * drained one request at a time, strictly in order.
   */
  readonly maxConcurrentExports?: number;
  readonly backoff?: Partial<BackoffPolicy>;
  /** Told about transport errors (rate-limited by the caller). */
  readonly onError?: (message: string) => void;
  readonly random?: () => number;
}

interface PendingRequest {
  readonly batch: readonly SpoolEntry[];
  readonly outcome: Promise<SendOutcome>;
}

/** Groups records by resource, keeping each resource's records in order. */
function group(entries: readonly SpoolEntry[]): ResourceGroup[] {
  const byResource = new Map<EncodedResource, Uint8Array[]>();
  for (const e of entries) {
    let list = byResource.get(e.resource);
    if (list === undefined) {
      list = [];
      byResource.set(e.resource, list);
    }
    list.push(e.record);
  }
  return [...byResource].map(([resource, records]) => ({ resource, records }));
}

export class Delivery {
  private readonly transport: OtlpTransport;
  private readonly spool: Spool | undefined;
  private readonly counters: ExportCounters;
  private readonly maxQueueSize: number;
  private readonly maxBatchSize: number;
  private readonly delayMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly onError: (message: string) => void;
  private readonly random: () => number;
  private readonly writer = new ProtoWriter(1 << 20);

  /** FIFO of records in memory: items[head..]. */
  private items: SpoolEntry[] = [];
  private head = 0;
  private firstQueuedAt = 0;
  private wake: (() => void) | undefined;
  /** What the worker is waiting for: new records wake it from idle or a batch wait, never from a backoff. */
  private sleeping: "idle" | "batch" | "backoff" | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextBackoff: number;
  private closing = false;
  private running: Promise<void>;
  /** Records of the spool's head segment already delivered in this run (resent after a restart). */
  private headDelivered = 0;
  /** Requests on the wire from memory, oldest first (their outcomes are handled in this order). */
  private pending: PendingRequest[] = [];
  private readonly maxInFlight: number;
  /** No request before this time (epoch ms): a backoff after a transient failure. */
  private retryAt = 0;
  /** Records at the front of memory that were put back after a failure (older than the rest). */
  private requeued = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(options: DeliveryOptions) {
    this.transport = options.transport;
    this.spool = options.spool;
    this.counters = options.counters;
    this.maxQueueSize = options.maxQueueSize ?? 2048;
    this.maxBatchSize = Math.min(options.maxBatchSize ?? 512, this.maxQueueSize);
    this.maxInFlight = Math.max(1, options.maxConcurrentExports ?? 2);
    this.delayMs = options.scheduledDelayMillis ?? 200;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
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

  /** Records in memory (the batch on the wire included). */
  get queueLength(): number {
    let n = this.items.length - this.head;
    for (const p of this.pending) n += p.batch.length;
    return n;
  }

  enqueue(entry: SpoolEntry): void {
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
    this.items.push(entry);
    // The worker sleeps while idle: wake it for the first record (it then waits out the batch delay) and a full batch.
    if (
      this.sleeping === "idle" ||
      (this.sleeping === "batch" && this.items.length - this.head >= this.maxBatchSize)
    ) {
      this.poke();
    }
  }

  /** Sends everything queued now (and the spool, if the collector answers); resolves when idle or failing. */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.poke(true);
    });
  }

  /**
   * Stops taking records, delivers what is in memory while the collector
   * answers, and within `timeoutMs` moves whatever is left to the spool
   * (or counts it dropped without one).
   */
  async shutdown(timeoutMs: number): Promise<void> {
    if (this.closing) return this.running;
    this.closing = true;
    this.poke(true);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([this.running.then(() => "done" as const), timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      // The batch on the wire has an unknown fate: spool it too (at-least-once), with the rest.
      const rest = [...this.pending.flatMap((p) => p.batch), ...this.takeAll()];
      this.pending = [];
      this.toSpoolOrDrop(rest);
    }
    this.transport.close();
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

  private take(n: number): SpoolEntry[] {
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

  private takeAll(): SpoolEntry[] {
    return this.take(this.items.length - this.head);
  }

  private spoolMemory(): void {
    this.toSpoolOrDrop(this.takeAll());
  }

  private toSpoolOrDrop(entries: readonly SpoolEntry[]): void {
    if (entries.length === 0) return;
    if (this.spool === undefined) {
      this.counters.dropped(entries.length);
      return;
    }
    const { written, dropped } = this.spool.append(entries);
    if (written > 0) this.counters.spooled(written);
    if (dropped > 0) this.counters.dropped(dropped);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async send(entries: readonly SpoolEntry[]): Promise<SendOutcome> {
    const body = encodeExportRequest(group(entries), this.writer);
    try {
      return await this.transport.send(body);
    } catch (error) {
      return { kind: "retry", retryAfterMs: undefined, error: (error as Error).message };
    }
  }

  private account(outcome: Extract<SendOutcome, { kind: "ok" }>, n: number): void {
    const rejected = Math.min(outcome.rejected, n);
    if (n - rejected > 0) this.counters.sent(n - rejected);
    if (rejected > 0) {
      this.counters.failed(rejected);
      this.onError(`collector rejected ${rejected} records: ${outcome.message}`);
    }
  }

  private delayAfter(outcome: Extract<SendOutcome, { kind: "retry" }>): number {
    if (outcome.retryAfterMs !== undefined) return Math.min(outcome.retryAfterMs, this.backoff.maxHintMs);
    const base = Math.min(this.nextBackoff, this.backoff.maxMs);
    this.nextBackoff = Math.min(this.nextBackoff * this.backoff.multiplier, this.backoff.maxMs);
    return base * (1 + (this.random() * 2 - 1) * this.backoff.jitter);
  }

  /** Starts sending a batch from memory; its outcome is handled in launch order by settleOldest(). */
  private launch(): void {
    const batch = this.take(this.maxBatchSize);
    if (this.items.length > this.head) this.firstQueuedAt = Date.now();
    this.pending.push({ batch, outcome: this.send(batch) });
  }

  /**
   * Handles the oldest request in flight. Returns false when the delivery
   * must stop (shutdown took the batches over, or closing after a failure).
   */
  private async settleOldest(): Promise<boolean> {
    const oldest = this.pending[0] as PendingRequest;
    const outcome = await oldest.outcome;
    if (this.pending[0] !== oldest) return false; // shutdown timed out and took the batches over
    this.pending.shift();
    const { batch } = oldest;
    if (outcome.kind === "ok") {
      this.nextBackoff = this.backoff.initialMs;
      this.account(outcome, batch.length);
      return true;
    }
    if (outcome.kind === "fail") {
      this.counters.failed(batch.length);
      this.onError(`OTLP export rejected for good: ${outcome.error}`);
      return true;
    }
    this.onError(`OTLP ${this.transport.protocol} to ${this.transport.endpoint}: ${outcome.error}; retrying`);
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

  private async run(): Promise<void> {
    for (;;) {
      const spool = this.spool;
      if (spool !== undefined && spool.records > 0) {
        // Requests already in flight from memory finish first: what fails of them joins the spool in order.
        if (this.pending.length > 0) {
          if (!(await this.settleOldest())) return;
          continue;
        }
        if (this.closing) {
          // The collector was away: keep order by putting memory behind the spool, and stop.
          this.spoolMemory();
          return;
        }
        // Drain mode, one request at a time: memory goes behind the spool so that order holds.
        this.spoolMemory();
        const wait = this.retryAt - Date.now();
        if (wait > 0) {
          this.notifyIdle();
          await this.sleep(wait, "backoff");
          continue;
        }
        const head = spool.readHead();
        if (head === undefined) continue;
        const entries = head.entries;
        let failedOut = false;
        while (this.headDelivered < entries.length) {
          const batch = entries.slice(this.headDelivered, this.headDelivered + this.maxBatchSize);
          const outcome = await this.send(batch);
          if (outcome.kind === "retry") {
            this.onError(
              `OTLP ${this.transport.protocol} to ${this.transport.endpoint}: ${outcome.error}; retrying`,
            );
            failedOut = true;
            this.retryAt = Date.now() + this.delayAfter(outcome);
            break;
          }
          this.nextBackoff = this.backoff.initialMs;
          if (outcome.kind === "ok") this.account(outcome, batch.length);
          else {
            this.counters.failed(batch.length);
            this.onError(`OTLP export rejected for good: ${outcome.error}`);
          }
          this.headDelivered += batch.length;
          if (this.items.length - this.head >= this.maxQueueSize) this.spoolMemory();
        }
        if (!failedOut) {
          this.headDelivered = 0;
          spool.removeHead();
        }
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
      if (due && !backingOff && this.pending.length < this.maxInFlight) {
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

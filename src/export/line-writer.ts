import { type ExportCounters, NOOP_EXPORT_COUNTERS } from "./sink.js";

/** The part of a Writable (process.stdout, a pipe, a socket) the writer uses. */
export interface LineStream {
  /** What the stream holds in memory, not yet handed to the kernel. */
  readonly writableLength: number;
  write(chunk: string, callback: (error?: Error | null) => void): boolean;
  on(event: "error", listener: (error: Error) => void): unknown;
}

export interface BoundedLineWriterOptions {
  counters?: ExportCounters;
  /**
   * Bound on what may wait in memory — our batch plus the stream's own
   * buffer — in characters (≈ bytes for ASCII). Beyond it lines are dropped.
   * Default 4 MiB.
   */
  maxBufferedChars?: number;
}

/**
 * Writes lines to a stream without ever blocking the caller or growing
 * without bound.
 *
 * Why: on Linux, writing to a pipe whose reader is slow does not block
 * Node — the stream buffers in memory for ever (writableLength grows without
 * limit). So each line is checked against a bound on what is buffered, and
 * refused and counted as dropped beyond it. Lines written in one turn of the
 * event loop go out as one write (one syscall instead of one per line).
 * A stream that failed (EPIPE: the reader went away) drops what follows.
 */
export class BoundedLineWriter {
  private readonly counters: ExportCounters;
  private readonly maxBufferedChars: number;
  private batch: string[] = [];
  private batchChars = 0;
  private inFlightLines = 0;
  private scheduled = false;
  private broken = false;
  private closed = false;
  private abandoned = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly stream: LineStream,
    options: BoundedLineWriterOptions = {},
  ) {
    this.counters = options.counters ?? NOOP_EXPORT_COUNTERS;
    this.maxBufferedChars = options.maxBufferedChars ?? 4 * 1024 * 1024;
    // Without a listener an EPIPE would be an uncaught exception: the agent must outlive its reader.
    stream.on("error", () => {
      this.broken = true;
    });
    this.counters.queueLength(() => this.queueLength);
  }

  /** Lines accepted and not yet handed to the kernel. */
  get queueLength(): number {
    return this.batch.length + this.inFlightLines;
  }

  /** `line` must end with "\n". */
  write(line: string): void {
    if (
      this.closed ||
      this.broken ||
      this.batchChars + this.stream.writableLength + line.length > this.maxBufferedChars
    ) {
      this.counters.dropped(1);
      return;
    }
    this.batch.push(line);
    this.batchChars += line.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Hands the current batch to the stream. */
  flush(): void {
    this.scheduled = false;
    const n = this.batch.length;
    if (n === 0) return;
    const chunk = n === 1 ? (this.batch[0] as string) : this.batch.join("");
    this.batch = [];
    this.batchChars = 0;
    if (this.broken) {
      this.counters.dropped(n);
      return;
    }
    this.inFlightLines += n;
    try {
      this.stream.write(chunk, (error) => this.written(n, error));
    } catch (error) {
      this.written(n, error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Flushes and waits until the stream has taken every line, for at most
   * timeoutMs; lines still waiting then are counted as dropped.
   */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    this.flush();
    if (this.inFlightLines === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const finished = await Promise.race([idle, late]);
    clearTimeout(timer);
    if (!finished) {
      this.abandoned = true;
      this.counters.dropped(this.inFlightLines);
      this.inFlightLines = 0;
    }
  }

  private written(n: number, error: Error | null | undefined): void {
    if (this.abandoned) return; // already counted as dropped at close
    this.inFlightLines -= n;
    if (error) {
      this.broken = true;
      this.counters.failed(n);
    } else {
      this.counters.sent(n);
    }
    if (this.inFlightLines === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}

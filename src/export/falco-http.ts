/**
 * Falco-compatible HTTP output: each detection POSTed as the JSON object
 * Falco's http_output sends (keys time, rule, priority, source, hostname,
 * output, output_fields, tags; Content-Type application/json), one per
 * request, so falcosidekick and other Falco receivers keep working.
 *
 * A bounded queue and a few requests in flight on keep-alive connections;
 * transient failures (connection errors, 429, 5xx) are retried a few times
 * with backoff, then counted failed. No spool: OTLP is the durable path.
 */
import { readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Detection } from "../rules/detection.js";
import { formatJsonLine } from "./falco-format.js";
import { NO_SANITIZER, type Sanitizer } from "./sanitize.js";
import { type DetectionSink, type ExportCounters, NOOP_EXPORT_COUNTERS } from "./sink.js";

export const FALCO_HTTP_SINK_NAME = "http";

export interface FalcoHttpSinkOptions {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** PEM CA file for https (Falco's http_output.ca_cert). */
  readonly certificateFile?: string;
  /** https without verifying the server (Falco's http_output.insecure). */
  readonly insecure?: boolean;
  readonly counters?: ExportCounters;
  /** Detections waiting; beyond it new ones are dropped and counted. Default 4096. */
  readonly maxQueueSize?: number;
  /** Requests in flight at once. Default 4. */
  readonly concurrency?: number;
  /** Attempts per detection. Default 3. */
  readonly maxAttempts?: number;
  readonly timeoutMillis?: number;
  readonly sanitizer?: Sanitizer;
  readonly shutdownTimeoutMillis?: number;
  readonly onError?: (message: string) => void;
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

export class FalcoHttpSink implements DetectionSink {
  readonly name = FALCO_HTTP_SINK_NAME;
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly headers: Record<string, string>;
  private readonly counters: ExportCounters;
  private readonly maxQueueSize: number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly timeoutMillis: number;
  private readonly sanitizer: Sanitizer;
  private readonly shutdownTimeoutMillis: number;
  private readonly onError: (message: string) => void;
  private readonly queue: string[] = [];
  private active = 0;
  private closed = false;
  private idle: (() => void) | undefined;

  constructor(options: FalcoHttpSinkOptions) {
    this.url = new URL(options.url);
    if (this.url.protocol !== "http:" && this.url.protocol !== "https:") {
      throw new Error(`http output URL must be http:// or https://, got "${options.url}"`);
    }
    const ca = options.certificateFile ? readFileSync(options.certificateFile) : undefined;
    this.agent =
      this.url.protocol === "https:"
        ? new HttpsAgent({
            keepAlive: true,
            maxSockets: options.concurrency ?? 4,
            ...(ca !== undefined && { ca }),
            rejectUnauthorized: options.insecure !== true,
          })
        : new HttpAgent({ keepAlive: true, maxSockets: options.concurrency ?? 4 });
    this.headers = {
      "user-agent": "falcosecurity/falco (peregrine)",
      ...options.headers,
      "content-type": "application/json",
    };
    this.counters = options.counters ?? NOOP_EXPORT_COUNTERS;
    this.maxQueueSize = options.maxQueueSize ?? 4096;
    this.concurrency = options.concurrency ?? 4;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.timeoutMillis = options.timeoutMillis ?? 5000;
    this.sanitizer = options.sanitizer ?? NO_SANITIZER;
    this.shutdownTimeoutMillis = options.shutdownTimeoutMillis ?? 5000;
    this.onError = options.onError ?? (() => {});
    this.counters.queueLength(() => this.queue.length + this.active);
  }

  emit(detection: Detection): void {
    if (this.closed || this.queue.length >= this.maxQueueSize) {
      this.counters.dropped(1);
      return;
    }
    const sanitized =
      this.sanitizer.enabled && detection.output !== this.sanitizer.text(detection.output)
        ? { ...detection, output: this.sanitizer.text(detection.output) }
        : detection;
    this.queue.push(formatJsonLine(sanitized));
    this.pump();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const body = this.queue.shift() as string;
      this.active++;
      this.deliver(body).then((ok) => {
        this.active--;
        if (ok) this.counters.sent(1);
        else this.counters.failed(1);
        this.pump();
        if (this.active === 0 && this.queue.length === 0) this.idle?.();
      });
    }
  }

  private async deliver(body: string): Promise<boolean> {
    let delay = 200;
    for (let attempt = 1; ; attempt++) {
      const result = await this.post(body);
      if (result === "ok") return true;
      if (result === "fail" || attempt >= this.maxAttempts || this.closed) return false;
      await new Promise((r) => setTimeout(r, delay * (0.8 + Math.random() * 0.4)));
      delay *= 2;
    }
  }

  private post(body: string): Promise<"ok" | "retry" | "fail"> {
    const doRequest = this.url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const req = doRequest(
        this.url,
        {
          method: "POST",
          agent: this.agent,
          headers: { ...this.headers, "content-length": String(Buffer.byteLength(body)) },
          timeout: this.timeoutMillis,
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve("ok");
            else {
              this.onError(`http output ${this.url.href}: HTTP ${status}`);
              resolve(RETRYABLE.has(status) ? "retry" : "fail");
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMillis} ms`)));
      req.on("error", (e) => {
        this.onError(`http output ${this.url.href}: ${e.message}`);
        resolve("retry");
      });
      req.end(body);
    });
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.active > 0 || this.queue.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((r) => {
          this.idle = r;
        }),
        new Promise<void>((r) => {
          timer = setTimeout(r, this.shutdownTimeoutMillis);
        }),
      ]);
      clearTimeout(timer);
    }
    const left = this.queue.length;
    this.queue.length = 0;
    if (left > 0) this.counters.dropped(left);
    this.agent.destroy();
  }
}

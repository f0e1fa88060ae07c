/**
 * Sends one encoded ExportLogsServiceRequest, over OTLP/gRPC or
 * OTLP/HTTP-protobuf, and says what the server answered in the terms the
 * delivery layer needs: delivered (with any records the server rejected
 * for good), retry (transient; with the server's hint when it gave one), or
 * fail (permanent: resending the same bytes cannot help).
 *
 * Ours rather than the SDK exporters': those take SDK records, not bytes
 * (the spool resends bytes), and the 0.223 gRPC one neither retries nor
 * surfaces RetryInfo.
 */
import { readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { promisify } from "node:util";
import { gzip as gzipCb } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { decodeExportResponse, readFields } from "./otlp-encode.js";

const gzip = promisify(gzipCb);

export type SendOutcome =
  | { readonly kind: "ok"; readonly rejected: number; readonly message: string }
  | { readonly kind: "retry"; readonly retryAfterMs: number | undefined; readonly error: string }
  | { readonly kind: "fail"; readonly error: string };

export interface OtlpTransport {
  /** "grpc" | "http/protobuf", for messages. */
  readonly protocol: string;
  readonly endpoint: string;
  send(body: Buffer): Promise<SendOutcome>;
  close(): void;
}

export interface TransportOptions {
  /** grpc: "http(s)://host:port" or "host:port"; http: the full URL of the logs path. */
  readonly endpoint: string;
  readonly protocol: "grpc" | "http/protobuf";
  readonly headers: Readonly<Record<string, string>>;
  readonly compression: "gzip" | "none";
  /** Deadline of one request. */
  readonly timeoutMillis: number;
  /** PEM files; "" when unset. */
  readonly certificateFile: string;
  readonly clientKeyFile: string;
  readonly clientCertificateFile: string;
  /** gRPC without a scheme: plaintext when true. */
  readonly insecure: boolean;
}

export function createTransport(options: TransportOptions): OtlpTransport {
  return options.protocol === "grpc" ? new GrpcTransport(options) : new HttpTransport(options);
}

function readPem(path: string, what: string): Buffer | undefined {
  if (path === "") return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read the OTLP ${what} ${path}: ${(error as Error).message}`);
  }
}

// --- gRPC -------------------------------------------------------------------------------------

const EXPORT_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/** OTLP/gRPC transient codes: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS. */
const RETRYABLE_GRPC: ReadonlySet<number> = new Set([1, 4, 10, 11, 14, 15]);
const RESOURCE_EXHAUSTED = 8;
const RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo";

/**
 * google.rpc.Status (grpc-status-details-bin): details (3) are Any{type_url 1,
 * value 2}; RetryInfo.retry_delay (1) is a Duration{seconds 1, nanos 2}.
 */
export function retryDelayFromStatusDetails(details: Uint8Array): number | undefined {
  for (const [field, wire, any] of readFields(details)) {
    if (field !== 3 || wire !== 2) continue;
    let typeUrl = "";
    let value: Uint8Array | undefined;
    for (const [f, w, v] of readFields(any as Uint8Array)) {
      if (f === 1 && w === 2) typeUrl = Buffer.from(v as Uint8Array).toString("utf8");
      else if (f === 2 && w === 2) value = v as Uint8Array;
    }
    if (typeUrl !== RETRY_INFO_TYPE || value === undefined) continue;
    for (const [f, w, duration] of readFields(value)) {
      if (f !== 1 || w !== 2) continue;
      let seconds = 0;
      let nanos = 0;
      for (const [df, dw, dv] of readFields(duration as Uint8Array)) {
        if (df === 1 && dw === 0) seconds = dv as number;
        else if (df === 2 && dw === 0) nanos = dv as number;
      }
      return seconds * 1000 + Math.round(nanos / 1e6);
    }
    return 0;
  }
  return undefined;
}

/** "http://h:p" → plaintext h:p; "https://h:p" → TLS; "h:p" → TLS unless insecure. */
export function grpcTarget(endpoint: string, insecure: boolean): { target: string; tls: boolean } {
  const m = /^(https?):\/\/([^/]+)\/?/i.exec(endpoint);
  if (m !== null) return { target: m[2] as string, tls: (m[1] as string).toLowerCase() === "https" };
  return { target: endpoint.replace(/\/+$/, ""), tls: !insecure };
}

class GrpcTransport implements OtlpTransport {
  readonly protocol = "grpc";
  readonly endpoint: string;
  private readonly client: grpc.Client;
  private readonly metadata: grpc.Metadata;
  private readonly timeoutMillis: number;

  constructor(options: TransportOptions) {
    this.endpoint = options.endpoint;
    const { target, tls } = grpcTarget(options.endpoint, options.insecure);
    const credentials = tls
      ? grpc.credentials.createSsl(
          readPem(options.certificateFile, "certificate") ?? null,
          readPem(options.clientKeyFile, "client key") ?? null,
          readPem(options.clientCertificateFile, "client certificate") ?? null,
        )
      : grpc.credentials.createInsecure();
    this.client = new grpc.Client(target, credentials, {
      ...(options.compression === "gzip" && { "grpc.default_compression_algorithm": 2 }),
      // A collector that went away is noticed fast, and reconnects are quick once it is back.
      "grpc.initial_reconnect_backoff_ms": 250,
      "grpc.max_reconnect_backoff_ms": 5000,
      // Requests are batches of hundreds of records: a larger HTTP/2 window saves round trips.
      "grpc-node.flow_control_window": 16 << 20,
    });
    this.metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(options.headers)) this.metadata.set(k.toLowerCase(), v);
    this.timeoutMillis = options.timeoutMillis;
  }

  send(body: Buffer): Promise<SendOutcome> {
    return new Promise((resolve) => {
      this.client.makeUnaryRequest<Buffer, Buffer>(
        EXPORT_METHOD,
        (b) => b,
        (b) => b,
        body,
        this.metadata,
        { deadline: Date.now() + this.timeoutMillis },
        (error, response) => {
          if (error === null || error === undefined) {
            const { rejected, message } = decodeExportResponse(response ?? Buffer.alloc(0));
            resolve({ kind: "ok", rejected, message });
            return;
          }
          const details = error.metadata?.get("grpc-status-details-bin")[0];
          const hint =
            details instanceof Buffer ? safe(() => retryDelayFromStatusDetails(details)) : undefined;
          const text = `gRPC ${grpc.status[error.code] ?? error.code}: ${error.details}`;
          if (RETRYABLE_GRPC.has(error.code) || (error.code === RESOURCE_EXHAUSTED && hint !== undefined)) {
            resolve({ kind: "retry", retryAfterMs: hint, error: text });
          } else {
            resolve({ kind: "fail", error: text });
          }
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

// --- HTTP/protobuf ----------------------------------------------------------------------------

/** OTLP/HTTP: these statuses are transient; everything else non-2xx is permanent. */
const RETRYABLE_HTTP: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Retry-After: delay-seconds or an HTTP-date. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

class HttpTransport implements OtlpTransport {
  readonly protocol = "http/protobuf";
  readonly endpoint: string;
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly headers: Record<string, string>;
  private readonly timeoutMillis: number;
  private readonly gzip: boolean;

  constructor(options: TransportOptions) {
    this.endpoint = options.endpoint;
    this.url = new URL(options.endpoint);
    const tls = this.url.protocol === "https:";
    const ca = readPem(options.certificateFile, "certificate");
    const key = readPem(options.clientKeyFile, "client key");
    const cert = readPem(options.clientCertificateFile, "client certificate");
    this.agent = tls
      ? new HttpsAgent({
          keepAlive: true,
          maxSockets: 4,
          ...(ca !== undefined && { ca }),
          ...(key !== undefined && { key }),
          ...(cert !== undefined && { cert }),
        })
      : new HttpAgent({ keepAlive: true, maxSockets: 4 });
    this.headers = { ...options.headers, "content-type": "application/x-protobuf" };
    this.gzip = options.compression === "gzip";
    if (this.gzip) this.headers["content-encoding"] = "gzip";
    this.timeoutMillis = options.timeoutMillis;
  }

  async send(body: Buffer): Promise<SendOutcome> {
    const payload = this.gzip ? await gzip(body) : body;
    const doRequest = this.url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: SendOutcome) => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      const req = doRequest(
        this.url,
        {
          method: "POST",
          agent: this.agent,
          headers: { ...this.headers, "content-length": String(payload.length) },
          timeout: this.timeoutMillis,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (e) => settle({ kind: "retry", retryAfterMs: undefined, error: e.message }));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const text = `HTTP ${status}`;
            if (status >= 200 && status < 300) {
              const parsed = safe(() => decodeExportResponse(Buffer.concat(chunks)));
              settle({ kind: "ok", rejected: parsed?.rejected ?? 0, message: parsed?.message ?? "" });
            } else if (RETRYABLE_HTTP.has(status)) {
              const header = res.headers["retry-after"];
              settle({ kind: "retry", retryAfterMs: parseRetryAfter(header), error: text });
            } else {
              settle({
                kind: "fail",
                error: `${text}: ${Buffer.concat(chunks).toString("utf8").slice(0, 200)}`,
              });
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMillis} ms`)));
      // Connection refused, reset, DNS, timeout: the collector may come back.
      req.on("error", (e) => settle({ kind: "retry", retryAfterMs: undefined, error: e.message }));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

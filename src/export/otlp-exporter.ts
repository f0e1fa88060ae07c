/**
 * The OpenTelemetry SDK's OTLP log exporters, built from our resolved
 * settings (otlp-settings.ts: config file over OTEL_EXPORTER_OTLP_LOGS_*
 * over OTEL_EXPORTER_OTLP_*), and what one export() call came to in the
 * terms the delivery layer needs: delivered, transient (retry, with the
 * server's hint when it gave one) or permanent (resending cannot help).
 *
 * The exporters bring the wire: protobuf serialization, TLS, headers or
 * metadata, gzip, deadlines. What they do not do, and we do on top:
 * - @opentelemetry/exporter-logs-otlp-grpc 0.223 reports every gRPC error
 *   as a plain failure and never retries, so the status code decides here
 *   (OTLP's transient codes; RESOURCE_EXHAUSTED only with RetryInfo), and
 *   the RetryInfo delay is read from the error's grpc-status-details-bin.
 * - exporter-logs-otlp-proto retries 429/502/503/504 and connection errors
 *   itself (honouring Retry-After) within its timeout; when it still fails
 *   it says so without the status, so that failure is transient here.
 */
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { type DiagLogger, DiagLogLevel, diag } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPLogExporter as GrpcLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { OTLPLogExporter as ProtoLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs";

export interface TransportOptions {
  /** grpc: "http(s)://host:port" or "host:port"; http: the full URL of the logs path. */
  readonly endpoint: string;
  readonly protocol: "grpc" | "http/protobuf";
  readonly headers: Readonly<Record<string, string>>;
  readonly compression: "gzip" | "none";
  /** Deadline of one export (for HTTP: all of the exporter's own attempts together). */
  readonly timeoutMillis: number;
  /** PEM files; "" when unset. */
  readonly certificateFile: string;
  readonly clientKeyFile: string;
  readonly clientCertificateFile: string;
  /** gRPC without a scheme: plaintext when true. */
  readonly insecure: boolean;
}

export type SendOutcome =
  | {
      readonly kind: "ok";
      /**
       * Records the collector refused while accepting the request (OTLP
       * partial success: rejected_log_records), with its message. Absent
       * when it took them all.
       */
      readonly rejected?: number;
      readonly rejectedReason?: string;
    }
  | { readonly kind: "retry"; readonly retryAfterMs: number | undefined; readonly error: string }
  | { readonly kind: "fail"; readonly error: string };

/** An SDK exporter plus what our messages say about it. */
export interface OtlpExporter {
  /** "grpc" | "http/protobuf". */
  readonly protocol: string;
  readonly endpoint: string;
  /** The exporter in use (renew() replaces it). */
  readonly exporter: LogRecordExporter;
  /**
   * Replaces the exporter with a new one of the same settings; the old one
   * is shut down once its requests end. Why (gRPC): the SDK's client keeps
   * grpc-js's reconnect backoff, which grows to 2 minutes while a collector
   * stays away, and grpc-js shares a connection (and its backoff) among
   * clients of equal settings. The new client's user agent carries a
   * generation number, so it gets a connection of its own that tries at
   * once.
   */
  renew?(): void;
}

function readPem(path: string, what: string): Buffer | undefined {
  if (path === "") return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read the OTLP ${what} ${path}: ${(error as Error).message}`);
  }
}

/** Reads the PEM files the settings name: a missing or unreadable file is an error naming it, before any thread starts. */
export function checkTransportFiles(options: TransportOptions): void {
  readPem(options.certificateFile, "certificate");
  readPem(options.clientKeyFile, "client key");
  readPem(options.clientCertificateFile, "client certificate");
}

/** "http://h:p" → plaintext; "https://h:p" → TLS; "h:p" → TLS unless insecure. */
export function grpcUsesTls(endpoint: string, insecure: boolean): boolean {
  const m = /^(https?):\/\//i.exec(endpoint);
  if (m !== null) return (m[1] as string).toLowerCase() === "https";
  return !insecure;
}

type GrpcConfig = NonNullable<ConstructorParameters<typeof GrpcLogExporter>[0]>;
type ProtoConfig = NonNullable<ConstructorParameters<typeof ProtoLogExporter>[0]>;

/**
 * The SDK exporter for these settings. Requests in flight are bounded by
 * the delivery layer; `concurrencyLimit` only needs to be above it.
 */
export function createOtlpExporter(options: TransportOptions, concurrencyLimit = 8): OtlpExporter {
  const ca = readPem(options.certificateFile, "certificate");
  const key = readPem(options.clientKeyFile, "client key");
  const cert = readPem(options.clientCertificateFile, "client certificate");
  if (options.protocol === "grpc") {
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(options.headers)) metadata.set(k.toLowerCase(), v);
    const config = (generation: number): GrpcConfig => ({
      url: options.endpoint,
      credentials: grpcUsesTls(options.endpoint, options.insecure)
        ? grpc.credentials.createSsl(ca ?? null, key ?? null, cert ?? null)
        : grpc.credentials.createInsecure(),
      metadata,
      compression: options.compression as NonNullable<GrpcConfig["compression"]>,
      timeoutMillis: options.timeoutMillis,
      concurrencyLimit,
      userAgent: `peregrine (connection ${generation})`,
    });
    let generation = 0;
    const target = {
      protocol: options.protocol,
      endpoint: options.endpoint,
      exporter: new GrpcLogExporter(config(generation)) as LogRecordExporter,
      renew(): void {
        const old = target.exporter;
        target.exporter = new GrpcLogExporter(config(++generation));
        old.shutdown().catch(() => {});
      },
    };
    return target;
  }
  const config: ProtoConfig = {
    url: options.endpoint,
    headers: { ...options.headers },
    compression: options.compression as NonNullable<ProtoConfig["compression"]>,
    timeoutMillis: options.timeoutMillis,
    concurrencyLimit,
    httpAgentOptions: {
      keepAlive: true,
      ...(ca !== undefined && { ca }),
      ...(key !== undefined && { key }),
      ...(cert !== undefined && { cert }),
    },
  };
  return { protocol: options.protocol, endpoint: options.endpoint, exporter: new ProtoLogExporter(config) };
}

// --- what an export came to -----------------------------------------------------------------

/** OTLP/gRPC transient codes: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS. */
const RETRYABLE_GRPC: ReadonlySet<number> = new Set([1, 4, 10, 11, 14, 15]);
const RESOURCE_EXHAUSTED = 8;
const RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo";

/** Reads a varint at `at`; returns [value, next offset]. */
function readVarint(buf: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  let i = at;
  for (;;) {
    if (i >= buf.length) throw new Error("truncated varint");
    const b = buf[i++] as number;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, i];
    scale *= 128;
    if (scale > 2 ** 63) throw new Error("varint too long");
  }
}

/** The fields of a protobuf message: [field number, wire type, value (number, or the bytes of a length-delimited one)]. */
function* readFields(buf: Uint8Array): Generator<[number, number, number | Uint8Array]> {
  let at = 0;
  while (at < buf.length) {
    const [key, afterKey] = readVarint(buf, at);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    at = afterKey;
    if (wire === 0) {
      const [v, next] = readVarint(buf, at);
      at = next;
      yield [field, wire, v];
    } else if (wire === 2) {
      const [len, next] = readVarint(buf, at);
      if (next + len > buf.length) throw new Error("truncated field");
      yield [field, wire, buf.subarray(next, next + len)];
      at = next + len;
    } else if (wire === 1) {
      at += 8;
    } else if (wire === 5) {
      at += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

/**
 * The delay of a google.rpc.RetryInfo in a google.rpc.Status (the
 * grpc-status-details-bin trailer): details (3) are Any{type_url 1, value 2};
 * RetryInfo.retry_delay (1) is a Duration{seconds 1, nanos 2}.
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

interface GrpcLikeError {
  readonly code: number;
  readonly details?: string;
  readonly metadata?: { get(key: string): unknown[] };
}

function isGrpcError(error: unknown): error is GrpcLikeError {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "number" &&
    typeof (error as { metadata?: { get?: unknown } }).metadata?.get === "function"
  );
}

/**
 * Sorts a failed export. gRPC: by status code (OTLP's transient list;
 * RESOURCE_EXHAUSTED only with a RetryInfo, whose delay is kept). HTTP: an
 * error carrying a status code is a response the exporter did not retry
 * (permanent); anything else (retries used up on 429/5xx, connection
 * refused, TLS, timeout) may go away when the collector is back.
 */
export function classifyExportError(protocol: string, error: unknown): SendOutcome {
  const message = error instanceof Error ? error.message : String(error);
  if (protocol === "grpc" && isGrpcError(error)) {
    const text = `gRPC ${grpc.status[error.code] ?? error.code}: ${error.details ?? message}`;
    const details = error.metadata?.get("grpc-status-details-bin")[0];
    let hint: number | undefined;
    if (details instanceof Uint8Array) {
      try {
        hint = retryDelayFromStatusDetails(details);
      } catch {
        hint = undefined; // an unreadable trailer is no hint
      }
    }
    if (RETRYABLE_GRPC.has(error.code) || (error.code === RESOURCE_EXHAUSTED && hint !== undefined)) {
      return { kind: "retry", retryAfterMs: hint, error: text };
    }
    return { kind: "fail", error: text };
  }
  const status = (error as { code?: unknown } | undefined)?.code;
  if (typeof status === "number" && status >= 300) {
    const data = (error as { data?: unknown }).data;
    const body = typeof data === "string" && data !== "" ? `: ${data.slice(0, 200)}` : "";
    return { kind: "fail", error: `HTTP ${status} ${message}${body}` };
  }
  return { kind: "retry", retryAfterMs: undefined, error: message || "export failed" };
}

/** Runs one export() of the SDK exporter; never rejects. */
export function exportRecords(target: OtlpExporter, records: ReadableLogRecord[]): Promise<SendOutcome> {
  installDiagnostics();
  return new Promise((resolve) => {
    try {
      target.exporter.export(records, (result: ExportResult) => {
        // The SDK reported this request's partial success (if any) just before calling back, in the same tick.
        const partial = lastPartialSuccess;
        lastPartialSuccess = undefined;
        if (result.code !== ExportResultCode.SUCCESS) {
          resolve(classifyExportError(target.protocol, result.error));
        } else if (partial !== undefined && partial.rejected > 0) {
          resolve({
            kind: "ok",
            rejected: Math.min(partial.rejected, records.length),
            rejectedReason: partial.reason,
          });
        } else {
          resolve({ kind: "ok" });
        }
      });
    } catch (error) {
      resolve({ kind: "retry", retryAfterMs: undefined, error: (error as Error).message });
    }
  });
}

// --- the SDK's diagnostics, and the partial success it reports only there ------------------

/**
 * What @opentelemetry/otlp-exporter-base (0.223, logging-response-handler)
 * says when a collector accepted a request but rejected some records:
 * `diag.warn("Received Partial Success response:", JSON.stringify(partialSuccess))`,
 * where partialSuccess is {"rejectedLogRecords": n, "errorMessage": "…"}.
 * It does so synchronously in the export's response handler, right before
 * it calls the export's result callback with SUCCESS: exportRecords() takes
 * the figure there and counts the records (the SDK has no other way to
 * hand it out).
 */
export const PARTIAL_SUCCESS_MESSAGE = "Received Partial Success response:";

let lastPartialSuccess: { rejected: number; reason: string } | undefined;
let forward: ((message: string) => void) | undefined;

/** Reads the partial success out of the SDK's diag warning; anything else is ignored. */
export function parsePartialSuccess(
  message: string,
  args: readonly unknown[],
): { rejected: number; reason: string } | undefined {
  if (message !== PARTIAL_SUCCESS_MESSAGE || typeof args[0] !== "string") return undefined;
  try {
    const body = JSON.parse(args[0]) as { rejectedLogRecords?: unknown; errorMessage?: unknown };
    const rejected = Number(body.rejectedLogRecords ?? 0);
    return {
      rejected: Number.isFinite(rejected) && rejected > 0 ? Math.floor(rejected) : 0,
      reason: typeof body.errorMessage === "string" ? body.errorMessage : "",
    };
  } catch {
    return undefined;
  }
}

/**
 * (Re)installs our diag logger: it takes the partial success for
 * exportRecords() and passes warnings and errors on to the log set with
 * forwardSdkDiagnostics(), if any. Per thread (an export worker has its
 * own).
 */
function installDiagnostics(): void {
  if (installedLogger !== undefined) {
    // diag has no getter, and a test may have called diag.disable(): set ours again (cheap, once per request).
    diag.setLogger(installedLogger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    return;
  }
  const say =
    (level: string) =>
    (message: string, ...args: unknown[]): void => {
      if (forward === undefined) return;
      const rest = args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
      forward(`OpenTelemetry SDK ${level}: ${message}${rest === "" ? "" : ` ${rest}`}`);
    };
  const warning = say("warning");
  const ignore = (): void => {};
  installedLogger = {
    error: say("error"),
    warn: (message: string, ...args: unknown[]): void => {
      const partial = parsePartialSuccess(message, args);
      if (partial !== undefined) lastPartialSuccess = partial;
      warning(message, ...args);
    },
    info: ignore,
    debug: ignore,
    verbose: ignore,
  };
  diag.setLogger(installedLogger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

let installedLogger: DiagLogger | undefined;

/**
 * Sends the OpenTelemetry SDK's own warnings and errors (its `diag` API,
 * silent unless a logger is set) to `log`: a collector's partial success
 * ("Received Partial Success response: …", records it rejected while the
 * request succeeded), attributes dropped at the record limit. Process-wide;
 * the agent calls it once when OTLP export is on.
 */
export function forwardSdkDiagnostics(log: (message: string) => void): void {
  forward = log;
  installDiagnostics();
}

/**
 * An OTLP/gRPC logs receiver for tests: a real gRPC server on loopback that
 * decodes the exporter's wire bytes with the OTLP protobuf definitions under
 * ./otlp-proto, and flattens what it receives into plain records.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** An OTLP AnyValue as a plain value: int_value → bigint (so an int is told from a double), double → number. */
export type OtlpValue = string | boolean | bigint | number | Uint8Array | null | OtlpValue[] | OtlpMap;
export interface OtlpMap {
  [key: string]: OtlpValue;
}

/** One received LogRecord, with its resource and scope. */
export interface ReceivedLog {
  readonly resource: Readonly<Record<string, OtlpValue>>;
  readonly scope: { readonly name: string; readonly version: string };
  readonly body: OtlpValue;
  readonly attributes: Readonly<Record<string, OtlpValue>>;
  readonly droppedAttributesCount: number;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly timeUnixNano: bigint;
  readonly observedTimeUnixNano: bigint;
  readonly eventName: string;
}

export interface OtlpReceiverOptions {
  /** Answer the first n Export calls with an error (default 0). */
  failFirst?: number;
  /** The gRPC status of those failures (default UNAVAILABLE, which OTLP says to retry). */
  failWith?: grpc.status;
  /** Wait this long before answering each call. */
  delayMs?: number;
  /** Port to bind (default 0: any free one); lets a test bring a receiver back on the same port. */
  port?: number;
  /** Attach a google.rpc.RetryInfo with this delay to the failures (grpc-status-details-bin). */
  retryInfoMs?: number;
  /**
   * Answer each successful Export with an OTLP partial success: this many
   * of the request's records rejected (at most all of them), with this
   * message. The rejected records are still listed in `records` (the
   * receiver decodes everything); `rejected` counts them.
   */
  partialSuccess?: { readonly rejected: number; readonly message: string };
}

/** google.rpc.Status{code, message, details: [Any{RetryInfo{retry_delay: Duration}}]} as bytes, written field by field. */
export function statusWithRetryInfo(code: number, message: string, delayMs: number): Buffer {
  const field = (n: number, body: Buffer): Buffer =>
    Buffer.concat([varint((n << 3) | 2), varint(body.length), body]);
  const num = (n: number, v: number): Buffer => Buffer.concat([varint(n << 3), varint(v)]);
  const duration = Buffer.concat([num(1, Math.floor(delayMs / 1000)), num(2, (delayMs % 1000) * 1e6)]);
  const retryInfo = field(1, duration);
  const any = Buffer.concat([
    field(1, Buffer.from("type.googleapis.com/google.rpc.RetryInfo")),
    field(2, retryInfo),
  ]);
  return Buffer.concat([num(1, code), field(2, Buffer.from(message)), field(3, any)]);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

export interface OtlpReceiver {
  /** "http://127.0.0.1:PORT": plaintext gRPC, as the exporter reads the scheme. */
  readonly url: string;
  readonly port: number;
  /** Every record of every successful Export call, in arrival order. */
  readonly records: ReceivedLog[];
  /** Export calls received, failed ones included. */
  readonly requests: number;
  /** Export calls answered with an error. */
  readonly failures: number;
  /** Records reported rejected in partial-success answers. */
  readonly rejected?: number;
  /** Arrival time (ms) of every Export call. */
  readonly times?: number[];
  /** Resolves with the first record (already received or yet to come) that matches. */
  waitFor(predicate: (log: ReceivedLog) => boolean, timeoutMs?: number): Promise<ReceivedLog>;
  /** Resolves once at least n records have arrived. */
  waitForCount(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const PROTO_ROOT = fileURLToPath(new URL("./otlp-proto/", import.meta.url));

let serviceDefinition: grpc.ServiceDefinition | undefined;

/** Decodes ExportLogsServiceRequest bytes with the proto definitions (as the gRPC server does). */
export function decodeExportRequest(bytes: Buffer): ReceivedLog[] {
  const method = logsService().Export as grpc.MethodDefinition<ExportRequest, unknown>;
  return flatten(method.requestDeserialize(bytes));
}

function logsService(): grpc.ServiceDefinition {
  if (serviceDefinition !== undefined) return serviceDefinition;
  const definition = protoLoader.loadSync("opentelemetry/proto/collector/logs/v1/logs_service.proto", {
    includeDirs: [PROTO_ROOT],
    keepCase: false,
    longs: String, // fixed64/int64 as decimal strings: converted to bigint below, no precision lost
    enums: Number,
    bytes: Buffer,
    defaults: true,
    oneofs: true, // AnyValue gets a `value` property naming the field that is set
  });
  const root = grpc.loadPackageDefinition(definition) as unknown as {
    opentelemetry: { proto: { collector: { logs: { v1: { LogsService: grpc.ServiceClientConstructor } } } } };
  };
  serviceDefinition = root.opentelemetry.proto.collector.logs.v1.LogsService.service;
  return serviceDefinition;
}

// Shapes of the decoded messages (proto-loader's camelCase objects).
interface AnyValueMessage {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValueMessage[] };
  kvlistValue?: { values?: KeyValueMessage[] };
  bytesValue?: Buffer;
}
interface KeyValueMessage {
  key: string;
  value?: AnyValueMessage | null;
}
interface LogRecordMessage {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body?: AnyValueMessage | null;
  attributes?: KeyValueMessage[];
  droppedAttributesCount: number;
  eventName: string;
}
interface ExportRequest {
  resourceLogs?: {
    resource?: { attributes?: KeyValueMessage[] } | null;
    scopeLogs?: { scope?: { name: string; version: string } | null; logRecords?: LogRecordMessage[] }[];
  }[];
}

export function otlpValue(value: AnyValueMessage | null | undefined): OtlpValue {
  if (value === null || value === undefined || value.value === undefined) return null;
  switch (value.value) {
    case "stringValue":
      return value.stringValue ?? "";
    case "boolValue":
      return value.boolValue ?? false;
    case "intValue":
      return BigInt(value.intValue ?? "0");
    case "doubleValue":
      return value.doubleValue ?? 0;
    case "arrayValue":
      return (value.arrayValue?.values ?? []).map(otlpValue);
    case "kvlistValue":
      return attributesOf(value.kvlistValue?.values);
    case "bytesValue":
      return new Uint8Array(value.bytesValue ?? Buffer.alloc(0));
    default:
      throw new Error(`AnyValue with unknown field ${value.value}`);
  }
}

function attributesOf(list: KeyValueMessage[] | undefined): OtlpMap {
  const out: OtlpMap = {};
  for (const kv of list ?? []) {
    if (Object.hasOwn(out, kv.key)) throw new Error(`duplicate attribute key ${kv.key}`); // OTLP: keys MUST be unique
    out[kv.key] = otlpValue(kv.value);
  }
  return out;
}

function flatten(request: ExportRequest): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  for (const rl of request.resourceLogs ?? []) {
    const resource = attributesOf(rl.resource?.attributes);
    for (const sl of rl.scopeLogs ?? []) {
      const scope = { name: sl.scope?.name ?? "", version: sl.scope?.version ?? "" };
      for (const lr of sl.logRecords ?? []) {
        out.push({
          resource,
          scope,
          body: otlpValue(lr.body),
          attributes: attributesOf(lr.attributes),
          droppedAttributesCount: lr.droppedAttributesCount,
          severityNumber: lr.severityNumber,
          severityText: lr.severityText,
          timeUnixNano: BigInt(lr.timeUnixNano),
          observedTimeUnixNano: BigInt(lr.observedTimeUnixNano),
          eventName: lr.eventName,
        });
      }
    }
  }
  return out;
}

export interface OtlpHttpReceiverOptions {
  /** Answer the first n requests with this status (default 503 when failFirst is set). */
  failFirst?: number;
  failStatus?: number;
  /** Retry-After header on those failures. */
  retryAfter?: string;
  port?: number;
}

export interface OtlpHttpReceiver extends OtlpReceiver {
  /** Request headers of every request, in order. */
  readonly headers: IncomingHttpHeaders[];
  /** Arrival time (ms) of every request. */
  readonly times: number[];
}

/** An OTLP/HTTP-protobuf receiver: POST /v1/logs, gzip understood, bytes decoded with the proto definitions. */
export async function startOtlpHttpReceiver(
  options: OtlpHttpReceiverOptions = {},
): Promise<OtlpHttpReceiver> {
  const records: ReceivedLog[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const times: number[] = [];
  const listeners = new Set<() => void>();
  let requests = 0;
  let failures = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests++;
      headers.push(req.headers);
      times.push(Date.now());
      if (req.url !== "/v1/logs" || req.method !== "POST") {
        res.writeHead(404).end();
        return;
      }
      if (requests <= (options.failFirst ?? 0)) {
        failures++;
        res
          .writeHead(
            options.failStatus ?? 503,
            options.retryAfter ? { "retry-after": options.retryAfter } : {},
          )
          .end();
        for (const l of [...listeners]) l();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      try {
        records.push(...decodeExportRequest(body));
      } catch (error) {
        res.writeHead(400).end(String(error));
        return;
      }
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      for (const l of [...listeners]) l();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const waitUntil = (check: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (check()) return resolve();
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${records.length} records so far)`),
        );
      }, timeoutMs);
      const listener = () => {
        if (!check()) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve();
      };
      listeners.add(listener);
    });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    records,
    headers,
    times,
    get requests() {
      return requests;
    },
    get failures() {
      return failures;
    },
    waitFor: async (predicate, timeoutMs = 5000) => {
      await waitUntil(() => records.some(predicate), timeoutMs, "a matching record");
      return records.find(predicate) as ReceivedLog;
    },
    waitForCount: (n, timeoutMs = 5000) => waitUntil(() => records.length >= n, timeoutMs, `${n} records`),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const records: ReceivedLog[] = [];
  const listeners = new Set<() => void>();
  let requests = 0;
  let failures = 0;
  let rejected = 0;
  const times: number[] = [];
  const failFirst = options.failFirst ?? 0;
  const delayMs = options.delayMs ?? 0;
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };

  const server = new grpc.Server();
  server.addService(logsService(), {
    Export(call: grpc.ServerUnaryCall<ExportRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
      requests++;
      times.push(Date.now());
      const n = requests;
      const answer = () => {
        if (n <= failFirst) {
          failures++;
          const code = options.failWith ?? grpc.status.UNAVAILABLE;
          const metadata = new grpc.Metadata();
          if (options.retryInfoMs !== undefined) {
            metadata.set(
              "grpc-status-details-bin",
              statusWithRetryInfo(code, "slow down", options.retryInfoMs),
            );
          }
          callback({ code, details: `failing request ${n} on purpose`, metadata });
          notify();
          return;
        }
        let received: ReceivedLog[];
        try {
          received = flatten(call.request);
        } catch (error) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: String(error) });
          return;
        }
        records.push(...received);
        const partial = options.partialSuccess;
        if (partial === undefined) {
          callback(null, {});
        } else {
          const n = Math.min(partial.rejected, received.length);
          rejected += n;
          callback(null, { partialSuccess: { rejectedLogRecords: n, errorMessage: partial.message } });
        }
        notify();
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `127.0.0.1:${options.port ?? 0}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    );
  });

  const waitUntil = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const first = check();
      if (first !== undefined) return resolve(first);
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${records.length} records so far)`),
        );
      }, timeoutMs);
      const listener = () => {
        const found = check();
        if (found === undefined) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve(found);
      };
      listeners.add(listener);
    });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    records,
    times,
    get requests() {
      return requests;
    },
    get failures() {
      return failures;
    },
    get rejected() {
      return rejected;
    },
    waitFor: (predicate, timeoutMs = 5000) =>
      waitUntil(() => records.find(predicate), timeoutMs, "a matching record"),
    waitForCount: async (n, timeoutMs = 5000) => {
      await waitUntil(() => (records.length >= n ? true : undefined), timeoutMs, `${n} records`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

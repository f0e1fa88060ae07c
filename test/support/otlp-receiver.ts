/**
 * An OTLP/gRPC logs receiver for tests: a real gRPC server on loopback that
 * decodes the exporter's wire bytes with the OTLP protobuf definitions under
 * ./otlp-proto, and flattens what it receives into plain records.
 */
import { fileURLToPath } from "node:url";
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
  /** Resolves with the first record (already received or yet to come) that matches. */
  waitFor(predicate: (log: ReceivedLog) => boolean, timeoutMs?: number): Promise<ReceivedLog>;
  /** Resolves once at least n records have arrived. */
  waitForCount(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const PROTO_ROOT = fileURLToPath(new URL("./otlp-proto/", import.meta.url));

let serviceDefinition: grpc.ServiceDefinition | undefined;

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

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const records: ReceivedLog[] = [];
  const listeners = new Set<() => void>();
  let requests = 0;
  let failures = 0;
  const failFirst = options.failFirst ?? 0;
  const delayMs = options.delayMs ?? 0;
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };

  const server = new grpc.Server();
  server.addService(logsService(), {
    Export(call: grpc.ServerUnaryCall<ExportRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
      requests++;
      const n = requests;
      const answer = () => {
        if (n <= failFirst) {
          failures++;
          callback({
            code: options.failWith ?? grpc.status.UNAVAILABLE,
            details: `failing request ${n} on purpose`,
          });
          notify();
          return;
        }
        try {
          records.push(...flatten(call.request));
        } catch (error) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: String(error) });
          return;
        }
        callback(null, {});
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
    get requests() {
      return requests;
    },
    get failures() {
      return failures;
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

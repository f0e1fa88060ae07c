/**
 * OTLP settings, decided once at start-up from (lowest first): built-in
 * defaults, the standard OTEL_EXPORTER_OTLP_* variables, the
 * OTEL_EXPORTER_OTLP_LOGS_* ones (per key, the signal-specific wins), then
 * the config file / flags. As in the SDKs: a value is trimmed, an empty one
 * counts as unset.
 */
import type { TransportOptions } from "./otlp-exporter.js";

/** What the config file (and flags) may set; empty/undefined means "not set here". */
export interface OtlpFileSettings {
  endpoint: string;
  protocol: string;
  headers: Record<string, string>;
  compression: string;
  timeoutMs: number;
  certificate: string;
  clientKey: string;
  clientCertificate: string;
  insecure: boolean | undefined;
}

export function defaultOtlpFileSettings(): OtlpFileSettings {
  return {
    endpoint: "",
    protocol: "",
    headers: {},
    compression: "",
    timeoutMs: 0,
    certificate: "",
    clientKey: "",
    clientCertificate: "",
    insecure: undefined,
  };
}

export class OtlpSettingsError extends Error {
  override readonly name = "OtlpSettingsError";
}

type Env = Readonly<Record<string, string | undefined>>;

function nonBlank(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/** The signal-specific variable, else the generic one: OTEL_EXPORTER_OTLP_LOGS_X, OTEL_EXPORTER_OTLP_X. */
function envOf(env: Env, name: string): { value: string; specific: boolean } | undefined {
  const specific = nonBlank(env[`OTEL_EXPORTER_OTLP_LOGS_${name}`]);
  if (specific !== undefined) return { value: specific, specific: true };
  const generic = nonBlank(env[`OTEL_EXPORTER_OTLP_${name}`]);
  return generic === undefined ? undefined : { value: generic, specific: false };
}

/** "k=v,k2=v2", percent-decoded (the OTEL_EXPORTER_OTLP_HEADERS format). */
export function parseHeaders(text: string | undefined, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined) return out;
  for (const pair of text.split(",")) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new OtlpSettingsError(`${where}: expected key=value pairs, got "${pair.trim()}"`);
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.trim());
      } catch {
        return s.trim();
      }
    };
    out[decode(pair.slice(0, eq)).toLowerCase()] = decode(pair.slice(eq + 1));
  }
  return out;
}

const PROTOCOLS = ["grpc", "http/protobuf"] as const;

/**
 * The transport settings, or undefined when OTLP is off: no endpoint
 * anywhere, or OTEL_LOGS_EXPORTER=none without an explicit endpoint.
 * Throws OtlpSettingsError naming the variable or key that is wrong.
 */
export function resolveOtlpTransport(
  file: OtlpFileSettings,
  env: Env = process.env,
): TransportOptions | undefined {
  const protocolText = nonBlank(file.protocol) ?? envOf(env, "PROTOCOL")?.value ?? "grpc";
  if (protocolText === "http/json") {
    throw new OtlpSettingsError(`OTLP protocol "http/json" is not supported; use grpc or http/protobuf`);
  }
  if (!(PROTOCOLS as readonly string[]).includes(protocolText)) {
    throw new OtlpSettingsError(`OTLP protocol must be grpc or http/protobuf, got "${protocolText}"`);
  }
  const protocol = protocolText as TransportOptions["protocol"];

  let endpoint: string | undefined;
  let appendPath = false;
  const explicit = nonBlank(file.endpoint);
  if (explicit !== undefined) {
    endpoint = explicit;
    // A bare http://host:port given for HTTP means the collector's default path, as for the generic variable.
    appendPath = protocol === "http/protobuf" && /^https?:\/\/[^/]+\/?$/i.test(explicit);
  } else {
    if (nonBlank(env.OTEL_LOGS_EXPORTER)?.toLowerCase() === "none") return undefined;
    const fromEnv = envOf(env, "ENDPOINT");
    if (fromEnv === undefined) return undefined;
    endpoint = fromEnv.value;
    appendPath = protocol === "http/protobuf" && !fromEnv.specific;
  }
  if (protocol === "http/protobuf") {
    if (!/^https?:\/\//i.test(endpoint)) {
      throw new OtlpSettingsError(
        `OTLP/HTTP endpoint must start with http:// or https://, got "${endpoint}"`,
      );
    }
    if (appendPath) endpoint = `${endpoint.replace(/\/+$/, "")}/v1/logs`;
  }

  const compressionText = nonBlank(file.compression) ?? envOf(env, "COMPRESSION")?.value ?? "none";
  if (compressionText !== "gzip" && compressionText !== "none") {
    throw new OtlpSettingsError(`OTLP compression must be gzip or none, got "${compressionText}"`);
  }
  const timeoutText = file.timeoutMs > 0 ? String(file.timeoutMs) : (envOf(env, "TIMEOUT")?.value ?? "10000");
  const timeoutMillis = Number(timeoutText);
  if (!Number.isFinite(timeoutMillis) || timeoutMillis <= 0) {
    throw new OtlpSettingsError(
      `OTLP timeout must be a positive number of milliseconds, got "${timeoutText}"`,
    );
  }
  const headers = {
    ...parseHeaders(nonBlank(env.OTEL_EXPORTER_OTLP_HEADERS), "OTEL_EXPORTER_OTLP_HEADERS"),
    ...parseHeaders(nonBlank(env.OTEL_EXPORTER_OTLP_LOGS_HEADERS), "OTEL_EXPORTER_OTLP_LOGS_HEADERS"),
  };
  for (const [k, v] of Object.entries(file.headers)) headers[k.toLowerCase()] = v;
  const insecureText = envOf(env, "INSECURE")?.value;
  return {
    endpoint,
    protocol,
    headers,
    compression: compressionText,
    timeoutMillis,
    certificateFile: nonBlank(file.certificate) ?? envOf(env, "CERTIFICATE")?.value ?? "",
    clientKeyFile: nonBlank(file.clientKey) ?? envOf(env, "CLIENT_KEY")?.value ?? "",
    clientCertificateFile: nonBlank(file.clientCertificate) ?? envOf(env, "CLIENT_CERTIFICATE")?.value ?? "",
    insecure: file.insecure ?? insecureText?.toLowerCase() === "true",
  };
}

/** The batch settings of the standard OTEL_BLRP_* variables, where set. */
export function batchSettingsFromEnv(env: Env = process.env): {
  maxQueueSize?: number;
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
} {
  const num = (name: string): number | undefined => {
    const text = nonBlank(env[name]);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0)
      throw new OtlpSettingsError(`${name} must be a positive integer, got "${text}"`);
    return n;
  };
  const out: { maxQueueSize?: number; maxExportBatchSize?: number; scheduledDelayMillis?: number } = {};
  const q = num("OTEL_BLRP_MAX_QUEUE_SIZE");
  if (q !== undefined) out.maxQueueSize = q;
  const b = num("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE");
  if (b !== undefined) out.maxExportBatchSize = b;
  const d = num("OTEL_BLRP_SCHEDULE_DELAY");
  if (d !== undefined) out.scheduledDelayMillis = d;
  return out;
}

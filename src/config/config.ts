import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { DEFAULT_METRICS_ADDRESS } from "../export/metrics-server.js";
import { defaultOtlpFileSettings, type OtlpFileSettings } from "../export/otlp-settings.js";
import { SENSOR_ATTACH_MODES, type SensorAttach } from "../sensor/loader-process.js";

/**
 * The agent's settings, resolved once at start from (lowest first): built-in
 * defaults, the config file, `-o key=value` overrides, explicit flags. Keys
 * in the file and in `-o` are the snake_case dotted paths documented in
 * docs/configuration.md.
 */
export interface Config {
  /** Rules files in load order; empty means the default ruleset. */
  rulesFiles: string[];
  /** text, json, auto (text on a terminal, JSON otherwise) or none. */
  output: OutputMode;
  /** HOST:PORT for /metrics and /healthz, or "" to serve neither. */
  metricsAddress: string;
  /** OTLP endpoint for logs; "" means: take it from OTEL_EXPORTER_OTLP_* or send nothing. */
  otlpEndpoint: string;
  /** Ring buffer size in bytes (power of two). */
  ringbufBytes: number;
  /** How often the loader reports kernel counters. */
  statsIntervalMs: number;
  /** Path of the loader binary; "" means the one built in bpf/.output. */
  loaderPath: string;
  /** How the loader attaches its syscall exit program (docs/sensor.md). */
  sensorAttach: SensorAttach;
  /** The sensor host name in detections; "" means os.hostname(). */
  hostname: string;
  /** OTLP transport settings beyond the endpoint (each also readable from OTEL_EXPORTER_OTLP_*). */
  otlp: OtlpFileSettings;
  /** "workload": each detection's resource is the affected workload; "sensor": one resource. */
  otlpResource: "workload" | "sensor";
  /** 0 = default (or OTEL_BLRP_*). */
  otlpMaxQueueSize: number;
  otlpMaxBatchSize: number;
  otlpScheduleDelayMs: number;
  /** Export worker threads making and sending OTLP records; undefined = one per core (at most 4), 0 = in the main thread. */
  otlpExportWorkers: number | undefined;
  /** On-disk spool for detections the collector could not take; "" disables it. */
  spoolDir: string;
  spoolMaxBytes: number;
  /** Sanitize command lines and env values before export. */
  sanitizeEnabled: boolean;
  /** Extra sanitize patterns (regular expressions; group 1 = the secret). */
  sanitizePatterns: string[];
  /** Falco-compatible HTTP JSON output (Falco's http_output): on when a URL is set and not disabled. */
  httpOutputUrl: string;
  httpOutputEnabled: boolean | undefined;
  httpOutputHeaders: Record<string, string>;
  httpOutputCertificate: string;
  httpOutputInsecure: boolean;
}

/** Upper bound of otlp.export_workers. */
export const MAX_EXPORT_WORKERS = 32;

/** Where the spool lives unless configured. */
export const DEFAULT_SPOOL_DIR = "/var/lib/peregrine/spool";

export type OutputMode = "text" | "json" | "auto" | "none";
const OUTPUT_MODES: readonly OutputMode[] = ["text", "json", "auto", "none"];

export function defaultConfig(): Config {
  return {
    rulesFiles: [],
    output: "auto",
    metricsAddress: DEFAULT_METRICS_ADDRESS,
    otlpEndpoint: "",
    ringbufBytes: 8 * 1024 * 1024,
    statsIntervalMs: 1000,
    loaderPath: "",
    sensorAttach: "raw",
    hostname: "",
    otlp: defaultOtlpFileSettings(),
    otlpResource: "workload",
    otlpMaxQueueSize: 0,
    otlpMaxBatchSize: 0,
    otlpScheduleDelayMs: 0,
    otlpExportWorkers: undefined,
    spoolDir: DEFAULT_SPOOL_DIR,
    spoolMaxBytes: 256 * 1024 * 1024,
    sanitizeEnabled: true,
    sanitizePatterns: [],
    httpOutputUrl: "",
    httpOutputEnabled: undefined,
    httpOutputHeaders: {},
    httpOutputCertificate: "",
    httpOutputInsecure: false,
  };
}

/** A setting that is wrong, with where it came from (file:line:col, or the flag). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Setter = (config: Config, value: unknown, where: string) => void;

function asString(value: unknown, where: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new ConfigError(`${where}: expected a string, got ${JSON.stringify(value)}`);
}

function asPositiveInt(value: unknown, where: string): number {
  const n = typeof value === "number" ? value : Number(asString(value, where));
  if (!Number.isInteger(n) || n <= 0)
    throw new ConfigError(`${where}: expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** A mapping of strings, or "k=v,k2=v2". */
function asStringMap(value: unknown, where: string): Record<string, string> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) out[k] = asString(v, `${where} (${k})`);
    return out;
  }
  const out: Record<string, string> = {};
  for (const pair of asString(value, where).split(",")) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new ConfigError(`${where}: expected key=value pairs, got "${pair}"`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

function asStringList(value: unknown, where: string): string[] {
  return (Array.isArray(value) ? value : [value]).map((item) => asString(item, where));
}

function oneOf<T extends string>(value: unknown, where: string, allowed: readonly T[]): T {
  const text = asString(value, where) as T;
  if (!allowed.includes(text))
    throw new ConfigError(`${where}: expected one of ${allowed.join(", ")}, got "${text}"`);
  return text;
}

function asBool(value: unknown, where: string): boolean {
  if (typeof value === "boolean") return value;
  const text = asString(value, where).toLowerCase();
  if (text === "true") return true;
  if (text === "false") return false;
  throw new ConfigError(`${where}: expected true or false, got ${JSON.stringify(value)}`);
}

/** Every settable key: adding a setting is adding an entry here. */
const SETTERS: Readonly<Record<string, Setter>> = {
  rules_files: (c, v, where) => {
    const list = Array.isArray(v) ? v : [v];
    c.rulesFiles = list.map((item) => asString(item, where));
  },
  output: (c, v, where) => {
    const mode = asString(v, where) as OutputMode;
    if (!OUTPUT_MODES.includes(mode))
      throw new ConfigError(`${where}: output must be one of ${OUTPUT_MODES.join(", ")}, got "${mode}"`);
    c.output = mode;
  },
  // Falco's own key, so a Falco user's habit works.
  json_output: (c, v, where) => {
    c.output = asBool(v, where) ? "json" : "text";
  },
  "metrics.address": (c, v, where) => {
    c.metricsAddress = asString(v, where);
  },
  "metrics.enabled": (c, v, where) => {
    if (!asBool(v, where)) c.metricsAddress = "";
  },
  "otlp.endpoint": (c, v, where) => {
    c.otlpEndpoint = asString(v, where);
  },
  "otlp.protocol": (c, v, where) => {
    c.otlp.protocol = oneOf(v, where, ["grpc", "http/protobuf"]);
  },
  "otlp.headers": (c, v, where) => {
    c.otlp.headers = asStringMap(v, where);
  },
  "otlp.compression": (c, v, where) => {
    c.otlp.compression = oneOf(v, where, ["gzip", "none"]);
  },
  "otlp.timeout_ms": (c, v, where) => {
    c.otlp.timeoutMs = asPositiveInt(v, where);
  },
  "otlp.certificate": (c, v, where) => {
    c.otlp.certificate = asString(v, where);
  },
  "otlp.client_key": (c, v, where) => {
    c.otlp.clientKey = asString(v, where);
  },
  "otlp.client_certificate": (c, v, where) => {
    c.otlp.clientCertificate = asString(v, where);
  },
  "otlp.insecure": (c, v, where) => {
    c.otlp.insecure = asBool(v, where);
  },
  "otlp.resource": (c, v, where) => {
    c.otlpResource = oneOf(v, where, ["workload", "sensor"]);
  },
  "otlp.max_queue_size": (c, v, where) => {
    c.otlpMaxQueueSize = asPositiveInt(v, where);
  },
  "otlp.max_batch_size": (c, v, where) => {
    c.otlpMaxBatchSize = asPositiveInt(v, where);
  },
  "otlp.schedule_delay_ms": (c, v, where) => {
    c.otlpScheduleDelayMs = asPositiveInt(v, where);
  },
  "otlp.export_workers": (c, v, where) => {
    const n = typeof v === "number" ? v : Number(asString(v, where));
    // More threads than this only adds copies of the SDK competing for the same cores.
    if (!Number.isInteger(n) || n < 0 || n > MAX_EXPORT_WORKERS)
      throw new ConfigError(
        `${where}: expected an integer from 0 to ${MAX_EXPORT_WORKERS} (0: in the main thread), got ${JSON.stringify(v)}`,
      );
    c.otlpExportWorkers = n;
  },
  "otlp.spool.dir": (c, v, where) => {
    c.spoolDir = asString(v, where);
  },
  "otlp.spool.max_bytes": (c, v, where) => {
    c.spoolMaxBytes = asPositiveInt(v, where);
  },
  "export.sanitize.enabled": (c, v, where) => {
    c.sanitizeEnabled = asBool(v, where);
  },
  "export.sanitize.patterns": (c, v, where) => {
    const patterns = asStringList(v, where);
    for (const p of patterns) {
      try {
        new RegExp(p);
      } catch (error) {
        throw new ConfigError(`${where}: bad pattern ${JSON.stringify(p)}: ${(error as Error).message}`);
      }
    }
    c.sanitizePatterns = patterns;
  },
  // Falco's own keys for its HTTP output.
  "http_output.enabled": (c, v, where) => {
    c.httpOutputEnabled = asBool(v, where);
  },
  "http_output.url": (c, v, where) => {
    c.httpOutputUrl = asString(v, where);
  },
  "http_output.headers": (c, v, where) => {
    c.httpOutputHeaders = asStringMap(v, where);
  },
  "http_output.ca_cert": (c, v, where) => {
    c.httpOutputCertificate = asString(v, where);
  },
  "http_output.insecure": (c, v, where) => {
    c.httpOutputInsecure = asBool(v, where);
  },
  "sensor.ringbuf_bytes": (c, v, where) => {
    c.ringbufBytes = asPositiveInt(v, where);
  },
  "sensor.stats_interval_ms": (c, v, where) => {
    c.statsIntervalMs = asPositiveInt(v, where);
  },
  "sensor.loader_path": (c, v, where) => {
    c.loaderPath = asString(v, where);
  },
  "sensor.attach": (c, v, where) => {
    c.sensorAttach = oneOf(v, where, SENSOR_ATTACH_MODES);
  },
  hostname: (c, v, where) => {
    c.hostname = asString(v, where);
  },
};

export const CONFIG_KEYS: readonly string[] = Object.keys(SETTERS);

export function setConfigKey(config: Config, key: string, value: unknown, where: string): void {
  const setter = SETTERS[key];
  if (setter === undefined) {
    throw new ConfigError(`${where}: unknown setting "${key}" (known: ${CONFIG_KEYS.join(", ")})`);
  }
  setter(config, value, where);
}

/** Applies `-o key=value`; the value is parsed as YAML so lists and numbers work (`-o rules_files=[a,b]`). */
export function applyOverride(config: Config, override: string): void {
  const eq = override.indexOf("=");
  if (eq <= 0) throw new ConfigError(`-o ${override}: expected key=value`);
  const key = override.slice(0, eq).trim();
  const text = override.slice(eq + 1);
  const doc = parseDocument(text);
  const value = doc.errors.length > 0 ? text : doc.toJS();
  setConfigKey(config, key, value ?? "", `-o ${key}`);
}

/** Flattens nested mappings into dotted keys, remembering each value's position. */
function* flatten(node: unknown, prefix: string): Generator<[string, unknown]> {
  if (node !== null && typeof node === "object" && !Array.isArray(node)) {
    for (const [k, v] of Object.entries(node)) {
      const key = prefix === "" ? k : `${prefix}.${k}`;
      if (key in SETTERS) yield [key, v];
      else yield* flatten(v, key);
    }
    return;
  }
  yield [prefix, node];
}

/** Reads a YAML config file into config; relative rules paths are taken from the file's folder. */
export function applyConfigFile(config: Config, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`${path}: cannot read config file: ${(err as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = lineCounter.linePos(first.pos[0]);
    throw new ConfigError(`${path}:${pos.line}:${pos.col}: ${first.message.split("\n")[0]}`);
  }
  const lineOf = (key: string): string => {
    const at = text.search(new RegExp(`^\\s*${key.split(".").pop() ?? key}\\s*:`, "m"));
    return at < 0 ? "" : `:${lineCounter.linePos(at).line}`;
  };
  for (const [key, value] of flatten(doc.toJS() ?? {}, "")) {
    setConfigKey(config, key, value, `${path}${lineOf(key)}`);
  }
  const base = resolve(path, "..");
  config.rulesFiles = config.rulesFiles.map((file) => (isAbsolute(file) ? file : resolve(base, file)));
}

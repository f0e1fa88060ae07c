/**
 * The detection sinks `peregrine run` starts, from its resolved config:
 * stdout (Falco JSON or text), OTLP logs (when an endpoint is configured
 * or in OTEL_EXPORTER_OTLP_*), Falco's HTTP JSON output (when a URL is set).
 */
import type { Config } from "../config/config.js";
import { ConfigError } from "../config/config.js";
import { FalcoHttpSink } from "./falco-http.js";
import type { PeregrineMetrics } from "./metrics.js";
import { forwardSdkDiagnostics } from "./otlp-exporter.js";
import { createOtlpLogSink, type SpoolSettings } from "./otlp-logs.js";
import { batchSettingsFromEnv, OtlpSettingsError, resolveOtlpTransport } from "./otlp-settings.js";
import { Sanitizer } from "./sanitize.js";
import type { DetectionSink } from "./sink.js";
import { SpoolLockedError } from "./spool.js";
import { createStdoutSink } from "./stdout.js";

export interface BuildSinksContext {
  readonly metrics: PeregrineMetrics;
  readonly version: string;
  /** host.name of detections. */
  readonly hostname: string;
  readonly log: (message: string) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** At most one delivery-problem message per this many ms per sink: a dead collector must not flood stderr. */
const ERROR_LOG_INTERVAL_MS = 10_000;

function rateLimited(log: (message: string) => void, prefix: string): (message: string) => void {
  let last = 0;
  let suppressed = 0;
  return (message) => {
    const now = Date.now();
    if (now - last < ERROR_LOG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    last = now;
    log(`${prefix}: ${message}${suppressed > 0 ? ` (${suppressed} similar messages suppressed)` : ""}`);
    suppressed = 0;
  };
}

export function buildExportSinks(config: Config, context: BuildSinksContext): DetectionSink[] {
  const { metrics, log } = context;
  const env = context.env ?? process.env;
  const sinks: DetectionSink[] = [];
  let sanitizer: Sanitizer;
  try {
    sanitizer = new Sanitizer({ enabled: config.sanitizeEnabled, patterns: config.sanitizePatterns });
  } catch (error) {
    throw new ConfigError(`export.sanitize.patterns: ${(error as Error).message}`);
  }

  if (config.output !== "none") {
    sinks.push(
      createStdoutSink({
        counters: metrics.exportCounters("stdout"),
        ...(config.output !== "auto" && { format: config.output }),
      }),
    );
  }

  let transport: ReturnType<typeof resolveOtlpTransport>;
  let batch: ReturnType<typeof batchSettingsFromEnv>;
  try {
    transport = resolveOtlpTransport({ ...config.otlp, endpoint: config.otlpEndpoint }, env);
    batch = batchSettingsFromEnv(env);
  } catch (error) {
    if (error instanceof OtlpSettingsError) throw new ConfigError(error.message);
    throw error;
  }
  if (transport !== undefined) {
    forwardSdkDiagnostics(rateLimited(log, "otlp"));
    const spool: SpoolSettings | undefined =
      config.spoolDir === "" ? undefined : { dir: config.spoolDir, maxBytes: config.spoolMaxBytes };
    const options = {
      transport,
      version: context.version,
      hostname: context.hostname,
      resource: config.otlpResource,
      sanitizer,
      counters: metrics.exportCounters("otlp"),
      onError: rateLimited(log, "otlp"),
      ...batch,
      ...(config.otlpMaxQueueSize > 0 && { maxQueueSize: config.otlpMaxQueueSize }),
      ...(config.otlpMaxBatchSize > 0 && { maxExportBatchSize: config.otlpMaxBatchSize }),
      ...(config.otlpScheduleDelayMs > 0 && { scheduledDelayMillis: config.otlpScheduleDelayMs }),
      ...(config.otlpExportWorkers !== undefined && { exportWorkers: config.otlpExportWorkers }),
    };
    let workers = 0;
    try {
      const sink = createOtlpLogSink({ ...options, ...(spool !== undefined && { spool }) });
      workers = sink.exportWorkers;
      sinks.push(sink);
      for (const segment of sink.spool?.foreignSegments ?? []) {
        log(`warning: spool segment ${segment} is of another version's format; left unread`);
      }
    } catch (error) {
      if (!(error instanceof SpoolLockedError) && (error as NodeJS.ErrnoException).code === undefined)
        throw error;
      // The spool cannot be used (another agent holds it, or the directory is not writable): deliver without it.
      log(
        `warning: no spool (${(error as Error).message}); detections wait in memory while the collector is away`,
      );
      const sink = createOtlpLogSink(options);
      workers = sink.exportWorkers;
      sinks.push(sink);
    }
    log(
      `sending detections as OTLP logs (${transport.protocol}) to ${transport.endpoint}` +
        (spool !== undefined ? `, spool ${spool.dir}` : "") +
        (workers > 0 ? `, ${workers} export worker threads` : ", SDK in the main thread"),
    );
  }

  if (config.httpOutputUrl !== "" && config.httpOutputEnabled !== false) {
    sinks.push(
      new FalcoHttpSink({
        url: config.httpOutputUrl,
        headers: config.httpOutputHeaders,
        ...(config.httpOutputCertificate !== "" && { certificateFile: config.httpOutputCertificate }),
        insecure: config.httpOutputInsecure,
        sanitizer,
        counters: metrics.exportCounters("http"),
        onError: rateLimited(log, "http output"),
      }),
    );
    log(`posting detections as Falco JSON to ${config.httpOutputUrl}`);
  }
  return sinks;
}

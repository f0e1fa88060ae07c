// The export stage's public surface; explicit re-exports, no `export *`.

export {
  LOG_RECORD_ATTRIBUTE_KEYS,
  LOKI_INDEX_LABEL_KEYS,
  lokiName,
  RESOURCE_ATTRIBUTE_KEYS,
  WORKLOAD_ATTRIBUTE_KEYS,
} from "./attribute-catalog.js";
export { detectionAttributes, outputFieldKey, ruleCategory } from "./detection-attributes.js";
export { formatJsonLine, formatTextLine } from "./falco-format.js";
export { BoundedLineWriter, type LineStream } from "./line-writer.js";
export { METRIC_PREFIX, type MetricsOptions, PeregrineMetrics } from "./metrics.js";
export {
  DEFAULT_METRICS_ADDRESS,
  type ListenAddress,
  type MetricsServer,
  type MetricsServerOptions,
  type MetricsSource,
  parseListenAddress,
  startMetricsServer,
} from "./metrics-server.js";
export {
  createOtlpExporter,
  type OtlpExporter,
  type TransportOptions,
} from "./otlp-exporter.js";
export {
  createOtlpLogSink,
  OTLP_LOGS_SINK_NAME,
  OtlpLogSink,
  type OtlpLogSinkOptions,
  SENSOR_SERVICE_NAME,
  type SpoolSettings,
} from "./otlp-logs.js";
export { batchSettingsFromEnv, type OtlpFileSettings, resolveOtlpTransport } from "./otlp-settings.js";
export { priorityName } from "./priority-name.js";
export { Sanitizer, type SanitizerOptions } from "./sanitize.js";
export { DETECTION_EVENT_NAME, PEREGRINE_FIELD_PREFIX } from "./semconv.js";
export {
  type DetectionSink,
  type ExportCounters,
  type FanOutOptions,
  FanOutSink,
  NOOP_EXPORT_COUNTERS,
} from "./sink.js";
export { Spool } from "./spool.js";
export {
  chooseStdoutFormat,
  createStdoutSink,
  STDOUT_SINK_NAME,
  type StdoutFormat,
  StdoutSink,
  type StdoutSinkOptions,
} from "./stdout.js";

// The export stage's public surface; explicit re-exports, no `export *`.
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
export { resolveOtlpLogsEndpoint } from "./otlp-endpoint.js";
export {
  createOtlpLogSink,
  OTLP_LOGS_SINK_NAME,
  OtlpLogSink,
  type OtlpLogSinkOptions,
  SENSOR_SERVICE_NAME,
  type WorkloadResource,
} from "./otlp-logs.js";
export { priorityName } from "./priority-name.js";
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retrying-exporter.js";
export { DETECTION_EVENT_NAME, PEREGRINE_FIELD_PREFIX } from "./semconv.js";
export {
  type DetectionSink,
  type ExportCounters,
  type FanOutOptions,
  FanOutSink,
  NOOP_EXPORT_COUNTERS,
} from "./sink.js";
export {
  chooseStdoutFormat,
  createStdoutSink,
  STDOUT_SINK_NAME,
  type StdoutFormat,
  StdoutSink,
  type StdoutSinkOptions,
} from "./stdout.js";

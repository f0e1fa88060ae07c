/**
 * Where OTLP log records go, decided once at start-up.
 *
 * Mirrors how @opentelemetry/otlp-grpc-exporter-base reads its environment
 * (a value is trimmed; an empty one counts as unset; the signal-specific
 * variable wins over the generic one), so that "is OTLP on?" and "where does
 * the exporter send?" never disagree. An explicit endpoint (the CLI's
 * --otlp-endpoint) wins over both. OTEL_LOGS_EXPORTER=none turns OTLP off
 * unless an endpoint is given explicitly.
 *
 * For gRPC the endpoint is used as given: "http://host:4317" means plaintext,
 * "https://host:4317" or a bare "host:4317" means TLS.
 */
export function resolveOtlpLogsEndpoint(
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  const given = nonBlank(explicit);
  if (given !== undefined) return given;
  if (nonBlank(env.OTEL_LOGS_EXPORTER)?.toLowerCase() === "none") return undefined;
  return nonBlank(env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT) ?? nonBlank(env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

function nonBlank(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

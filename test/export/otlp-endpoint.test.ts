import { describe, expect, it } from "vitest";
import { resolveOtlpLogsEndpoint } from "../../src/export/otlp-endpoint.js";

describe("resolveOtlpLogsEndpoint", () => {
  it.each([
    ["nothing set: OTLP off", undefined, {}, undefined],
    ["the generic variable", undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317" }, "http://c:4317"],
    [
      "the logs variable wins over the generic one",
      undefined,
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317", OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "http://logs:4317" },
      "http://logs:4317",
    ],
    [
      "a blank logs variable counts as unset",
      undefined,
      { OTEL_EXPORTER_OTLP_ENDPOINT: " http://c:4317 ", OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "  " },
      "http://c:4317",
    ],
    [
      "the CLI option wins over both",
      "http://cli:4317",
      { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "http://logs:4317" },
      "http://cli:4317",
    ],
    [
      "a blank option falls back to the environment",
      " ",
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317" },
      "http://c:4317",
    ],
    [
      "OTEL_LOGS_EXPORTER=none turns it off",
      undefined,
      { OTEL_LOGS_EXPORTER: "None", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317" },
      undefined,
    ],
    ["…unless the option is given", "http://cli:4317", { OTEL_LOGS_EXPORTER: "none" }, "http://cli:4317"],
  ])("%s", (_what, option, env, expected) => {
    expect(resolveOtlpLogsEndpoint(option, env)).toBe(expected);
  });
});

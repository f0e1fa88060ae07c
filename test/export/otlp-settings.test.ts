import { describe, expect, it } from "vitest";
import {
  batchSettingsFromEnv,
  defaultOtlpFileSettings,
  parseHeaders,
  resolveOtlpTransport,
} from "../../src/export/otlp-settings.js";

const file = (overrides = {}) => ({ ...defaultOtlpFileSettings(), ...overrides });

describe("OTLP settings from OTEL_EXPORTER_OTLP_* and the config file", () => {
  it("is off without an endpoint, and with OTEL_LOGS_EXPORTER=none", () => {
    expect(resolveOtlpTransport(file(), {})).toBeUndefined();
    expect(
      resolveOtlpTransport(file(), {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317",
        OTEL_LOGS_EXPORTER: "none",
      }),
    ).toBeUndefined();
    expect(
      resolveOtlpTransport(file({ endpoint: "http://c:4317" }), { OTEL_LOGS_EXPORTER: "none" })?.endpoint,
    ).toBe("http://c:4317");
  });

  it("reads every standard variable, the LOGS_ one winning per key, the file over both", () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://generic:4318",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_HEADERS: "api-key=g,x-a=1",
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: "api-key=s%20p",
      OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
      OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: "2500",
      OTEL_EXPORTER_OTLP_CERTIFICATE: "/ca.pem",
      OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY: "/key.pem",
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: "/cert.pem",
    };
    expect(resolveOtlpTransport(file(), env)).toEqual({
      endpoint: "http://generic:4318/v1/logs", // the generic endpoint gets the signal path
      protocol: "http/protobuf",
      headers: { "api-key": "s p", "x-a": "1" },
      compression: "gzip",
      timeoutMillis: 2500,
      certificateFile: "/ca.pem",
      clientKeyFile: "/key.pem",
      clientCertificateFile: "/cert.pem",
      insecure: false,
    });
    // The signal-specific endpoint is used as given.
    expect(
      resolveOtlpTransport(file(), { ...env, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "https://logs:443/custom" })
        ?.endpoint,
    ).toBe("https://logs:443/custom");
    // The file wins.
    const fromFile = resolveOtlpTransport(
      file({
        endpoint: "c:4317",
        protocol: "grpc",
        headers: { "X-A": "2" },
        compression: "none",
        insecure: true,
      }),
      env,
    );
    expect(fromFile).toMatchObject({
      endpoint: "c:4317",
      protocol: "grpc",
      compression: "none",
      insecure: true,
      headers: { "api-key": "s p", "x-a": "2" },
    });
  });

  it("defaults to gRPC and refuses what it cannot do, naming it", () => {
    expect(resolveOtlpTransport(file({ endpoint: "http://c:4317" }), {})?.protocol).toBe("grpc");
    expect(() =>
      resolveOtlpTransport(file({ endpoint: "x" }), { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }),
    ).toThrow(/http\/json/);
    expect(() =>
      resolveOtlpTransport(file({ endpoint: "x" }), { OTEL_EXPORTER_OTLP_COMPRESSION: "zstd" }),
    ).toThrow(/compression/);
    expect(() =>
      resolveOtlpTransport(file({ endpoint: "x" }), { OTEL_EXPORTER_OTLP_TIMEOUT: "soon" }),
    ).toThrow(/timeout/);
    expect(() => parseHeaders("novalue", "OTEL_EXPORTER_OTLP_HEADERS")).toThrow(/OTEL_EXPORTER_OTLP_HEADERS/);
    expect(() => batchSettingsFromEnv({ OTEL_BLRP_MAX_QUEUE_SIZE: "-1" })).toThrow(
      /OTEL_BLRP_MAX_QUEUE_SIZE/,
    );
    expect(batchSettingsFromEnv({ OTEL_BLRP_SCHEDULE_DELAY: "50" })).toEqual({ scheduledDelayMillis: 50 });
  });
});

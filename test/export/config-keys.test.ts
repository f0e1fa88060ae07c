import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  applyConfigFile,
  applyOverride,
  ConfigError,
  defaultConfig,
  MAX_EXPORT_WORKERS,
} from "../../src/config/config.js";
import { buildExportSinks } from "../../src/export/build-sinks.js";
import { defaultExportWorkers } from "../../src/export/export-workers.js";
import { PeregrineMetrics } from "../../src/export/metrics.js";
import { OtlpLogSink } from "../../src/export/otlp-logs.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function file(text: string): string {
  const d = mkdtempSync(join(tmpdir(), "pg-config-"));
  dirs.push(d);
  const path = join(d, "peregrine.yaml");
  writeFileSync(path, text);
  return path;
}

describe("export settings in the config file", () => {
  it("reads the OTLP, spool, sanitize and http_output keys", () => {
    const c = defaultConfig();
    applyConfigFile(
      c,
      file(`otlp:
  endpoint: https://collector:4318
  protocol: http/protobuf
  headers:
    authorization: Bearer abc
  compression: gzip
  timeout_ms: 3000
  certificate: /etc/ca.pem
  client_key: /etc/key.pem
  client_certificate: /etc/cert.pem
  resource: sensor
  max_queue_size: 4096
  spool:
    dir: /var/tmp/spool
    max_bytes: 1048576
export:
  sanitize:
    patterns: ["--pin=(\\\\d+)"]
http_output:
  enabled: true
  url: http://sidekick:2801/
`),
    );
    expect(c.otlpEndpoint).toBe("https://collector:4318");
    expect(c.otlp).toMatchObject({
      protocol: "http/protobuf",
      headers: { authorization: "Bearer abc" },
      compression: "gzip",
      timeoutMs: 3000,
      certificate: "/etc/ca.pem",
      clientKey: "/etc/key.pem",
      clientCertificate: "/etc/cert.pem",
    });
    expect(c.otlpResource).toBe("sensor");
    expect(c.otlpMaxQueueSize).toBe(4096);
    expect(c.spoolDir).toBe("/var/tmp/spool");
    expect(c.spoolMaxBytes).toBe(1048576);
    expect(c.sanitizePatterns).toEqual(["--pin=(\\d+)"]);
    expect(c.httpOutputUrl).toBe("http://sidekick:2801/");
    expect(c.httpOutputEnabled).toBe(true);
    applyOverride(c, "otlp.spool.dir=");
    expect(c.spoolDir).toBe("");
  });

  it("names the file, line and key of a bad value", () => {
    const path = file("otlp:\n  compression: zstd\n");
    expect(() => applyConfigFile(defaultConfig(), path)).toThrow(ConfigError);
    expect(() => applyConfigFile(defaultConfig(), path)).toThrow(
      `${path}:2: expected one of gzip, none, got "zstd"`,
    );
    expect(() => applyOverride(defaultConfig(), 'export.sanitize.patterns=["("]')).toThrow(/bad pattern/);
  });
});

describe("otlp.export_workers", () => {
  it("sets the number of export worker threads, 0 meaning the main thread", () => {
    const c = defaultConfig();
    expect(c.otlpExportWorkers).toBeUndefined();
    applyConfigFile(c, file("otlp:\n  endpoint: http://127.0.0.1:4317\n  export_workers: 3\n"));
    expect(c.otlpExportWorkers).toBe(3);
    applyOverride(c, "otlp.export_workers=0");
    expect(c.otlpExportWorkers).toBe(0);
    applyOverride(c, `otlp.export_workers=${MAX_EXPORT_WORKERS}`);
    expect(c.otlpExportWorkers).toBe(MAX_EXPORT_WORKERS);
  });

  it.each([
    ["-1", "-1"],
    ["1.5", "1.5"],
    ["many", '"many"'],
    [String(MAX_EXPORT_WORKERS + 1), String(MAX_EXPORT_WORKERS + 1)],
  ])("names the file and line of %s", (value, shown) => {
    const path = file(`otlp:\n  endpoint: http://127.0.0.1:4317\n  export_workers: ${value}\n`);
    expect(() => applyConfigFile(defaultConfig(), path)).toThrow(
      `${path}:3: expected an integer from 0 to ${MAX_EXPORT_WORKERS} (0: in the main thread), got ${shown}`,
    );
  });

  it("reaches the OTLP sink that peregrine run builds", async () => {
    for (const workers of [0, 1, undefined]) {
      const c = defaultConfig();
      c.output = "none";
      c.spoolDir = "";
      c.otlpEndpoint = "http://127.0.0.1:1";
      c.otlpExportWorkers = workers;
      const logs: string[] = [];
      const sinks = buildExportSinks(c, {
        metrics: new PeregrineMetrics({ version: "test" }),
        version: "test",
        hostname: "test-host",
        log: (m) => logs.push(m),
        env: {},
      });
      const sink = sinks[0] as OtlpLogSink;
      expect(sink).toBeInstanceOf(OtlpLogSink);
      expect(sink.exportWorkers).toBe(workers ?? defaultExportWorkers());
      expect(logs.join("\n")).toContain(
        workers === 0 ? "SDK in the main thread" : `, ${sink.exportWorkers} export worker threads`,
      );
      await sink.ready;
      await sink.shutdown();
    }
  });
});

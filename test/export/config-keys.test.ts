import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { applyConfigFile, applyOverride, ConfigError, defaultConfig } from "../../src/config/config.js";

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

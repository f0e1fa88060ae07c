import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyConfigFile, applyOverride, ConfigError, defaultConfig } from "../../src/config/config.js";

describe("config", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pg-config-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("defaults to loopback metrics and automatic output", () => {
    expect(defaultConfig()).toMatchObject({
      metricsAddress: "127.0.0.1:9464",
      output: "auto",
      rulesFiles: [],
    });
  });

  it("reads nested keys from a file, resolving rules paths against the file", () => {
    const file = join(dir, "peregrine.yaml");
    writeFileSync(
      file,
      "rules_files: [my.yaml, /abs/other.yaml]\nmetrics:\n  address: 0.0.0.0:9999\notlp:\n  endpoint: http://collector:4317\njson_output: true\n",
    );
    const config = defaultConfig();
    applyConfigFile(config, file);
    expect(config).toMatchObject({
      rulesFiles: [join(dir, "my.yaml"), "/abs/other.yaml"],
      metricsAddress: "0.0.0.0:9999",
      otlpEndpoint: "http://collector:4317",
      output: "json",
    });
  });

  it("names the file and line of a bad setting", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "output: json\nsensor:\n  ringbuf_bytes: lots\n");
    expect(() => applyConfigFile(defaultConfig(), file)).toThrow(
      `${file}:3: expected a positive integer, got "lots"`,
    );
  });

  it("takes the sensor's attach mode and names the line of a bad one", () => {
    const good = join(dir, "attach.yaml");
    writeFileSync(good, "sensor:\n  attach: tracepoints\n");
    const config = defaultConfig();
    expect(config.sensorAttach).toBe("raw");
    applyConfigFile(config, good);
    expect(config.sensorAttach).toBe("tracepoints");
    const bad = join(dir, "attach-bad.yaml");
    writeFileSync(bad, "output: json\nsensor:\n  attach: kprobes\n");
    expect(() => applyConfigFile(defaultConfig(), bad)).toThrow(
      `${bad}:3: expected one of tracepoints, raw, got "kprobes"`,
    );
  });

  it("names an unknown key and lists the known ones", () => {
    const file = join(dir, "unknown.yaml");
    writeFileSync(file, "metrics:\n  adress: x\n");
    expect(() => applyConfigFile(defaultConfig(), file)).toThrow(
      `${file}:2: unknown setting "metrics.adress"`,
    );
  });

  it("reports YAML syntax errors with line and column", () => {
    const file = join(dir, "broken.yaml");
    writeFileSync(file, "output: [json\n");
    expect(() => applyConfigFile(defaultConfig(), file)).toThrow(new RegExp(`${file}:\\d+:\\d+: `));
  });

  it("applies -o overrides with YAML values", () => {
    const config = defaultConfig();
    applyOverride(config, "rules_files=[a.yaml, b.yaml]");
    applyOverride(config, "sensor.ringbuf_bytes=1048576");
    applyOverride(config, "metrics.enabled=false");
    expect(config).toMatchObject({
      rulesFiles: ["a.yaml", "b.yaml"],
      ringbufBytes: 1048576,
      metricsAddress: "",
    });
    expect(() => applyOverride(config, "output=loud")).toThrow(ConfigError);
    expect(() => applyOverride(config, "novalue")).toThrow(/expected key=value/);
  });
});

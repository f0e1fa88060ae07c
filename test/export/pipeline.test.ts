import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { PeregrineMetrics } from "../../src/export/metrics.js";
import { type MetricsServer, startMetricsServer } from "../../src/export/metrics-server.js";
import { createOtlpLogSink } from "../../src/export/otlp-logs.js";
import { FanOutSink } from "../../src/export/sink.js";
import { createStdoutSink } from "../../src/export/stdout.js";
import { makeDetection, makeRule } from "../support/detection-fixtures.js";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp-receiver.js";
import { parsePromText, sampleValue } from "../support/prom-text.js";

let receiver: OtlpReceiver | undefined;
let server: MetricsServer | undefined;
afterEach(async () => {
  await receiver?.close();
  await server?.close();
});

describe("the export stage as the agent wires it", () => {
  it("fans detections out to OTLP and stdout, and /metrics shows exact counts", async () => {
    receiver = await startOtlpReceiver();
    const metrics = new PeregrineMetrics({ version: "0.1.0", defaultMetrics: false });
    const rule = makeRule();
    const quiet = makeRule({ name: "Quiet rule", priority: "DEBUG" });
    metrics.initRules([rule, quiet]);
    server = await startMetricsServer({ source: metrics, address: "127.0.0.1:0" });

    const stdout = new PassThrough();
    let text = "";
    stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    const sinks = [
      createOtlpLogSink({
        transport: {
          endpoint: receiver.url,
          protocol: "grpc",
          headers: {},
          compression: "none",
          timeoutMillis: 2000,
          certificateFile: "",
          clientKeyFile: "",
          clientCertificateFile: "",
          insecure: false,
        },
        version: "0.1.0",
        hostname: "sensor-host",
        counters: metrics.exportCounters("otlp"),
        scheduledDelayMillis: 10,
      }),
      createStdoutSink({ stream: stdout, counters: metrics.exportCounters("stdout") }),
      {
        name: "flaky",
        emit() {
          throw new Error("flaky sink");
        },
        shutdown: async () => {},
      },
    ];
    const fan = new FanOutSink(sinks, { countersFor: (name) => metrics.exportCounters(name) });

    for (let i = 0; i < 3; i++) {
      const d = makeDetection({ rule });
      metrics.ruleMatched(d.rule); // the pipeline counts the match; the sinks count exports
      fan.emit(d);
    }
    server.setReady(true);
    await fan.shutdown();

    expect(receiver.records).toHaveLength(3);
    expect(
      text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).rule),
    ).toEqual([rule.name, rule.name, rule.name]);

    const res = await fetch(`${server.url}/metrics`);
    const x = parsePromText(await res.text());
    const records = (exporter: string, result: string) =>
      sampleValue(x, "peregrine_export_records_total", { exporter, result });
    expect(records("otlp", "sent")).toBe(3);
    expect(records("otlp", "failed")).toBe(0);
    expect(records("otlp", "dropped")).toBe(0);
    expect(records("stdout", "sent")).toBe(3);
    expect(records("flaky", "failed")).toBe(3);
    expect(sampleValue(x, "peregrine_export_queue_length", { exporter: "otlp" })).toBe(0);
    expect(sampleValue(x, "peregrine_rule_matches_total", { rule: rule.name, priority: "Warning" })).toBe(3);
    expect(sampleValue(x, "peregrine_rule_matches_total", { rule: "Quiet rule", priority: "Debug" })).toBe(0);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

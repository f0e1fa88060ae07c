import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { KernelStats } from "../../src/decode/events.js";
import { PeregrineMetrics } from "../../src/export/metrics.js";
import { makeRule } from "../support/detection-fixtures.js";
import { findSamples, type PromExposition, parsePromText, sampleValue } from "../support/prom-text.js";

function stats(
  eventsSeen: number,
  eventsEmitted: number,
  ringbufFull: number,
  truncated = 0,
  readFailed = 0,
): KernelStats {
  return { kind: "stats", tsNs: 0n, eventsSeen, eventsEmitted, ringbufFull, truncated, readFailed };
}

async function scrape(metrics: PeregrineMetrics): Promise<PromExposition> {
  return parsePromText(await metrics.metrics());
}

const shadow = makeRule({ name: "Read sensitive file untrusted", priority: "WARNING" });
const shell = makeRule({ name: "Terminal shell in container", priority: "NOTICE", tags: ["shell"] });
const never = makeRule({ name: "Never fires", priority: "CRITICAL", source: "syscall" });

describe("PeregrineMetrics", () => {
  it("exposes exact values after a few detections, events and stats records", async () => {
    const m = new PeregrineMetrics({ version: "0.1.0", defaultMetrics: false });
    m.initRules([shadow, shell, never]);
    m.ruleMatched(shadow);
    m.ruleMatched(shadow);
    m.ruleMatched({ ...shell }); // another object for the same rule: same series
    for (let i = 0; i < 5; i++) m.eventDecoded("openat");
    m.eventDecoded("execve", 2);
    m.decoderError("length_out_of_bounds");
    m.kernelStats(stats(100, 90, 2, 1, 0));
    m.kernelStats(stats(150, 130, 5, 1, 4));
    m.kernelStats(stats(10, 10, 0, 0, 0)); // loader restarted: totals start again
    const otlp = m.exportCounters("otlp");
    otlp.sent(3);
    otlp.failed(1);
    otlp.dropped(2);
    otlp.queueLength(() => 7);
    m.processTableSize(() => 123);
    m.observeRuleEvaluation(2e-6);
    m.observeRuleEvaluation(3e-5);

    const x = await scrape(m);
    expect(sampleValue(x, "peregrine_build_info", { version: "0.1.0" })).toBe(1);
    const rule = (name: string, priority: string) =>
      sampleValue(x, "peregrine_rule_matches_total", { rule: name, priority, source: "syscall" });
    expect(rule("Read sensitive file untrusted", "Warning")).toBe(2);
    expect(rule("Terminal shell in container", "Notice")).toBe(1);
    expect(rule("Never fires", "Critical")).toBe(0); // exists from load
    expect(findSamples(x, "peregrine_rule_matches_total")).toHaveLength(3);
    expect(sampleValue(x, "peregrine_events_total", { type: "openat" })).toBe(5);
    expect(sampleValue(x, "peregrine_events_total", { type: "execve" })).toBe(2);
    expect(sampleValue(x, "peregrine_decoder_errors_total", { reason: "length_out_of_bounds" })).toBe(1);
    expect(sampleValue(x, "peregrine_kernel_events_seen_total")).toBe(160);
    expect(sampleValue(x, "peregrine_kernel_events_total")).toBe(140);
    expect(sampleValue(x, "peregrine_kernel_drops_total", { reason: "ringbuf_full" })).toBe(5);
    expect(sampleValue(x, "peregrine_kernel_truncated_total")).toBe(1);
    expect(sampleValue(x, "peregrine_kernel_read_failures_total")).toBe(4);
    expect(sampleValue(x, "peregrine_export_records_total", { exporter: "otlp", result: "sent" })).toBe(3);
    expect(sampleValue(x, "peregrine_export_records_total", { exporter: "otlp", result: "failed" })).toBe(1);
    expect(sampleValue(x, "peregrine_export_records_total", { exporter: "otlp", result: "dropped" })).toBe(2);
    expect(sampleValue(x, "peregrine_export_queue_length", { exporter: "otlp" })).toBe(7);
    expect(sampleValue(x, "peregrine_process_table_size")).toBe(123);
    expect(sampleValue(x, "peregrine_rule_evaluation_seconds_count")).toBe(2);
    expect(sampleValue(x, "peregrine_rule_evaluation_seconds_bucket", { le: "0.0000025" })).toBe(1);
    expect(sampleValue(x, "peregrine_rule_evaluation_seconds_sum")).toBeCloseTo(3.2e-5, 12);

    // A second scrape does not count anything twice.
    const again = await scrape(m);
    expect(sampleValue(again, "peregrine_events_total", { type: "openat" })).toBe(5);
    expect(sampleValue(again, "peregrine_kernel_events_total")).toBe(140);
  });

  it("follows the naming rules: one prefix, counters end in _total, types declared", async () => {
    const m = new PeregrineMetrics({ version: "0.1.0" });
    m.exportCounters("stdout");
    const x = await scrape(m);
    expect(x.samples.length).toBeGreaterThan(20);
    for (const s of x.samples) expect(s.name.startsWith("peregrine_")).toBe(true);
    for (const [family, type] of x.types) {
      if (type === "counter") expect(family).toMatch(/_total$/);
    }
    expect(x.types.get("peregrine_rule_matches_total")).toBe("counter");
    expect(x.types.get("peregrine_export_queue_length")).toBe("gauge");
    expect(x.types.get("peregrine_rule_evaluation_seconds")).toBe("histogram");
    // Node's own metrics, under our prefix.
    expect(x.types.get("peregrine_process_cpu_user_seconds_total")).toBe("counter");
    expect(x.types.has("peregrine_nodejs_eventloop_lag_seconds")).toBe(true);
  });

  it("keeps labels from outside bounded", async () => {
    const m = new PeregrineMetrics({ version: "0.1.0", defaultMetrics: false });
    for (let i = 0; i < 200; i++) m.decoderError(`reason_${i}`);
    const x = await scrape(m);
    const series = findSamples(x, "peregrine_decoder_errors_total");
    expect(series).toHaveLength(65);
    expect(sampleValue(x, "peregrine_decoder_errors_total", { reason: "other" })).toBe(136);
  });

  it("keeps registries apart (no global registry)", async () => {
    const a = new PeregrineMetrics({ version: "1", defaultMetrics: false });
    const b = new PeregrineMetrics({ version: "2", defaultMetrics: false });
    a.eventDecoded("openat");
    expect(findSamples(await scrape(b), "peregrine_events_total")).toHaveLength(0);
  });

  // Our metrics only: prom-client's default nodejs_active_*_total gauges break the _total rule (not ours to rename).
  it.skipIf(!existsSync("/usr/bin/promtool"))("passes promtool check metrics", async () => {
    const m = new PeregrineMetrics({ version: "0.1.0", defaultMetrics: false });
    m.initRules([shadow, never]);
    m.exportCounters("otlp");
    m.eventDecoded("openat");
    m.kernelStats(stats(1, 1, 0));
    const text = await m.metrics();
    // promtool prints lint findings and exits non-zero on problems.
    const out = execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(out.trim()).toBe("");
  });
});

describe("PeregrineMetrics: reloads, exemplars, OpenMetrics", () => {
  it("keeps a series per loaded rule, at 0 from load, and removes unloaded rules' series", async () => {
    const m = new PeregrineMetrics({ version: "0.1.0", defaultMetrics: false });
    m.initRules([shadow, shell]);
    m.ruleMatched(shadow);
    let e = await scrape(m);
    expect(sampleValue(e, "peregrine_rules_loaded", {})).toBe(2);
    expect(sampleValue(e, "peregrine_rule_matches_total", { rule: shell.name })).toBe(0);
    // Reload: shell gone, never added, shadow's priority changed (a new series; the old one goes).
    const shadowCritical = { ...shadow, priority: "CRITICAL" as const };
    m.setRules([shadowCritical, never]);
    m.rulesReloaded(true);
    m.rulesReloaded(false);
    e = await scrape(m);
    expect(findSamples(e, "peregrine_rule_matches_total", { rule: shell.name })).toEqual([]);
    expect(
      findSamples(e, "peregrine_rule_matches_total", { rule: shadow.name, priority: "Warning" }),
    ).toEqual([]);
    expect(sampleValue(e, "peregrine_rule_matches_total", { rule: shadow.name, priority: "Critical" })).toBe(
      0,
    );
    expect(sampleValue(e, "peregrine_rule_matches_total", { rule: never.name })).toBe(0);
    expect(sampleValue(e, "peregrine_rules_loaded", {})).toBe(2);
    expect(sampleValue(e, "peregrine_rules_reloads_total", { result: "success" })).toBe(1);
    expect(sampleValue(e, "peregrine_rules_reloads_total", { result: "failure" })).toBe(1);
  });

  it("registers the agreed metrics others feed", async () => {
    const m = new PeregrineMetrics({ version: "0.1.0", defaultMetrics: false });
    m.kernelDrops("ringbuf_full", "network", 3);
    m.kernelEventsFiltered(7);
    m.loaderRestarted();
    m.enrichmentMiss("fd", 2);
    m.fdTableSize(() => 42);
    m.rulesUnsupportedFields(1);
    const c = m.exportCounters("otlp");
    c.spooled(5);
    c.spoolSize(
      () => 4096,
      () => 5,
    );
    const e = await scrape(m);
    expect(
      sampleValue(e, "peregrine_kernel_drops_total", { reason: "ringbuf_full", family: "network" }),
    ).toBe(3);
    expect(sampleValue(e, "peregrine_kernel_events_filtered_total", {})).toBe(7);
    expect(sampleValue(e, "peregrine_loader_restarts_total", {})).toBe(1);
    expect(sampleValue(e, "peregrine_enrichment_misses_total", { kind: "fd" })).toBe(2);
    expect(sampleValue(e, "peregrine_enrichment_misses_total", { kind: "user" })).toBe(0);
    expect(sampleValue(e, "peregrine_fd_table_size", {})).toBe(42);
    expect(sampleValue(e, "peregrine_rules_unsupported_fields", {})).toBe(1);
    expect(sampleValue(e, "peregrine_export_records_total", { exporter: "otlp", result: "spooled" })).toBe(5);
    expect(sampleValue(e, "peregrine_export_spool_bytes", { exporter: "otlp" })).toBe(4096);
    expect(sampleValue(e, "peregrine_export_spool_records", { exporter: "otlp" })).toBe(5);
  });

  it("puts the last detection's id on the rule counter as an OpenMetrics exemplar, and keeps names intact", async () => {
    const m = new PeregrineMetrics({ version: "0.1.0", defaultMetrics: false });
    m.initRules([shadow]);
    const { makeDetection } = await import("../support/detection-fixtures.js");
    const { detectionId } = await import("../../src/export/detection-id.js");
    const d = makeDetection({ rule: shadow });
    m.ruleMatched(shadow, d);
    const om = await m.metrics(true);
    expect(om).toContain(
      `peregrine_rule_matches_total{rule="${shadow.name}",priority="Warning",source="syscall"} 1 # {detection_id="${detectionId(d)}"} 1`,
    );
    expect(om.trimEnd().endsWith("# EOF")).toBe(true);
    const text = await m.metrics();
    expect(text).toContain("# TYPE peregrine_rule_matches_total counter");
    expect(text).not.toContain("# {detection_id");
    if (existsSync("/usr/bin/promtool")) execFileSync("promtool", ["check", "metrics"], { input: text });
  });
});

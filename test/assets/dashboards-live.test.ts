/**
 * The dashboards against the real thing: the built agent with its default
 * rules, a copy of cat reading /etc/shadow (a default rule fires), a real
 * Prometheus (Debian's /usr/bin/prometheus, on a temporary port and folder)
 * scraping the agent, and an in-test OTLP receiver standing in for the
 * collector.
 * - Every PromQL expression of the health dashboard runs without error, as
 *   an instant and as a range query; the panels that must show data return
 *   series, and the rule-match panel shows the rule that just fired.
 * - The detection record the agent sent carries, once flattened the way Loki
 *   does it (index labels from otel-config/loki.yaml, the rest structured
 *   metadata), every label and key the Detections dashboard selects, filters
 *   and groups on, with values its filters keep.
 * Needs root, kernel BTF, `npm run build` and Debian's prometheus; skipped
 * with the reason otherwise.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parser as logqlParser } from "@grafana/lezer-logql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lokiName } from "../../src/export/attribute-catalog.js";
import { PACKAGE_ROOT } from "../../src/version.js";
import { liveSkipReason, run } from "../integration/live-support.js";
import { type OtlpReceiver, type ReceivedLog, startOtlpReceiver } from "../support/otlp-receiver.js";
import { dashboardQueries, interpolate, lokiIndexedAttributes, parseTree } from "./asset-support.js";

const MAIN_JS = join(PACKAGE_ROOT, "dist/cli/main.js");
const PROMETHEUS = "/usr/bin/prometheus";
const skipReason =
  liveSkipReason() ??
  (existsSync(MAIN_JS) ? undefined : "the agent is not built: run `npm run build` first") ??
  (existsSync(PROMETHEUS) ? undefined : `${PROMETHEUS} is missing: apt-get install prometheus`);
if (skipReason) console.warn(`test/assets/dashboards-live.test.ts skipped: ${skipReason}`);

const RULE = "Credential file read by unexpected program";

/**
 * Targets that may return no series on a quiet machine: errors that did not
 * happen. Every other target must show data.
 */
const MAY_BE_EMPTY = [/peregrine_decoder_errors_total/];

interface PromResult {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

async function promQuery(api: string, path: string, params: Record<string, string>): Promise<PromResult[]> {
  const res = await fetch(`${api}/${path}?${new URLSearchParams(params)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: PromResult[] } };
  if (body.status !== "success") throw new Error(`${params.query}: ${body.error ?? res.status}`);
  return body.data?.result ?? [];
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

describe.skipIf(skipReason !== undefined)("dashboards against a live agent", () => {
  let work: string;
  let agent: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let receiver: OtlpReceiver;
  let api: string;
  let detection: ReceivedLog;
  let agentStderr = "";

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-dashboards-"));
    receiver = await startOtlpReceiver();
    agent = spawn(
      process.execPath,
      [
        join(PACKAGE_ROOT, "bin/peregrine.js"),
        "run",
        "--metrics-address",
        "127.0.0.1:0",
        "--output",
        "none",
        "--otlp-endpoint",
        receiver.url,
        "-o",
        `otlp.spool.dir=${join(work, "spool")}`,
        "-o",
        "otlp.schedule_delay_ms=50",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const child = agent;
    const metricsTarget = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent not ready in 60 s:\n${agentStderr}`)), 60_000);
      let target = "";
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        agentStderr += chunk;
        const url = /metrics on http:\/\/(\S+)\/metrics/.exec(agentStderr);
        if (url?.[1] !== undefined) target = url[1];
        if (agentStderr.includes("ready") && target !== "") {
          clearTimeout(timer);
          resolve(target);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`agent exited with ${code} before ready:\n${agentStderr}`));
      });
    });

    const promPort = 19_600 + (process.pid % 300);
    writeFileSync(
      join(work, "prometheus.yml"),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: peregrine\n    static_configs:\n      - targets: ["${metricsTarget}"]\n`,
    );
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(work, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(work, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: "ignore" },
    );
    api = `http://127.0.0.1:${promPort}/api/v1`;

    // The rule's series is scraped before the detection, so rate() and increase() see it rise.
    // (Other tests on this machine may raise the same rule: compare with what was there.)
    const series = `peregrine_rule_matches_total{rule="${RULE}"}`;
    const before = await until(
      async () => {
        const r = await promQuery(api, "query", { query: series });
        return r[0]?.value !== undefined ? Number(r[0].value[1]) : undefined;
      },
      30_000,
      "Prometheus to scrape the rule's counter",
    );

    // A default rule fires: a copy of cat (not a known reader) reads /etc/shadow.
    const cat = join(work, "cat");
    copyFileSync("/bin/cat", cat);
    const result = await run(cat, ["/etc/shadow"]);
    expect(result.code).toBe(0);
    detection = await receiver.waitFor(
      (r) => r.attributes["security_rule.name"] === RULE && r.attributes["process.executable.path"] === cat,
      15_000,
    );

    // Scraped with the detection counted, then a few more scrapes for the rate windows.
    const seenAt = await until(
      async () => {
        const r = await promQuery(api, "query", { query: series });
        return r[0]?.value !== undefined && Number(r[0].value[1]) > before ? r[0].value[0] : undefined;
      },
      30_000,
      "Prometheus to scrape the detection",
    );
    await until(
      async () => {
        const r = await promQuery(api, "query", { query: `timestamp(${series})` });
        return r[0]?.value !== undefined && Number(r[0].value[1]) >= seenAt + 3 ? true : undefined;
      },
      30_000,
      "three more scrapes",
    );
  }, 120_000);

  afterAll(async () => {
    prometheus?.kill("SIGKILL");
    await stop(agent);
    await receiver?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  const promql = dashboardQueries().filter((q) => q.datasource === "prometheus");

  it("runs every PromQL expression; the panels that should show data return series", async () => {
    const now = Date.now() / 1000;
    const empty: string[] = [];
    for (const q of promql) {
      const expr = interpolate(q.expr);
      const instant = await promQuery(api, "query", { query: expr, time: String(now) });
      const range = q.instant
        ? instant
        : await promQuery(api, "query_range", {
            query: expr,
            start: String(now - 120),
            end: String(now),
            step: "5",
          });
      if ((instant.length === 0 || range.length === 0) && !MAY_BE_EMPTY.some((re) => re.test(expr))) {
        empty.push(`${q.panel}: ${expr}`);
      }
    }
    expect(empty, `no series:\n${empty.join("\n")}\nagent stderr:\n${agentStderr}`).toEqual([]);
  });

  it("shows the rule that fired in the rule-match panels, with its priority", async () => {
    for (const q of promql.filter((x) => /rule_matches_total/.test(x.expr))) {
      const series = await promQuery(api, "query", { query: interpolate(q.expr) });
      const hit = series.find((s) => s.metric.rule === RULE);
      expect(hit, q.panel).toBeDefined();
      expect(hit?.metric.priority).toBe(detection.severityText);
      expect(Number(hit?.value?.[1])).toBeGreaterThan(0);
    }
  });

  it("the detection, as Loki stores it, has every key the Detections dashboard uses", () => {
    // Loki's OTLP mapping with otel-config/loki.yaml: indexed resource attributes → labels.
    const indexed = new Set(lokiIndexedAttributes());
    const labels = new Map<string, string>();
    const metadata = new Map<string, string>();
    for (const [k, v] of Object.entries(detection.resource)) {
      (indexed.has(k) ? labels : metadata).set(lokiName(k), String(v));
    }
    for (const [k, v] of Object.entries(detection.attributes)) metadata.set(lokiName(k), String(v));
    metadata.set("severity_number", String(detection.severityNumber));
    metadata.set("severity_text", detection.severityText);

    for (const q of dashboardQueries().filter((x) => x.datasource === "loki")) {
      const { nodes } = parseTree(logqlParser, interpolate(q.expr));
      const identifiers = (inside: string) =>
        nodes.filter((n) => n.name === "Identifier" && n.ancestors.includes(inside)).map((n) => n.text);
      // Stream selector: a label every detection stream has, or one whose "All" value matches its absence.
      for (const name of identifiers("Selector")) {
        expect(labels.has(name) || name === "k8s_namespace_name", `${q.panel}: stream label ${name}`).toBe(
          true,
        );
      }
      for (const name of [...identifiers("LabelFilter"), ...identifiers("Grouping")]) {
        const known = labels.has(name) || metadata.has(name);
        expect(known || name === "k8s_namespace_name", `${q.panel}: ${name} missing on the record`).toBe(
          true,
        );
      }
    }
    expect(labels.get("service_name")).toMatch(/.+/);
    expect(metadata.get("security_rule_name")).toBe(RULE);
    expect(Number(metadata.get("severity_number"))).toBeGreaterThanOrEqual(5);
    expect(metadata.get("process_executable_path")).toBe(join(work, "cat"));
  });
});

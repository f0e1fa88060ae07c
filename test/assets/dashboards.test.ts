/**
 * The dashboards users import: committed JSON equal to the generator's
 * output; every PromQL expression parses and names only series the agent
 * registers (and labels those series have); every LogQL expression parses
 * and filters only on labels our Loki config indexes and keys the agent
 * exports (attribute-catalog.ts, after Loki's "." → "_"); every variable a
 * query uses is defined; datasources are variables defaulting to the
 * provisioned uids.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parser as logqlParser } from "@grafana/lezer-logql";
import { parser as promqlParser } from "@prometheus-io/lezer-promql";
import { describe, expect, it } from "vitest";
import { allDashboards, LOKI_UID, PROMETHEUS_UID, render } from "../../scripts/gen-dashboards.js";
import { PACKAGE_ROOT } from "../../src/version.js";
import {
  DASHBOARD_FILES,
  dashboardQueries,
  interpolate,
  lokiDetectionKeys,
  lokiStreamLabels,
  parseTree,
  readDashboard,
  readYaml,
  referencedVariables,
  registeredSeries,
  SCRAPE_LABELS,
} from "./asset-support.js";

const queries = dashboardQueries();
const promql = queries.filter((q) => q.datasource === "prometheus");
const logql = queries.filter((q) => q.datasource === "loki");
const GRAFANA_BUILTINS = new Set(["__auto", "__interval", "__rate_interval", "__range"]);

function label(q: { dashboard: string; panel: string }): string {
  return `${q.dashboard} / ${q.panel}`;
}

/** Metric names and label matchers of a PromQL expression. */
function promSelectors(expr: string): { metric: string; labels: string[] }[] {
  const { nodes } = parseTree(promqlParser, expr);
  const out: { metric: string; labels: string[] }[] = [];
  let current: { metric: string; labels: string[] } | undefined;
  for (const n of nodes) {
    if (n.name === "VectorSelector") {
      current = { metric: "", labels: [] };
      out.push(current);
    } else if (current !== undefined && n.ancestors.at(-1) === "VectorSelector" && n.name === "Identifier") {
      current.metric = n.text;
    } else if (current !== undefined && n.name === "LabelName" && n.ancestors.includes("LabelMatchers")) {
      current.labels.push(n.text);
    }
  }
  return out;
}

describe("dashboards/", () => {
  it("has two dashboards with queries of both kinds", () => {
    expect(promql.length).toBeGreaterThan(15);
    expect(logql.length).toBeGreaterThan(5);
  });

  it("committed JSON is what scripts/gen-dashboards.ts generates", () => {
    const generated = allDashboards();
    expect([...generated.keys()].sort()).toEqual([...DASHBOARD_FILES].sort());
    for (const [file, d] of generated) {
      expect(readFileSync(join(PACKAGE_ROOT, "dashboards", file), "utf8"), file).toBe(render(d));
    }
  });

  it("uses datasource variables defaulting to the provisioned uids", () => {
    const provisioned = readYaml<{ datasources: { uid: string; type: string }[] }>(
      "otel-config/grafana/provisioning/datasources/peregrine.yaml",
    ).datasources;
    expect(provisioned).toContainEqual(expect.objectContaining({ uid: LOKI_UID, type: "loki" }));
    expect(provisioned).toContainEqual(expect.objectContaining({ uid: PROMETHEUS_UID, type: "prometheus" }));
    for (const file of DASHBOARD_FILES) {
      const d = readDashboard(file);
      const dsVars = d.templating.list.filter((v) => v.type === "datasource");
      for (const p of d.panels) {
        const uid = p.datasource?.uid ?? "";
        const name = /^\$\{(\w+)\}$/.exec(uid)?.[1];
        expect(name, `${file} / ${p.title}: datasource must be a variable, not ${uid}`).toBeDefined();
        expect(dsVars.map((v) => v.name)).toContain(name);
      }
      for (const v of dsVars) {
        const current = (v as unknown as { current: { value: string } }).current.value;
        expect(provisioned.map((ds) => ds.uid)).toContain(current);
      }
    }
  });

  it("defines every variable a query uses", () => {
    for (const file of DASHBOARD_FILES) {
      const d = readDashboard(file);
      const defined = new Set(d.templating.list.map((v) => v.name));
      for (const q of queries.filter((x) => x.dashboard === d.title)) {
        for (const name of referencedVariables(q.expr)) {
          expect(defined.has(name) || GRAFANA_BUILTINS.has(name), `${label(q)} uses undefined $${name}`).toBe(
            true,
          );
        }
      }
    }
  });

  describe("PromQL", () => {
    const series = registeredSeries();

    it.each(promql.map((q) => [label(q), q.expr] as const))("%s parses", (_name, expr) => {
      const { errors } = parseTree(promqlParser, interpolate(expr));
      expect(errors, interpolate(expr)).toEqual([]);
    });

    it.each(promql.map((q) => [label(q), q.expr] as const))(
      "%s names only registered series and their labels",
      (_name, expr) => {
        const selectors = promSelectors(interpolate(expr));
        expect(selectors.length).toBeGreaterThan(0);
        for (const s of selectors) {
          const family = series.get(s.metric);
          expect(family, `${s.metric} is not registered by src/export/metrics.ts`).toBeDefined();
          for (const l of s.labels) {
            expect(family?.labels.has(l) || SCRAPE_LABELS.has(l), `${s.metric} has no label ${l}`).toBe(true);
          }
        }
      },
    );

    it.each(promql.map((q) => [label(q), q] as const))(
      "%s groups by labels its series have, and its legend names them",
      (_name, q) => {
        const expr = interpolate(q.expr);
        const { nodes } = parseTree(promqlParser, expr);
        const available = new Set([...SCRAPE_LABELS]);
        for (const s of promSelectors(expr))
          for (const l of series.get(s.metric)?.labels ?? []) available.add(l);
        const grouping = nodes.filter(
          (n) => n.name === "LabelName" && n.ancestors.includes("GroupingLabels"),
        );
        for (const n of grouping) expect(available, `by (${n.text})`).toContain(n.text);
        // The outermost aggregation decides which labels the result keeps.
        const outer = nodes.find((n) => n.name === "AggregateExpr");
        const kept =
          outer === undefined
            ? available
            : new Set(
                parseTree(promqlParser, outer.text)
                  .nodes.filter(
                    (n) =>
                      n.name === "LabelName" &&
                      n.ancestors.at(-1) === "GroupingLabels" &&
                      n.ancestors.length === 4,
                  )
                  .map((n) => n.text),
              );
        for (const m of (q.legend ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
          expect(kept, `legend {{${m[1]}}}`).toContain(m[1]);
        }
      },
    );

    it("variable queries name registered series and labels", () => {
      for (const file of DASHBOARD_FILES) {
        for (const v of readDashboard(file).templating.list) {
          if (v.type !== "query" || v.datasource?.type !== "prometheus") continue;
          const m = /^label_values\((\w+), (\w+)\)$/.exec(String(v.query));
          expect(m, `${file} $${v.name}: ${String(v.query)}`).not.toBeNull();
          const family = series.get(m?.[1] ?? "");
          expect(family, `${m?.[1]}`).toBeDefined();
          const l = m?.[2] ?? "";
          expect(family?.labels.has(l) || SCRAPE_LABELS.has(l)).toBe(true);
        }
      }
    });

    it("covers the metrics the issue asks for", () => {
      const used = new Set(promql.flatMap((q) => promSelectors(interpolate(q.expr)).map((s) => s.metric)));
      for (const name of [
        "peregrine_rule_matches_total",
        "peregrine_events_total",
        "peregrine_kernel_drops_total",
        "peregrine_kernel_events_total",
        "peregrine_decoder_errors_total",
        "peregrine_export_records_total",
        "peregrine_export_queue_length",
        "peregrine_export_spool_bytes",
        "peregrine_export_spool_records",
        "peregrine_rule_evaluation_seconds_bucket",
        "peregrine_process_cpu_seconds_total",
        "peregrine_process_resident_memory_bytes",
        "peregrine_loader_restarts_total",
        "peregrine_rules_reloads_total",
      ]) {
        expect(used, name).toContain(name);
      }
    });
  });

  describe("LogQL", () => {
    const streamLabels = lokiStreamLabels();
    const keys = lokiDetectionKeys();

    it.each(logql.map((q) => [label(q), q.expr] as const))("%s parses", (_name, expr) => {
      const { errors } = parseTree(logqlParser, interpolate(expr));
      expect(errors, interpolate(expr)).toEqual([]);
    });

    it.each(logql.map((q) => [label(q), q.expr] as const))(
      "%s selects on Loki labels and filters on exported keys",
      (_name, expr) => {
        const { nodes } = parseTree(logqlParser, interpolate(expr));
        const selectorLabels = nodes.filter(
          (n) => n.name === "Identifier" && n.ancestors.includes("Selector"),
        );
        const otherKeys = nodes.filter(
          (n) =>
            n.name === "Identifier" &&
            !n.ancestors.includes("Selector") &&
            (n.ancestors.includes("LabelFilter") || n.ancestors.includes("Grouping")),
        );
        expect(selectorLabels.length).toBeGreaterThan(0);
        for (const n of selectorLabels) {
          expect(streamLabels, `stream label ${n.text} is not indexed by otel-config/loki.yaml`).toContain(
            n.text,
          );
        }
        for (const n of otherKeys) {
          expect(keys, `${n.text} is not a key Peregrine exports (or Loki adds)`).toContain(n.text);
        }
        // Every detection query keeps to detections: the rule name must be set.
        expect(expr).toContain('security_rule_name != ""');
      },
    );

    it.each(logql.filter((q) => q.legend !== undefined).map((q) => [label(q), q] as const))(
      "%s has a legend naming the labels it groups by",
      (_name, q) => {
        const { nodes } = parseTree(logqlParser, interpolate(q.expr));
        // The first Grouping in document order belongs to the outermost aggregation.
        const first = nodes.find((n) => n.name === "Grouping");
        const grouped = nodes
          .filter((n) => n.name === "Identifier" && first !== undefined)
          .filter((n) => n.from >= (first?.from ?? 0) && n.to <= (first?.to ?? 0))
          .map((n) => n.text);
        const used = [...(q.legend ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]);
        expect(used.length).toBeGreaterThan(0);
        for (const l of used) expect(grouped, `legend {{${l}}}`).toContain(l);
      },
    );

    it("variable queries list indexed labels only", () => {
      for (const v of readDashboard("peregrine-detections.json").templating.list) {
        if (v.type !== "query" || v.datasource?.type !== "loki") continue;
        const m = /^label_values\((\w+)\)$/.exec(String(v.query));
        expect(m, String(v.query)).not.toBeNull();
        expect(streamLabels).toContain(m?.[1]);
      }
    });

    it("the minimum-priority choices are Peregrine's severity numbers", async () => {
      const { PRIORITIES, severityNumber } = await import("../../src/rules/priority.js");
      const v = readDashboard("peregrine-detections.json").templating.list.find(
        (x) => x.name === "min_priority",
      );
      const options = (v as unknown as { options: { value: string }[] }).options.map((o) => Number(o.value));
      expect(options.sort((a, b) => a - b)).toEqual(
        PRIORITIES.map((p) => severityNumber(p)).sort((a: number, b: number) => a - b),
      );
    });
  });
});

/**
 * What the asset tests share: the dashboards' queries as users get them (read
 * from the committed JSON), Grafana's variable interpolation, syntax-tree
 * helpers over the PromQL and LogQL lezer grammars, the metric families the
 * agent registers, and the Loki labels our Loki config makes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { LRParser } from "@lezer/lr";
import { parse as parseYaml } from "yaml";
import {
  LOG_RECORD_ATTRIBUTE_KEYS,
  lokiName,
  RESOURCE_ATTRIBUTE_KEYS,
} from "../../src/export/attribute-catalog.js";
import { PeregrineMetrics } from "../../src/export/metrics.js";
import { PACKAGE_ROOT } from "../../src/version.js";

export const DASHBOARD_FILES = ["peregrine-detections.json", "peregrine-health.json"] as const;

export interface DashboardQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly datasource: "loki" | "prometheus";
  readonly expr: string;
  readonly instant: boolean;
  /** Grafana legend template ("{{rule}}"), if any. */
  readonly legend: string | undefined;
}

interface DashboardJson {
  title: string;
  templating: { list: { name: string; type: string; query?: unknown; datasource?: { type: string } }[] };
  panels: {
    title: string;
    datasource?: { type: string; uid: string };
    targets?: { expr: string; instant?: boolean; queryType?: string; legendFormat?: string }[];
  }[];
}

export function readDashboard(file: string): DashboardJson {
  return JSON.parse(readFileSync(join(PACKAGE_ROOT, "dashboards", file), "utf8")) as DashboardJson;
}

/** Every target of every panel of the committed dashboards. */
export function dashboardQueries(): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const file of DASHBOARD_FILES) {
    const d = readDashboard(file);
    for (const p of d.panels) {
      const type = p.datasource?.type;
      if (type !== "loki" && type !== "prometheus")
        throw new Error(`${file}: panel "${p.title}" has no datasource`);
      for (const t of p.targets ?? []) {
        out.push({
          dashboard: d.title,
          panel: p.title,
          datasource: type,
          expr: t.expr,
          instant: t.instant === true || t.queryType === "instant",
          legend: t.legendFormat,
        });
      }
    }
  }
  return out;
}

/**
 * What Grafana substitutes for each variable when everything is selected
 * (the variables' allValue) and for its built-in intervals, in the test's
 * short time range (Prometheus scrapes every second there).
 */
export const TEST_VARIABLE_VALUES: Readonly<Record<string, string>> = {
  service: ".+",
  namespace: ".*",
  rule: ".*",
  instance: ".*",
  min_priority: "5",
  __auto: "1m",
  __interval: "1m",
  __rate_interval: "1m",
  __range: "10m",
};

/** Names of the variables an expression refers to (`${name}`, `${name:format}`, `$name`). */
export function referencedVariables(expr: string): string[] {
  return [...expr.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g)].map((m) => (m[1] ?? m[2]) as string);
}

/** The expression as Grafana sends it, with `values` for the variables. */
export function interpolate(
  expr: string,
  values: Readonly<Record<string, string>> = TEST_VARIABLE_VALUES,
): string {
  return expr.replace(
    /\$\{(\w+)(?::\w+)?\}|\$(\w+)/g,
    (whole, a: string | undefined, b: string | undefined) => {
      const name = (a ?? b) as string;
      const value = values[name];
      if (value === undefined) throw new Error(`no test value for Grafana variable ${whole}`);
      return value;
    },
  );
}

export interface SyntaxNodeInfo {
  readonly name: string;
  readonly text: string;
  readonly from: number;
  readonly to: number;
  /** Names of the enclosing nodes, outermost first. */
  readonly ancestors: readonly string[];
}

/** Every node of the parse, with its text and ancestors; `errors` lists the error nodes' positions. */
export function parseTree(parser: LRParser, text: string): { nodes: SyntaxNodeInfo[]; errors: number[] } {
  const nodes: SyntaxNodeInfo[] = [];
  const errors: number[] = [];
  const stack: string[] = [];
  parser.parse(text).iterate({
    enter(n) {
      if (n.type.isError) errors.push(n.from);
      nodes.push({
        name: n.name,
        text: text.slice(n.from, n.to),
        from: n.from,
        to: n.to,
        ancestors: [...stack],
      });
      stack.push(n.name);
    },
    leave() {
      stack.pop();
    },
  });
  return { nodes, errors };
}

export interface MetricFamily {
  readonly type: string;
  readonly labels: ReadonlySet<string>;
}

/**
 * Series names the agent's registry can expose (histograms as _bucket, _sum,
 * _count), with each family's label names; read from a PeregrineMetrics
 * built the way the agent builds it.
 */
export function registeredSeries(): ReadonlyMap<string, MetricFamily> {
  const metrics = new PeregrineMetrics({ version: "test" });
  const out = new Map<string, MetricFamily>();
  for (const m of metrics.registry.getMetricsAsArray()) {
    const labels = new Set((m as unknown as { labelNames?: readonly string[] }).labelNames ?? []);
    const type = m.type as unknown as string;
    if (type === "histogram") {
      out.set(`${m.name}_bucket`, { type, labels: new Set([...labels, "le"]) });
      out.set(`${m.name}_sum`, { type, labels });
      out.set(`${m.name}_count`, { type, labels });
    } else {
      out.set(m.name, { type, labels });
    }
  }
  return out;
}

/** Labels Prometheus adds to every scraped series. */
export const SCRAPE_LABELS: ReadonlySet<string> = new Set(["job", "instance"]);

interface LokiConfig {
  limits_config: {
    allow_structured_metadata?: boolean;
    otlp_config: {
      resource_attributes: {
        ignore_defaults?: boolean;
        attributes_config: { action: string; attributes: string[] }[];
      };
    };
  };
}

export function readYaml<T>(relativePath: string): T {
  return parseYaml(readFileSync(join(PACKAGE_ROOT, relativePath), "utf8")) as T;
}

export function lokiConfig(): LokiConfig {
  return readYaml<LokiConfig>("otel-config/loki.yaml");
}

/** Resource attributes our Loki config makes index labels (OTel names, dots kept). */
export function lokiIndexedAttributes(): string[] {
  return lokiConfig()
    .limits_config.otlp_config.resource_attributes.attributes_config.filter((c) => c.action === "index_label")
    .flatMap((c) => c.attributes);
}

/**
 * Fields Loki itself adds to every OTLP log record as structured metadata
 * (from the record, not its attributes): severity, trace context, observed
 * time, and Loki's own detected_level.
 */
export const LOKI_RECORD_FIELDS: readonly string[] = [
  "severity_text",
  "severity_number",
  "trace_id",
  "span_id",
  "flags",
  "observed_timestamp",
  "detected_level",
];

/** Loki stream labels of Peregrine's detections. */
export function lokiStreamLabels(): Set<string> {
  return new Set(lokiIndexedAttributes().map(lokiName));
}

/**
 * Keys a LogQL filter or grouping may name for a detection: every attribute
 * the agent exports, flattened as Loki does, plus Loki's record fields.
 */
export function lokiDetectionKeys(): Set<string> {
  return new Set([
    ...LOG_RECORD_ATTRIBUTE_KEYS.map(lokiName),
    ...RESOURCE_ATTRIBUTE_KEYS.map(lokiName),
    ...LOKI_RECORD_FIELDS,
  ]);
}

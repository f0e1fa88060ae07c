#!/usr/bin/env -S npx tsx
/**
 * Generates the Grafana dashboards in dashboards/ (the JSON users import or
 * provision) from typed definitions, so a query is written once and the
 * tests in test/assets/ can check every query of every panel.
 *
 *   npx tsx scripts/gen-dashboards.ts          write dashboards/*.json
 *   npx tsx scripts/gen-dashboards.ts --check  exit 1 if a committed file differs
 *
 * Datasources are dashboard variables (`ds_loki`, `ds_prometheus`) whose
 * default is the uid provisioned by otel-config/grafana/ — so the same JSON
 * works provisioned from files and imported through the UI (where Grafana
 * falls back to the default datasource of the type).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Dashboard, DataSourceRef, GridPos, Panel, VariableModel } from "@grafana/schema";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const DASHBOARDS_DIR = join(ROOT, "dashboards");

/** Grafana's dashboard JSON schema version these files are written in. */
const SCHEMA_VERSION = 41;

export const LOKI_UID = "peregrine-loki";
export const PROMETHEUS_UID = "peregrine-prometheus";
/** A Grafana variable reference, `${name}` or `${name:format}` (interpolated by Grafana, not by JS). */
function gv(name: string): string {
  return `\${${name}}`;
}
const LOKI: DataSourceRef = { type: "loki", uid: gv("ds_loki") };
const PROMETHEUS: DataSourceRef = { type: "prometheus", uid: gv("ds_prometheus") };

/**
 * Syslog severities Peregrine gives each Falco priority (OTLP SeverityNumber,
 * stored by Loki as the structured metadata `severity_number`).
 */
const PRIORITY_SEVERITIES: readonly (readonly [string, number])[] = [
  ["Emergency", 21],
  ["Alert", 19],
  ["Critical", 18],
  ["Error", 17],
  ["Warning", 13],
  ["Notice", 10],
  ["Informational", 9],
  ["Debug", 5],
];

function datasourceVariable(name: string, label: string, type: string, uid: string): VariableModel {
  return {
    name,
    label,
    type: "datasource",
    query: type,
    current: { text: uid, value: uid },
    hide: 0,
    refresh: 1,
  } as VariableModel;
}

/** A query variable over label values; "All" means the regex `allValue`. */
function labelValuesVariable(
  name: string,
  label: string,
  datasource: DataSourceRef,
  query: string,
  allValue: string,
): VariableModel {
  return {
    name,
    label,
    type: "query",
    datasource,
    query,
    definition: query,
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue,
    current: { text: ["All"], value: ["$__all"] },
    sort: 1,
    hide: 0,
  } as VariableModel;
}

interface PanelSpec {
  title: string;
  type: "timeseries" | "table" | "logs" | "stat" | "barchart";
  gridPos: GridPos;
  datasource: DataSourceRef;
  description: string;
  /** expr → legend; instant queries for tables and stats. */
  targets: readonly { expr: string; legend?: string; instant?: boolean }[];
  unit?: string;
  stack?: boolean;
  options?: Record<string, unknown>;
}

function panel(id: number, spec: PanelSpec): Panel {
  const refIds = "ABCDEFGH";
  const custom: Record<string, unknown> =
    spec.type === "timeseries"
      ? {
          drawStyle: spec.stack ? "bars" : "line",
          fillOpacity: spec.stack ? 80 : 10,
          stacking: { mode: spec.stack ? "normal" : "none", group: "A" },
          lineWidth: 1,
          showPoints: "never",
        }
      : {};
  return {
    id,
    title: spec.title,
    type: spec.type,
    description: spec.description,
    datasource: spec.datasource,
    gridPos: spec.gridPos,
    fieldConfig: {
      defaults: { ...(spec.unit !== undefined && { unit: spec.unit }), custom },
      overrides: [],
    },
    options: spec.options ?? {},
    targets: spec.targets.map((t, i) => ({
      refId: refIds[i] ?? `Q${i}`,
      datasource: spec.datasource,
      expr: t.expr,
      ...(t.legend !== undefined && { legendFormat: t.legend }),
      ...(spec.datasource.type === "loki"
        ? { queryType: t.instant ? "instant" : "range" }
        : { range: !t.instant, instant: t.instant === true }),
      ...(spec.type === "table" && { format: "table" }),
    })),
  };
}

function dashboard(
  uid: string,
  title: string,
  description: string,
  variables: VariableModel[],
  panels: PanelSpec[],
): Dashboard {
  return {
    uid,
    title,
    description,
    tags: ["peregrine", "security"],
    editable: true,
    graphTooltip: 1,
    refresh: "30s",
    schemaVersion: SCHEMA_VERSION,
    time: { from: "now-6h", to: "now" },
    timezone: "browser",
    templating: { list: variables },
    annotations: { list: [] },
    links: [],
    panels: panels.map((p, i) => panel(i + 1, p)),
  } as Dashboard;
}

// ---------------------------------------------------------------- Detections (Loki)

/**
 * Every detection of the selected services and namespaces, rule and
 * minimum severity. Labels (service_name, k8s_namespace_name) are the
 * resource attributes otel-config/loki.yaml indexes; the rest are structured
 * metadata (log attributes, severity). `security_rule_name != ""` keeps the
 * workload's own logs out (its resource is the same service).
 */
const DETECTIONS =
  `{service_name=~"${gv("service:regex")}", k8s_namespace_name=~"${gv("namespace:regex")}"}` +
  ` | security_rule_name != "" | security_rule_name=~"${gv("rule:regex")}"` +
  ` | severity_number >= ${gv("min_priority")}`;

export function detectionsDashboard(): Dashboard {
  const variables = [
    datasourceVariable("ds_loki", "Loki", "loki", LOKI_UID),
    datasourceVariable("ds_prometheus", "Prometheus (rule names)", "prometheus", PROMETHEUS_UID),
    labelValuesVariable("service", "Service", LOKI, "label_values(service_name)", ".+"),
    labelValuesVariable("namespace", "Namespace", LOKI, "label_values(k8s_namespace_name)", ".*"),
    // Rule names are structured metadata in Loki (no label-values API); every loaded rule has
    // a peregrine_rule_matches_total series, even one that never fired.
    labelValuesVariable("rule", "Rule", PROMETHEUS, "label_values(peregrine_rule_matches_total, rule)", ".*"),
    {
      name: "min_priority",
      label: "Minimum priority",
      type: "custom",
      query: PRIORITY_SEVERITIES.map(([name, n]) => `${name} : ${n}`).join(","),
      current: { text: "Debug", value: "5" },
      options: PRIORITY_SEVERITIES.map(([name, n]) => ({ text: name, value: String(n), selected: n === 5 })),
      hide: 0,
    } as VariableModel,
  ];
  const w = 12;
  const panels: PanelSpec[] = [
    {
      title: "Detections",
      type: "stat",
      gridPos: { x: 0, y: 0, w: 6, h: 6 },
      datasource: LOKI,
      description: "Detections in the time range.",
      targets: [{ expr: `sum(count_over_time(${DETECTIONS} [$__range]))`, instant: true }],
      options: { reduceOptions: { calcs: ["lastNotNull"] }, colorMode: "value" },
    },
    {
      title: "Detections by priority",
      type: "timeseries",
      gridPos: { x: 6, y: 0, w: 18, h: 6 },
      datasource: LOKI,
      description: "Falco priority as Peregrine's SeverityText.",
      targets: [
        {
          expr: `sum by (severity_text) (count_over_time(${DETECTIONS} [$__auto]))`,
          legend: "{{severity_text}}",
        },
      ],
      stack: true,
    },
    {
      title: "Detections by rule",
      type: "timeseries",
      gridPos: { x: 0, y: 6, w, h: 8 },
      datasource: LOKI,
      description: "security_rule.name of each detection.",
      targets: [
        {
          expr: `sum by (security_rule_name) (count_over_time(${DETECTIONS} [$__auto]))`,
          legend: "{{security_rule_name}}",
        },
      ],
      stack: true,
    },
    {
      title: "Detections by namespace and service",
      type: "timeseries",
      gridPos: { x: w, y: 6, w, h: 8 },
      datasource: LOKI,
      description:
        "The resource of a detection is the affected workload: its Kubernetes namespace and service.name.",
      targets: [
        {
          expr: `sum by (k8s_namespace_name, service_name) (count_over_time(${DETECTIONS} [$__auto]))`,
          legend: "{{k8s_namespace_name}} {{service_name}}",
        },
      ],
      stack: true,
    },
    {
      title: "Top rules",
      type: "table",
      gridPos: { x: 0, y: 14, w, h: 8 },
      datasource: LOKI,
      description: "Rules with the most detections in the time range.",
      targets: [
        {
          expr: `topk(20, sum by (security_rule_name, severity_text) (count_over_time(${DETECTIONS} [$__range])))`,
          instant: true,
        },
      ],
      options: { sortBy: [{ displayName: "Value", desc: true }] },
    },
    {
      title: "Top processes",
      type: "table",
      gridPos: { x: w, y: 14, w, h: 8 },
      datasource: LOKI,
      description: "Executables that raised the most detections, by service.",
      targets: [
        {
          expr: `topk(20, sum by (process_executable_path, service_name) (count_over_time(${DETECTIONS} [$__range])))`,
          instant: true,
        },
      ],
      options: { sortBy: [{ displayName: "Value", desc: true }] },
    },
    {
      title: "Detections (rendered output)",
      type: "logs",
      gridPos: { x: 0, y: 22, w: 24, h: 14 },
      datasource: LOKI,
      description:
        "Each line is the rule's rendered output; expand a line for its attributes (security_rule_*, process_*, file_*, network_*, container_*, k8s_*).",
      targets: [{ expr: DETECTIONS }],
      options: {
        showTime: true,
        wrapLogMessage: true,
        enableLogDetails: true,
        sortOrder: "Descending",
        dedupStrategy: "none",
      },
    },
  ];
  return dashboard(
    "peregrine-detections",
    "Peregrine — Detections",
    "Peregrine's detections (OTLP log records in Loki), by rule, priority, workload and process.",
    variables,
    panels,
  );
}

// ------------------------------------------------- Rule hits and sensor health (Prometheus)

/** Every selector of the health dashboard names the instance(s) picked. */
const I = `{instance=~"${gv("instance:regex")}"}`;
const R = "[$__rate_interval]";

function withLabels(matchers: string): string {
  return `{instance=~"${gv("instance:regex")}", ${matchers}}`;
}

export function healthDashboard(): Dashboard {
  const variables = [
    datasourceVariable("ds_prometheus", "Prometheus", "prometheus", PROMETHEUS_UID),
    labelValuesVariable(
      "instance",
      "Instance",
      PROMETHEUS,
      "label_values(peregrine_build_info, instance)",
      ".*",
    ),
  ];
  const w = 12;
  const h = 8;
  const ts = (
    title: string,
    x: number,
    y: number,
    description: string,
    targets: PanelSpec["targets"],
    unit: string,
    stack = false,
  ): PanelSpec => ({
    title,
    type: "timeseries",
    gridPos: { x, y, w, h },
    datasource: PROMETHEUS,
    description,
    targets,
    unit,
    stack,
  });
  const panels: PanelSpec[] = [
    ts(
      "Rule matches by rule and priority",
      0,
      0,
      "Detections per second, by rule and Falco priority (peregrine_rule_matches_total).",
      [
        {
          expr: `sum by (rule, priority) (rate(peregrine_rule_matches_total${I}${R}))`,
          legend: "{{priority}} {{rule}}",
        },
      ],
      "ops",
      true,
    ),
    ts(
      "Events by type",
      w,
      0,
      "Events decoded per second, by Falco evt.type.",
      [{ expr: `sum by (type) (rate(peregrine_events_total${I}${R}))`, legend: "{{type}}" }],
      "ops",
      true,
    ),
    ts(
      "Kernel drops",
      0,
      h,
      "Records the kernel lost (ring buffer full), by event family; and events the in-kernel syscall filter dropped on purpose.",
      [
        {
          expr: `sum by (reason, family) (rate(peregrine_kernel_drops_total${I}${R}))`,
          legend: "{{reason}} {{family}}",
        },
        { expr: `sum(rate(peregrine_kernel_events_filtered_total${I}${R}))`, legend: "filtered (by design)" },
      ],
      "ops",
    ),
    ts(
      "Kernel drop ratio",
      w,
      h,
      "Lost records / (records submitted + lost). Above 0 the sensor is blind to part of the activity.",
      [
        {
          expr:
            `sum(rate(peregrine_kernel_drops_total${I}${R})) / ` +
            `(sum(rate(peregrine_kernel_events_total${I}${R})) + sum(rate(peregrine_kernel_drops_total${I}${R})))`,
          legend: "drop ratio",
        },
      ],
      "percentunit",
    ),
    ts(
      "Decoder errors and enrichment misses",
      0,
      2 * h,
      "Records the decoder skipped, by reason; lookups the enricher could not answer, by kind.",
      [
        {
          expr: `sum by (reason) (rate(peregrine_decoder_errors_total${I}${R}))`,
          legend: "decoder {{reason}}",
        },
        { expr: `sum by (kind) (rate(peregrine_enrichment_misses_total${I}${R}))`, legend: "miss {{kind}}" },
      ],
      "ops",
    ),
    ts(
      "Export records by outcome",
      w,
      2 * h,
      "Detection records per exporter: sent, failed, spooled (to disk, sent later), dropped (lost).",
      [
        {
          expr: `sum by (exporter, result) (rate(peregrine_export_records_total${I}${R}))`,
          legend: "{{exporter}} {{result}}",
        },
      ],
      "ops",
    ),
    ts(
      "Export queue and spool depth",
      0,
      3 * h,
      "Records waiting in each exporter's memory queue, and records/bytes in its on-disk spool.",
      [
        { expr: `sum by (exporter) (peregrine_export_queue_length${I})`, legend: "queue {{exporter}}" },
        {
          expr: `sum by (exporter) (peregrine_export_spool_records${I})`,
          legend: "spool records {{exporter}}",
        },
      ],
      "short",
    ),
    ts(
      "Export spool size",
      w,
      3 * h,
      "Bytes in each exporter's on-disk spool (a collector outage shows here first).",
      [{ expr: `sum by (exporter) (peregrine_export_spool_bytes${I})`, legend: "{{exporter}}" }],
      "bytes",
    ),
    ts(
      "Rule evaluation time per event",
      0,
      4 * h,
      "Quantiles of the time to evaluate the rules against one event.",
      [0.5, 0.9, 0.99].map((q) => ({
        expr: `histogram_quantile(${q}, sum by (le) (rate(peregrine_rule_evaluation_seconds_bucket${I}${R})))`,
        legend: `p${q * 100}`,
      })),
      "s",
    ),
    ts(
      "Agent CPU",
      w,
      4 * h,
      "CPU seconds per second of the agent process (user + system; the loader process is not included).",
      [{ expr: `rate(peregrine_process_cpu_seconds_total${I}${R})`, legend: "{{instance}}" }],
      "percentunit",
    ),
    ts(
      "Agent memory (RSS)",
      0,
      5 * h,
      "Resident set size of the agent process.",
      [{ expr: `peregrine_process_resident_memory_bytes${I}`, legend: "{{instance}}" }],
      "bytes",
    ),
    ts(
      "Process and fd tables",
      w,
      5 * h,
      "Entries in the process table and open descriptors in the fd table.",
      [
        { expr: `peregrine_process_table_size${I}`, legend: "processes {{instance}}" },
        { expr: `peregrine_fd_table_size${I}`, legend: "fds {{instance}}" },
      ],
      "short",
    ),
    ts(
      "Loader restarts",
      0,
      6 * h,
      "Times the agent restarted the BPF loader (each one is a gap in coverage).",
      [
        {
          expr: `sum by (instance) (increase(peregrine_loader_restarts_total${I}${R}))`,
          legend: "{{instance}}",
        },
      ],
      "short",
    ),
    ts(
      "Rules reloads and rules loaded",
      w,
      6 * h,
      "Hot reloads by result; enabled rules loaded; rules skipped for an unsupported field.",
      [
        {
          expr: `sum by (result) (increase(peregrine_rules_reloads_total${I}${R}))`,
          legend: "reload {{result}}",
        },
        { expr: `sum(peregrine_rules_loaded${I})`, legend: "rules loaded" },
        { expr: `sum(peregrine_rules_unsupported_fields${I})`, legend: "rules with unsupported fields" },
      ],
      "short",
    ),
    {
      title: "Detections by priority (range)",
      type: "table",
      gridPos: { x: 0, y: 7 * h, w: 24, h },
      datasource: PROMETHEUS,
      description: "Rule matches in the time range, by rule and priority.",
      targets: [
        {
          expr: `sort_desc(sum by (rule, priority) (increase(peregrine_rule_matches_total${withLabels('priority=~".+"')}[$__range])))`,
          instant: true,
        },
      ],
    },
  ];
  return dashboard(
    "peregrine-health",
    "Peregrine — Rule hits and sensor health",
    "Peregrine's Prometheus metrics: rule matches, events, kernel drops, export, rule evaluation time, agent resources, loader restarts and rules reloads.",
    variables,
    panels,
  );
}

/** File name in dashboards/ → dashboard. */
export function allDashboards(): ReadonlyMap<string, Dashboard> {
  return new Map([
    ["peregrine-detections.json", detectionsDashboard()],
    ["peregrine-health.json", healthDashboard()],
  ]);
}

export function render(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

function main(argv: readonly string[]): number {
  const check = argv.includes("--check");
  let stale = 0;
  for (const [file, d] of allDashboards()) {
    const path = join(DASHBOARDS_DIR, file);
    const text = render(d);
    if (!check) {
      writeFileSync(path, text);
      continue;
    }
    let current = "";
    try {
      current = readFileSync(path, "utf8");
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error(`dashboards/${file} is stale: run \`npm run gen:dashboards\` and commit it`);
      stale++;
    }
  }
  return stale === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}

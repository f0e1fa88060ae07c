/**
 * otel-config/: the collector pipelines use components that exist in
 * otelcol-contrib under their current names, every pipeline references
 * defined components (and every defined component is used), receivers are
 * bound explicitly; Loki indexes only resource attributes Peregrine sends;
 * Prometheus' config passes promtool; Grafana's provisioning and the compose
 * file point at files that exist.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RESOURCE_ATTRIBUTE_KEYS } from "../../src/export/attribute-catalog.js";
import { PACKAGE_ROOT } from "../../src/version.js";
import { lokiConfig, lokiIndexedAttributes, readYaml } from "./asset-support.js";

/**
 * Component types of the otelcol-contrib distribution v0.154.0 that a
 * Peregrine deployment may reasonably use (a subset of its manifest,
 * distributions/otelcol-contrib/manifest.yaml in
 * opentelemetry-collector-releases). Names follow the lower_snake_case
 * renames: otlp_grpc / otlp_http exporters since v0.144.0,
 * prometheus_remote_write since v0.154.0.
 */
const OTELCOL_CONTRIB_VERSION = "0.154.0";
const OTELCOL_CONTRIB: Readonly<Record<string, ReadonlySet<string>>> = {
  receivers: new Set([
    "otlp",
    "prometheus",
    "filelog",
    "hostmetrics",
    "journald",
    "jaeger",
    "zipkin",
    "kafka",
    "nop",
  ]),
  processors: new Set([
    "batch",
    "memory_limiter",
    "attributes",
    "resource",
    "filter",
    "transform",
    "redaction",
    "groupbyattrs",
    "tail_sampling",
  ]),
  exporters: new Set([
    "otlp_grpc",
    "otlp_http",
    "debug",
    "nop",
    "prometheus",
    "prometheus_remote_write",
    "file",
    "kafka",
    "loadbalancing",
  ]),
  extensions: new Set(["health_check", "pprof", "zpages", "file_storage", "basicauth", "bearertokenauth"]),
  connectors: new Set(["forward", "count", "routing", "spanmetrics"]),
};

/** Old names: still accepted (with a warning) or gone; never in our files. */
const DEPRECATED: Readonly<Record<string, string>> = {
  otlp: "otlp_grpc (exporter; `otlp` stays the receiver's name)",
  otlphttp: "otlp_http",
  prometheusremotewrite: "prometheus_remote_write",
  loki: "otlp_http to Loki's /otlp endpoint (the loki exporter was removed)",
};

type Kind = "receivers" | "processors" | "exporters" | "extensions" | "connectors";
const KINDS: readonly Kind[] = ["receivers", "processors", "exporters", "extensions", "connectors"];

interface CollectorConfig {
  receivers?: Record<string, unknown>;
  processors?: Record<string, unknown>;
  exporters?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
  connectors?: Record<string, unknown>;
  service: {
    extensions?: string[];
    pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
  };
}

/** `${env:NAME:-default}` → default (what the collector uses when NAME is unset). */
function envDefaults(value: unknown): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{env:(\w+)(?::-([^}]*))?\}/g, (_m, name: string, dflt: string | undefined) => {
      if (dflt === undefined) throw new Error(`\${env:${name}} has no default`);
      return dflt;
    });
  }
  if (Array.isArray(value)) return value.map(envDefaults);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, envDefaults(v)]));
  }
  return value;
}

function collector(file: string): CollectorConfig {
  return envDefaults(readYaml<CollectorConfig>(`otel-config/${file}`)) as CollectorConfig;
}

const typeOf = (id: string): string => id.split("/")[0] as string;

describe.each(["agent.yaml", "gateway.yaml"])(
  `otel-config/%s (otelcol-contrib ${OTELCOL_CONTRIB_VERSION})`,
  (file) => {
    const config = collector(file);

    it("names only components of the distribution, by their current names", () => {
      for (const kind of KINDS) {
        for (const id of Object.keys(config[kind] ?? {})) {
          const type = typeOf(id);
          expect(
            OTELCOL_CONTRIB[kind]?.has(type),
            `${kind}: ${id} is not an otelcol-contrib ${kind} type`,
          ).toBe(true);
          if (kind !== "receivers") {
            expect(
              DEPRECATED[type],
              `${kind}: ${id} is a deprecated name, use ${DEPRECATED[type]}`,
            ).toBeUndefined();
          }
        }
      }
    });

    it("every pipeline references defined components, and every defined one is used", () => {
      const used = new Map<Kind, Set<string>>(KINDS.map((k) => [k, new Set<string>()]));
      const pipelines = Object.entries(config.service.pipelines);
      expect(pipelines.length).toBeGreaterThan(0);
      for (const [name, p] of pipelines) {
        expect(["logs", "metrics", "traces", "profiles"]).toContain(typeOf(name));
        expect(p.receivers.length, `${name} has no receiver`).toBeGreaterThan(0);
        expect(p.exporters.length, `${name} has no exporter`).toBeGreaterThan(0);
        for (const [kind, ids] of [
          ["receivers", p.receivers],
          ["processors", p.processors ?? []],
          ["exporters", p.exporters],
        ] as const) {
          for (const id of ids) {
            expect(Object.keys(config[kind] ?? {}), `${name} uses undefined ${kind} ${id}`).toContain(id);
            used.get(kind)?.add(id);
          }
        }
        // memory_limiter refuses data first, batch batches last.
        const procs = p.processors ?? [];
        expect(procs[0], `${name}: memory_limiter first`).toBe("memory_limiter");
        expect(procs.at(-1), `${name}: batch last`).toBe("batch");
      }
      for (const id of config.service.extensions ?? []) {
        expect(Object.keys(config.extensions ?? {})).toContain(id);
        used.get("extensions")?.add(id);
      }
      for (const kind of KINDS) {
        for (const id of Object.keys(config[kind] ?? {})) {
          expect(used.get(kind)?.has(id), `${kind} ${id} is defined but no pipeline uses it`).toBe(true);
        }
      }
    });

    it("binds every OTLP receiver protocol to an explicit address", () => {
      const otlp = config.receivers?.otlp as { protocols: Record<string, { endpoint?: string }> };
      expect(Object.keys(otlp.protocols).sort()).toEqual(["grpc", "http"]);
      for (const [proto, settings] of Object.entries(otlp.protocols)) {
        expect(settings.endpoint, `${proto} endpoint`).toMatch(/^(127\.0\.0\.1|0\.0\.0\.0):\d+$/);
        // The node agent only takes data from its own host.
        if (file === "agent.yaml") expect(settings.endpoint).toMatch(/^127\.0\.0\.1:/);
      }
    });
  },
);

describe("otel-config/gateway.yaml", () => {
  const config = collector("gateway.yaml");

  it("sends logs to Loki's native OTLP endpoint, metrics by remote write, traces to Tempo", () => {
    const exporters = config.exporters as Record<string, { endpoint: string }>;
    const logs = config.service.pipelines.logs?.exporters ?? [];
    expect(logs.map(typeOf)).toEqual(["otlp_http"]);
    expect(exporters[logs[0] as string]?.endpoint).toMatch(/^http:\/\/loki:3100\/otlp$/);
    expect(config.service.pipelines.metrics?.receivers).toEqual(["prometheus"]);
    expect(config.service.pipelines.metrics?.exporters.map(typeOf)).toEqual(["prometheus_remote_write"]);
    expect(config.service.pipelines.traces?.exporters.map(typeOf)).toEqual(["otlp_grpc"]);
    const receivers = config.receivers as Record<string, unknown>;
    const prometheus = receivers.prometheus as {
      config: { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    };
    const scrape = prometheus.config.scrape_configs[0];
    expect(scrape?.static_configs[0]?.targets[0]).toMatch(/:9464$/);
  });
});

describe("otel-config/loki.yaml", () => {
  it("keeps structured metadata on and indexes only service, namespace, pod and container", () => {
    const config = lokiConfig();
    expect(config.limits_config.allow_structured_metadata).toBe(true);
    expect(config.limits_config.otlp_config.resource_attributes.ignore_defaults).toBe(true);
    const indexed = lokiIndexedAttributes();
    for (const key of indexed) {
      expect(RESOURCE_ATTRIBUTE_KEYS, `${key} is not a resource attribute Peregrine sends`).toContain(key);
    }
    expect(indexed).toEqual(
      expect.arrayContaining(["service.name", "k8s.namespace.name", "k8s.pod.name", "k8s.container.name"]),
    );
    // Rule, process, host: structured metadata, never stream labels (cardinality).
    for (const key of ["security_rule.name", "process.executable.path", "process.pid", "host.name"]) {
      expect(indexed).not.toContain(key);
    }
  });

  it("uses the tsdb index with schema v13 (structured metadata needs it)", () => {
    const schema = readYaml<{ schema_config: { configs: { store: string; schema: string }[] } }>(
      "otel-config/loki.yaml",
    ).schema_config.configs.at(-1);
    expect(schema).toMatchObject({ store: "tsdb", schema: "v13" });
  });
});

describe("otel-config/prometheus.yml", () => {
  it.skipIf(!existsSync("/usr/bin/promtool"))("passes promtool check config", () => {
    const out = execFileSync(
      "/usr/bin/promtool",
      ["check", "config", join(PACKAGE_ROOT, "otel-config/prometheus.yml")],
      {
        encoding: "utf8",
      },
    );
    expect(out).toMatch(/SUCCESS/);
  });
});

describe("otel-config/ Grafana provisioning and compose", () => {
  const compose = readYaml<{ services: Record<string, { volumes?: string[] }> }>("otel-config/compose.yaml");

  it("mounts files that exist", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const host = volume.split(":")[0] as string;
        expect(existsSync(join(PACKAGE_ROOT, "otel-config", host)), `${name}: ${host}`).toBe(true);
      }
    }
  });

  it("provisions the dashboards from where compose mounts dashboards/", () => {
    const provider = readYaml<{ providers: { options: { path: string } }[] }>(
      "otel-config/grafana/provisioning/dashboards/peregrine.yaml",
    ).providers[0];
    const mounts = compose.services.grafana?.volumes ?? [];
    expect(mounts).toContain(`../dashboards:${provider?.options.path}:ro`);
  });

  it("deploy/ carries an identical copy of the node agent's config", () => {
    expect(readFileSync(join(PACKAGE_ROOT, "deploy/config/otel-agent.yaml"), "utf8")).toBe(
      readFileSync(join(PACKAGE_ROOT, "otel-config/agent.yaml"), "utf8"),
    );
  });
});

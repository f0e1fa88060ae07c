/**
 * deploy/: every manifest (and the ConfigMaps kustomize generates) passes the
 * Kubernetes OpenAPI schema validators of `kubernetes-models`; `kubectl
 * kustomize` renders the whole set when kubectl is installed; no manifest has
 * a field the API does not know (the schema validators let unknown fields
 * pass, as the API server does without strict validation; the TypeScript
 * compiler's excess-property check against the same models' interfaces
 * catches them); the DaemonSet
 * keeps the security and operational properties the README promises; the
 * agent's config file in the ConfigMap is valid and its rules load.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { applyConfigFile, defaultConfig } from "../../src/config/config.js";
import { loadRules } from "../../src/rules/ruleset.js";
import { PACKAGE_ROOT } from "../../src/version.js";
import { readYaml } from "./asset-support.js";

const DEPLOY = join(PACKAGE_ROOT, "deploy");

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<
  string,
  unknown
>;

/** apiVersion/kind → validator (throws with the schema path of the first problems). */
const VALIDATORS: Readonly<Record<string, (m: Manifest) => void>> = {
  "apps/v1/DaemonSet": (m) => new DaemonSet(m as never).validate(),
  "v1/ConfigMap": (m) => new ConfigMap(m as never).validate(),
  "v1/Namespace": (m) => new Namespace(m as never).validate(),
  "v1/Service": (m) => new Service(m as never).validate(),
  "v1/ServiceAccount": (m) => new ServiceAccount(m as never).validate(),
};

function validate(m: Manifest, where: string): void {
  const validator = VALIDATORS[`${m.apiVersion}/${m.kind}`];
  if (validator === undefined) throw new Error(`${where}: no validator for ${m.apiVersion} ${m.kind}`);
  validator(m);
}

/** apiVersion/kind → the kubernetes-models interface and module declaring it. */
const INTERFACES: Readonly<Record<string, readonly [string, string]>> = {
  "apps/v1/DaemonSet": ["IDaemonSet", "kubernetes-models/apps/v1/DaemonSet"],
  "v1/ConfigMap": ["IConfigMap", "kubernetes-models/v1/ConfigMap"],
  "v1/Namespace": ["INamespace", "kubernetes-models/v1/Namespace"],
  "v1/Service": ["IService", "kubernetes-models/v1/Service"],
  "v1/ServiceAccount": ["IServiceAccount", "kubernetes-models/v1/ServiceAccount"],
};

/**
 * Type-checks each manifest as an object literal of its kubernetes-models
 * interface: returns the compiler's messages (an unknown or misspelt field is
 * "Object literal may only specify known properties").
 */
function typeCheck(manifests: readonly { where: string; m: Manifest }[]): string[] {
  const file = join(PACKAGE_ROOT, "test/assets/__manifests__.ts");
  const lines: string[] = [];
  manifests.forEach(({ where, m }, i) => {
    const entry = INTERFACES[`${m.apiVersion}/${m.kind}`];
    if (entry === undefined) throw new Error(`${where}: no interface for ${m.apiVersion} ${m.kind}`);
    lines.push(`import type { ${entry[0]} as T${i} } from "${entry[1]}";`);
    lines.push(`// ${where}\nexport const m${i}: T${i} = ${JSON.stringify(m, null, 1)};`);
  });
  const source = lines.join("\n");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file?.getLineAndCharacterOfPosition(d.start ?? 0).line ?? 0;
    const where =
      source
        .split("\n")
        .slice(0, line + 1)
        .reverse()
        .find((l) => l.startsWith("// ")) ?? "";
    return `${where.slice(3)}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
}

function manifestsIn(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

interface Kustomization {
  namespace: string;
  resources: string[];
  configMapGenerator: { name: string; files: string[] }[];
}
const kustomization = readYaml<Kustomization>("deploy/kustomization.yaml");

/** What kustomize's configMapGenerator makes (without the hash suffix). */
function generatedConfigMaps(): Manifest[] {
  return kustomization.configMapGenerator.map((g) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: g.name, namespace: kustomization.namespace },
    data: Object.fromEntries(
      g.files.map((f) => {
        const [key, path] = f.includes("=")
          ? (f.split("=") as [string, string])
          : [f.split("/").at(-1) as string, f];
        return [key, readFileSync(join(DEPLOY, path), "utf8")];
      }),
    ),
  }));
}

const resources = kustomization.resources.flatMap((file) =>
  manifestsIn(readFileSync(join(DEPLOY, file), "utf8")).map((m) => ({ file, m })),
);
const daemonSet = resources.find((r) => r.m.kind === "DaemonSet")?.m as unknown as DaemonSet;

describe("deploy/", () => {
  it("lists every manifest file in the kustomization", () => {
    const yamls = readdirSync(DEPLOY).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect(kustomization.resources.sort()).toEqual(yamls.sort());
  });

  it.each(resources.map((r) => [`${r.file}: ${r.m.kind} ${r.m.metadata.name}`, r.m] as const))(
    "%s passes the Kubernetes schema",
    (where, m) => {
      expect(() => validate(m, where)).not.toThrow();
    },
  );

  it("the validator rejects a broken DaemonSet (the check can fail)", () => {
    const broken = structuredClone(daemonSet) as unknown as {
      spec: { template: { spec: { hostPID: unknown } } };
    };
    broken.spec.template.spec.hostPID = "yes";
    expect(() => validate(broken as unknown as Manifest, "broken")).toThrow(/hostPID must be boolean/);
  });

  it.each(generatedConfigMaps().map((m) => [m.metadata.name, m] as const))(
    "generated ConfigMap %s passes the schema",
    (where, m) => {
      expect(() => validate(m, where)).not.toThrow();
    },
  );

  it("has no field the Kubernetes API does not know", () => {
    const all = [
      ...resources.map((r) => ({ where: `${r.file}: ${r.m.kind} ${r.m.metadata.name}`, m: r.m })),
      ...generatedConfigMaps().map((m) => ({ where: `generated ${m.metadata.name}`, m })),
    ];
    expect(typeCheck(all)).toEqual([]);
  });

  it("the unknown-field check can fail", () => {
    const broken = structuredClone(daemonSet) as unknown as {
      spec: { template: { spec: Record<string, unknown> } };
    };
    broken.spec.template.spec.hostPid = true;
    const messages = typeCheck([{ where: "broken", m: broken as unknown as Manifest }]);
    expect(messages.join("\n")).toMatch(/broken: .*'"?hostPid"?' does not exist/);
  });

  it.skipIf(!existsSync("/usr/bin/kubectl"))(
    "kubectl kustomize renders a valid set with hashed ConfigMaps",
    () => {
      const rendered = manifestsIn(
        execFileSync("/usr/bin/kubectl", ["kustomize", DEPLOY], { encoding: "utf8" }),
      );
      for (const m of rendered) validate(m, `${m.kind} ${m.metadata.name}`);
      const maps = rendered.filter((m) => m.kind === "ConfigMap").map((m) => m.metadata.name);
      expect(maps).toHaveLength(2);
      for (const name of maps) expect(name).toMatch(/^peregrine-(config|otel-agent)-[a-z0-9]{10}$/);
      const ds = rendered.find((m) => m.kind === "DaemonSet") as unknown as DaemonSet;
      const referenced = (ds.spec?.template.spec?.volumes ?? []).flatMap((v) =>
        v.configMap?.name !== undefined ? [v.configMap.name] : [],
      );
      expect(referenced.sort()).toEqual(maps.sort());
    },
  );

  describe("the DaemonSet", () => {
    const pod = daemonSet.spec?.template.spec;
    const sensor = pod?.containers.find((c) => c.name === "peregrine");
    const volumes = new Map((pod?.volumes ?? []).map((v) => [v.name, v]));

    it("runs in the host PID namespace, not privileged, with the capabilities the sensor uses", () => {
      expect(pod?.hostPID).toBe(true);
      const sc = sensor?.securityContext;
      expect(sc?.privileged).toBe(false);
      expect(sc?.allowPrivilegeEscalation).toBe(false);
      expect(sc?.capabilities?.drop).toEqual(["ALL"]);
      expect(sc?.capabilities?.add).toEqual([
        "BPF",
        "PERFMON",
        "SYS_RESOURCE",
        "SYS_PTRACE",
        "DAC_READ_SEARCH",
      ]);
      expect(sc?.capabilities?.add).not.toContain("SYS_ADMIN");
    });

    it("mounts the host paths it reads, read-only", () => {
      const byPath = new Map(
        (sensor?.volumeMounts ?? []).map((m) => [volumes.get(m.name)?.hostPath?.path ?? `(${m.name})`, m]),
      );
      for (const path of [
        "/sys/kernel/btf",
        "/sys/fs/cgroup",
        "/etc/passwd",
        "/etc/group",
        "/var/run/crio",
      ]) {
        expect(byPath.get(path)?.readOnly, path).toBe(true);
        expect(byPath.get(path)?.mountPath, path).toBe(path);
      }
    });

    it("probes /healthz on the metrics port, has requests and limits, exposes metrics", () => {
      for (const probe of [sensor?.startupProbe, sensor?.readinessProbe, sensor?.livenessProbe]) {
        expect(probe?.httpGet).toMatchObject({ path: "/healthz", port: "metrics" });
      }
      expect(sensor?.ports).toContainEqual(expect.objectContaining({ name: "metrics", containerPort: 9464 }));
      for (const c of pod?.containers ?? []) {
        expect(c.resources?.requests, c.name).toMatchObject({
          cpu: expect.any(String),
          memory: expect.any(String),
        });
        expect(c.resources?.limits?.memory, c.name).toBeDefined();
      }
      const service = resources.find((r) => r.m.kind === "Service")?.m as unknown as Service;
      expect(service.spec?.selector).toEqual(daemonSet.spec?.selector.matchLabels);
      expect(service.spec?.ports?.[0]).toMatchObject({ name: "metrics", port: 9464, targetPort: "metrics" });
    });

    it("sends detections to the collector beside it, which runs the node agent's config", () => {
      const args = sensor?.args ?? [];
      expect(args[args.indexOf("--otlp-endpoint") + 1]).toBe("http://127.0.0.1:4317");
      // …where the node agent's OTLP/gRPC receiver listens by default.
      const agentConfig = readFileSync(join(DEPLOY, "config/otel-agent.yaml"), "utf8");
      expect(agentConfig).toMatch(
        /grpc:\n\s+(#.*\n\s+)*endpoint: \$\{env:OTLP_GRPC_ENDPOINT:-127\.0\.0\.1:4317\}/,
      );
      const agent = pod?.containers.find((c) => c.name === "otel-agent");
      expect(agent?.args).toEqual(["--config=/etc/otelcol/agent.yaml"]);
      expect(volumes.get("otel-agent-config")?.configMap?.name).toBe("peregrine-otel-agent");
      // Mounted as a directory (no subPath): the kubelet updates rules in place.
      expect(sensor?.volumeMounts?.find((m) => m.name === "config")?.subPath).toBeUndefined();
    });
  });

  it("the agent's config file is valid and its rules (defaults + local) load", async () => {
    const config = defaultConfig();
    applyConfigFile(config, join(DEPLOY, "config/peregrine.yaml"));
    const sensor = daemonSet.spec?.template.spec?.containers.find((c) => c.name === "peregrine");
    expect(sensor?.args).toContain("/etc/peregrine/peregrine.yaml");
    // In the image the repository lives at /opt/peregrine (deploy/Dockerfile).
    const files = config.rulesFiles.map((f) => f.replace(/^\/opt\/peregrine\//, `${PACKAGE_ROOT}/`));
    expect(files).toEqual([join(PACKAGE_ROOT, "rules"), join(DEPLOY, "config/local-rules.yaml")]);
    const ruleset = await loadRules(files);
    const defaults = await loadRules([join(PACKAGE_ROOT, "rules")]);
    expect(ruleset.rules.map((r) => r.name)).toEqual(defaults.rules.map((r) => r.name));
    expect(ruleset.rules.length).toBeGreaterThan(0);
    // The example is an append to a list the defaults define (a typo there would fail to load).
    const local = readFileSync(join(DEPLOY, "config/local-rules.yaml"), "utf8");
    expect(local).toMatch(/override:\n\s+items: append/);
  });
});

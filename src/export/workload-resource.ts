/**
 * The OTLP resource of a detection: the affected workload (so in Loki a
 * detection in service "checkout" sits in the service_name="checkout"
 * stream, next to that service's own logs and traces), or the sensor.
 *
 * service.name, first that is known:
 *   1. the process's own OTEL_SERVICE_NAME, then service.name in its
 *      OTEL_RESOURCE_ATTRIBUTES (what its OpenTelemetry SDK reports);
 *   2. its pod's app.kubernetes.io/name label, then the pod's owner name;
 *   3. its container's name;
 *   4. its executable's name.
 * service.namespace: OTEL_RESOURCE_ATTRIBUTES, else the k8s namespace.
 */
import { readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { posix } from "node:path";
import type { LogAttributes } from "@opentelemetry/api-logs";
import type { ContainerInfo, ProcessInfo } from "../enrich/process-info.js";
import type { Detection } from "../rules/detection.js";
import {
  RESOURCE_ATTR_DEPLOYMENT_ENVIRONMENT,
  RESOURCE_ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  RESOURCE_ATTR_HOST_ARCH,
  RESOURCE_ATTR_HOST_ID,
  RESOURCE_ATTR_HOST_NAME,
  RESOURCE_ATTR_K8S_NODE_NAME,
  RESOURCE_ATTR_OS_TYPE,
  RESOURCE_ATTR_SERVICE_INSTANCE_ID,
  RESOURCE_ATTR_SERVICE_NAME,
  RESOURCE_ATTR_SERVICE_NAMESPACE,
  RESOURCE_ATTR_SERVICE_VERSION,
  WORKLOAD_ATTR_CONTAINER_ID,
  WORKLOAD_ATTR_CONTAINER_IMAGE_NAME,
  WORKLOAD_ATTR_CONTAINER_NAME,
  WORKLOAD_ATTR_CONTAINER_RUNTIME_NAME,
  WORKLOAD_ATTR_K8S_CONTAINER_NAME,
  WORKLOAD_ATTR_K8S_NAMESPACE_NAME,
  WORKLOAD_ATTR_K8S_POD_NAME,
  WORKLOAD_ATTR_K8S_POD_UID,
} from "./semconv.js";

/** service.name of the sensor's own resource, and the instrumentation scope name. */
export const SENSOR_SERVICE_NAME = "peregrine";

export type ResourceMode = "workload" | "sensor";

/** The host part of every resource. */
export interface HostIdentity {
  readonly name: string;
  /** /etc/machine-id; "" when unreadable. */
  readonly id: string;
  readonly arch: string;
  readonly osType: string;
  /** k8s.node.name from the agent's environment (K8S_NODE_NAME, else NODE_NAME); "" outside k8s. */
  readonly nodeName: string;
}

/** Node's process.arch → the host.arch values of the semantic conventions. */
const ARCH: Readonly<Record<string, string>> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm32",
  ia32: "x86",
  ppc64: "ppc64",
  s390x: "s390x",
};

export function hostIdentity(
  hostname: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  machineIdPath = "/etc/machine-id",
): HostIdentity {
  let id = "";
  try {
    id = readFileSync(machineIdPath, "utf8").trim();
  } catch {
    // No machine-id (a minimal container): host.id is left out.
  }
  return {
    name: hostname !== undefined && hostname !== "" ? hostname : osHostname(),
    id,
    arch: ARCH[process.arch] ?? process.arch,
    osType: process.platform,
    nodeName: (env.K8S_NODE_NAME ?? env.NODE_NAME ?? "").trim(),
  };
}

/** OTEL_RESOURCE_ATTRIBUTES: "k=v,k2=v2", values percent-encoded. Bad pairs are skipped. */
export function parseResourceAttributes(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (text === undefined) return out;
  for (const pair of text.split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // Keep it as given.
    }
    if (key !== "") out.set(key, value);
  }
  return out;
}

/** Keys taken over from a process's OTEL_RESOURCE_ATTRIBUTES (bounded: no arbitrary keys reach the resource). */
const PASSTHROUGH = [
  RESOURCE_ATTR_SERVICE_VERSION,
  RESOURCE_ATTR_SERVICE_INSTANCE_ID,
  RESOURCE_ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  RESOURCE_ATTR_DEPLOYMENT_ENVIRONMENT,
];

/**
 * The pod's owner from its name, the way the controllers name pods:
 * Deployment "<name>-<replicaset hash>-<5>" (pod-template-hash label),
 * StatefulSet "<name>-<ordinal>", DaemonSet/Job "<name>-<5>".
 */
export function podOwnerName(podName: string, labels: ReadonlyMap<string, string>): string | undefined {
  const hash = labels.get("pod-template-hash");
  if (hash !== undefined && hash !== "") {
    const suffix = new RegExp(`-${hash.replace(/[^a-z0-9]/g, "")}-[a-z0-9]{5}$`);
    if (suffix.test(podName)) return podName.replace(suffix, "");
  }
  if (labels.has("statefulset.kubernetes.io/pod-name") || labels.has("apps.kubernetes.io/pod-index")) {
    const m = /^(.*)-\d+$/.exec(podName);
    if (m?.[1]) return m[1];
  }
  const m = /^(.*)-[a-z0-9]{5}$/.exec(podName);
  return m?.[1] || undefined;
}

function inContainer(container: ContainerInfo): boolean {
  return container.id !== "" && container.id !== "host";
}

/** The workload's resource attributes (without the host part). */
export function workloadAttributes(process: ProcessInfo): LogAttributes {
  const attrs: LogAttributes = {};
  const own = parseResourceAttributes(process.env.get("OTEL_RESOURCE_ATTRIBUTES"));
  const container = process.container;
  const k8s = inContainer(container) ? container.k8s : undefined;
  const envName = process.env.get("OTEL_SERVICE_NAME")?.trim();
  const serviceName =
    (envName !== undefined && envName !== "" ? envName : undefined) ??
    nonEmpty(own.get(RESOURCE_ATTR_SERVICE_NAME)) ??
    nonEmpty(k8s?.podLabels.get("app.kubernetes.io/name")) ??
    (k8s !== undefined ? podOwnerName(k8s.podName, k8s.podLabels) : undefined) ??
    (inContainer(container) ? nonEmpty(container.name) : undefined) ??
    nonEmpty(posix.basename(process.exePath)) ??
    nonEmpty(process.name) ??
    "unknown_service";
  attrs[RESOURCE_ATTR_SERVICE_NAME] = serviceName;
  const namespace = nonEmpty(own.get(RESOURCE_ATTR_SERVICE_NAMESPACE)) ?? nonEmpty(k8s?.namespace);
  if (namespace !== undefined) attrs[RESOURCE_ATTR_SERVICE_NAMESPACE] = namespace;
  for (const key of PASSTHROUGH) {
    const value = nonEmpty(own.get(key));
    if (value !== undefined) attrs[key] = value;
  }
  if (inContainer(container)) {
    attrs[WORKLOAD_ATTR_CONTAINER_ID] = container.fullId !== "" ? container.fullId : container.id;
    if (container.name !== "") attrs[WORKLOAD_ATTR_CONTAINER_NAME] = container.name;
    if (container.image !== "") attrs[WORKLOAD_ATTR_CONTAINER_IMAGE_NAME] = container.image;
    if (container.runtime !== "") attrs[WORKLOAD_ATTR_CONTAINER_RUNTIME_NAME] = container.runtime;
  }
  if (k8s !== undefined) {
    if (k8s.namespace !== "") attrs[WORKLOAD_ATTR_K8S_NAMESPACE_NAME] = k8s.namespace;
    if (k8s.podName !== "") attrs[WORKLOAD_ATTR_K8S_POD_NAME] = k8s.podName;
    if (k8s.podUid !== "") attrs[WORKLOAD_ATTR_K8S_POD_UID] = k8s.podUid;
    if (k8s.containerName !== "") attrs[WORKLOAD_ATTR_K8S_CONTAINER_NAME] = k8s.containerName;
  }
  return attrs;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

function hostAttributes(host: HostIdentity): LogAttributes {
  const attrs: LogAttributes = { [RESOURCE_ATTR_HOST_NAME]: host.name };
  if (host.id !== "") attrs[RESOURCE_ATTR_HOST_ID] = host.id;
  attrs[RESOURCE_ATTR_HOST_ARCH] = host.arch;
  attrs[RESOURCE_ATTR_OS_TYPE] = host.osType;
  if (host.nodeName !== "") attrs[RESOURCE_ATTR_K8S_NODE_NAME] = host.nodeName;
  return attrs;
}

/** Distinct workload resources kept; beyond it (a fork bomb of services?) detections use the sensor's. */
const MAX_RESOURCES = 1024;

interface Cached<R> {
  readonly env: ReadonlyMap<string, string>;
  readonly container: ContainerInfo;
  readonly exePath: string;
  readonly resource: R;
}

/** The sensor's own resource attributes: service.name "peregrine", its version, the host. */
export function sensorAttributes(host: HostIdentity, version: string): LogAttributes {
  return {
    [RESOURCE_ATTR_SERVICE_NAME]: SENSOR_SERVICE_NAME,
    [RESOURCE_ATTR_SERVICE_VERSION]: version,
    ...hostAttributes(host),
  };
}

/**
 * Makes each distinct resource once (with `make`: the OTLP sink makes a
 * LoggerProvider and its Logger per resource) and remembers per process
 * which one it is. Bounded: beyond MAX_RESOURCES, the sensor's.
 */
export class ResourceResolver<R> {
  readonly sensor: R;
  private readonly mode: ResourceMode;
  private readonly host: LogAttributes;
  private readonly make: (attributes: LogAttributes) => R;
  private readonly byKey = new Map<string, R>();
  private readonly byProcess = new WeakMap<ProcessInfo, Cached<R>>();

  constructor(options: {
    mode: ResourceMode;
    host: HostIdentity;
    version: string;
    make: (attributes: LogAttributes) => R;
  }) {
    this.mode = options.mode;
    this.make = options.make;
    this.host = hostAttributes(options.host);
    this.sensor = this.make(sensorAttributes(options.host, options.version));
  }

  get workloadOnRecord(): boolean {
    return this.mode === "sensor";
  }

  resourceOf(detection: Detection): R {
    const process = detection.event.process;
    if (this.mode === "sensor" || process === undefined) return this.sensor;
    const cached = this.byProcess.get(process);
    // A process that exec'd keeps its pid but may change env, executable and so its service.
    if (
      cached !== undefined &&
      cached.env === process.env &&
      cached.container === process.container &&
      cached.exePath === process.exePath
    ) {
      return cached.resource;
    }
    const attrs = workloadAttributes(process);
    const key = JSON.stringify(attrs);
    let resource = this.byKey.get(key);
    if (resource === undefined) {
      if (this.byKey.size >= MAX_RESOURCES) return this.sensor;
      resource = this.make({ ...attrs, ...this.host });
      this.byKey.set(key, resource);
    }
    this.byProcess.set(process, {
      env: process.env,
      container: process.container,
      exePath: process.exePath,
      resource,
    });
    return resource;
  }
}

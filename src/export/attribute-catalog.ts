/**
 * Every attribute key a detection record or its resource can carry, as
 * data: for dashboards, collector configs and their tests (which check a
 * LogQL query names only keys that exist, after Loki's `.` → `_`
 * flattening). Derived from the constants in semconv.ts by their prefix
 * (ATTR_ / RESOURCE_ATTR_ / WORKLOAD_ATTR_), the same constants the mapping
 * code uses, so the catalog cannot drift from what is emitted; a test maps a
 * fully known detection and checks both directions.
 */
import * as semconv from "./semconv.js";

export { DETECTION_EVENT_NAME, PEREGRINE_FIELD_PREFIX } from "./semconv.js";

function keysWithPrefix(prefix: string): readonly string[] {
  const keys: string[] = [];
  for (const [name, value] of Object.entries(semconv)) {
    if (name.startsWith(prefix) && typeof value === "string") keys.push(value);
  }
  return Object.freeze(keys.sort());
}

/** Container/k8s identity: on the resource by default, on the record when the resource is the sensor. */
export const WORKLOAD_ATTRIBUTE_KEYS: readonly string[] = keysWithPrefix("WORKLOAD_ATTR_");

/**
 * Keys a detection's log record can carry (besides `peregrine.field.<falco
 * name>`, one per output field). Includes the workload keys, which are on
 * the record only when the resource is the sensor.
 */
export const LOG_RECORD_ATTRIBUTE_KEYS: readonly string[] = Object.freeze(
  [...keysWithPrefix("ATTR_"), ...WORKLOAD_ATTRIBUTE_KEYS].sort(),
);

/** Keys the resource of a detection can carry (workload keys included). */
export const RESOURCE_ATTRIBUTE_KEYS: readonly string[] = Object.freeze(
  [...keysWithPrefix("RESOURCE_ATTR_"), ...WORKLOAD_ATTRIBUTE_KEYS].sort(),
);

/** Each output field becomes `OUTPUT_FIELD_ATTRIBUTE_PREFIX + falco name`, e.g. "peregrine.field.proc.name". */
export const OUTPUT_FIELD_ATTRIBUTE_PREFIX: string = semconv.PEREGRINE_FIELD_PREFIX;

/**
 * Resource attributes Loki (native OTLP, default config) turns into index
 * labels; every other attribute becomes structured metadata.
 */
const LOKI_DEFAULT_INDEX_LABELS: ReadonlySet<string> = new Set([
  "service.name",
  "service.namespace",
  "service.instance.id",
  "deployment.environment",
  "deployment.environment.name",
  "cloud.region",
  "cloud.availability_zone",
  "k8s.cluster.name",
  "k8s.namespace.name",
  "k8s.pod.name",
  "k8s.container.name",
  "container.name",
  "k8s.replicaset.name",
  "k8s.deployment.name",
  "k8s.statefulset.name",
  "k8s.daemonset.name",
  "k8s.cronjob.name",
  "k8s.job.name",
]);

/** Our resource keys that Loki indexes as stream labels by default. */
export const LOKI_INDEX_LABEL_KEYS: readonly string[] = Object.freeze(
  RESOURCE_ATTRIBUTE_KEYS.filter((key) => LOKI_DEFAULT_INDEX_LABELS.has(key)),
);

/** The name Loki gives an attribute (label or structured metadata): every non [A-Za-z0-9_] becomes "_". */
export function lokiName(attributeKey: string): string {
  return attributeKey.replace(/[^A-Za-z0-9_]/g, "_");
}

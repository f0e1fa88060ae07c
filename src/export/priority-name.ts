import type { Priority } from "../rules/priority.js";

/**
 * Priorities as Falco prints them in its JSON `priority` and its text output
 * ("Warning", "Informational"; falco_common.cpp). We use this one spelling in
 * every output of ours (OTLP SeverityText, stdout, the metrics' priority
 * label), so a detection reads the same in a terminal, in Loki and in
 * Prometheus, and Falco consumers parse our JSON unchanged.
 */
const NAMES: Readonly<Record<Priority, string>> = {
  EMERGENCY: "Emergency",
  ALERT: "Alert",
  CRITICAL: "Critical",
  ERROR: "Error",
  WARNING: "Warning",
  NOTICE: "Notice",
  INFORMATIONAL: "Informational",
  DEBUG: "Debug",
};

export function priorityName(priority: Priority): string {
  return NAMES[priority];
}

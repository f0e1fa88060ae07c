/**
 * Falco rule priorities, most severe first, with the OpenTelemetry severity
 * numbers of the syslog column of the log data model's mapping appendix.
 */
export const PRIORITIES = [
  "EMERGENCY",
  "ALERT",
  "CRITICAL",
  "ERROR",
  "WARNING",
  "NOTICE",
  "INFORMATIONAL",
  "DEBUG",
] as const;

export type Priority = (typeof PRIORITIES)[number];

const SEVERITY_NUMBER: Readonly<Record<Priority, number>> = {
  EMERGENCY: 21,
  ALERT: 19,
  CRITICAL: 18,
  ERROR: 17,
  WARNING: 13,
  NOTICE: 10,
  INFORMATIONAL: 9,
  DEBUG: 5,
};

export function severityNumber(priority: Priority): number {
  return SEVERITY_NUMBER[priority];
}

/**
 * Parses a priority as Falco accepts it: case-insensitive, with INFO as an
 * alias of INFORMATIONAL. Returns undefined for anything else.
 */
export function parsePriority(text: string): Priority | undefined {
  const upper = text.trim().toUpperCase();
  if (upper === "INFO") return "INFORMATIONAL";
  return (PRIORITIES as readonly string[]).includes(upper) ? (upper as Priority) : undefined;
}

import type { Detection, FieldValue } from "../rules/detection.js";
import { priorityName } from "./priority-name.js";
import { clockTimeNano, rfc3339Nano } from "./time.js";

/**
 * Detections as Falco prints them, so tools that read Falco's stdout
 * (falcosidekick, log shippers' Falco parsers) read ours.
 *
 * JSON: exactly Falco's keys — time, rule, priority, source, hostname,
 * output, output_fields, tags. `time` is RFC 3339 UTC with nanoseconds,
 * `priority` is Falco's spelling ("Warning"), output_fields keep their
 * types (numbers, strings, booleans, null for a field with no value). Built
 * by hand: JSON.stringify cannot write a bigint, and a uint64 field must
 * keep every digit (Falco writes it as a JSON number too).
 */
export function formatJsonLine(detection: Detection): string {
  const { rule, event } = detection;
  let fields = "";
  const values = detection.outputFields;
  for (const name in values) {
    if (fields !== "") fields += ",";
    fields += `${JSON.stringify(name)}:${jsonValue(values[name] as FieldValue)}`;
  }
  return (
    `{"time":"${rfc3339Nano(event.event.tsNs)}"` +
    `,"rule":${JSON.stringify(rule.name)}` +
    `,"priority":"${priorityName(rule.priority)}"` +
    `,"source":${JSON.stringify(rule.source)}` +
    `,"hostname":${JSON.stringify(event.hostname)}` +
    `,"output":${JSON.stringify(detection.output)}` +
    `,"output_fields":{${fields}}` +
    `,"tags":${JSON.stringify(rule.tags)}}\n`
  );
}

function jsonValue(value: FieldValue): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null"; // JSON has no NaN or Infinity
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "true" : "false";
    default:
      return "null";
  }
}

/**
 * Text, for a person at a terminal. Falco's layout — "17:42:04.123456789:
 * Warning <output>" — with the rule name in brackets after the priority
 * (ours): a reader sees which rule spoke without knowing its output by
 * heart, and can grep for it. Local time by default, like Falco; line
 * breaks inside the output are flattened so one detection stays one line.
 */
export function formatTextLine(detection: Detection, zone: "local" | "utc" = "local"): string {
  const { rule } = detection;
  const output = /[\r\n]/.test(detection.output)
    ? detection.output.replace(/\r?\n|\r/g, " ")
    : detection.output;
  return `${clockTimeNano(detection.event.event.tsNs, zone)}: ${priorityName(rule.priority)} [${rule.name}] ${output}\n`;
}

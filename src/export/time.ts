import type { HrTime } from "@opentelemetry/api";

/**
 * Time conversions for exporters. Kernel times arrive as epoch nanoseconds in
 * a bigint; every conversion here stays in integers so the nanoseconds survive
 * (a double holds epoch ns only to about a quarter of a microsecond).
 */

const NS_PER_S = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;

/** Epoch ns → OpenTelemetry HrTime [seconds, nanoseconds], exact. */
export function nsToHrTime(ns: bigint): HrTime {
  return [Number(ns / NS_PER_S), Number(ns % NS_PER_S)];
}

/** Wall clock now as epoch ns (millisecond resolution: the same clock domain as kernel event times). */
export function nowNs(): bigint {
  return BigInt(Date.now()) * NS_PER_MS;
}

function nanosFraction(ns: bigint): string {
  return String(ns % NS_PER_S).padStart(9, "0");
}

// Detections come in bursts within one second: reuse the formatted prefix.
let lastUtcSecond = -1n;
let lastUtcPrefix = "";

/** RFC 3339 in UTC with nanoseconds, as Falco writes `time`: "2026-11-28T17:42:04.123456789Z". */
export function rfc3339Nano(ns: bigint): string {
  const second = ns / NS_PER_S;
  if (second !== lastUtcSecond) {
    // toISOString gives "YYYY-MM-DDTHH:MM:SS.mmmZ"; keep the part before the dot.
    lastUtcPrefix = new Date(Number(second) * 1000).toISOString().slice(0, 19);
    lastUtcSecond = second;
  }
  return `${lastUtcPrefix}.${nanosFraction(ns)}Z`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Time of day with nanoseconds, "17:42:04.123456789", in local time or UTC. */
export function clockTimeNano(ns: bigint, zone: "local" | "utc"): string {
  const date = new Date(Number(ns / NS_PER_S) * 1000);
  const [h, m, s] =
    zone === "utc"
      ? [date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
      : [date.getHours(), date.getMinutes(), date.getSeconds()];
  return `${pad2(h)}:${pad2(m)}:${pad2(s)}.${nanosFraction(ns)}`;
}

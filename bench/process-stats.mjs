// What the live benches (kernel-overhead.mjs, agent-live.mjs) read about the
// processes they measure: CPU ticks and memory from /proc, and a metric's
// total from the agent's /metrics.
import { readFileSync } from "node:fs";

/** utime + stime of a process, in clock ticks (/proc/<pid>/stat). */
export function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** A memory line of /proc/<pid>/status (VmRSS, VmHWM …) in bytes. */
export function statusBytes(pid, key) {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

/** The sum of a metric's samples over all its label sets, from the agent's /metrics. */
export async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

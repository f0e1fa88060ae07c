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

/**
 * Waits until the agent has caught up: the kernel's sent and lost counts
 * (the loader reports them once a second) and the agent's decoded count
 * have all stood still for 1.5 s. Returns the kernel's sent count.
 */
export async function drained(url) {
  const still = 6; // polls of 250 ms
  let last = "";
  let same = 0;
  for (let i = 0; i < 240 && same < still; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = [
      await metric(url, "peregrine_kernel_events_total"),
      await metric(url, "peregrine_kernel_drops_total"),
      await metric(url, "peregrine_events_total"),
    ].join(" ");
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return metric(url, "peregrine_kernel_events_total");
}

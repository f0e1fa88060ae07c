/**
 * proc.env on a real process: LiveProcSource reads /proc/<pid>/environ of a
 * child started with a known environment. Lives here, not in test/rules,
 * because reading another process's environment is exactly what the default
 * rule "Process environment read by another program" reports, and the
 * false-positive test runs test/rules under the agent.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { EnrichedEvent } from "../../src/enrich/enriched-event.js";
import { procBootTimeNs, readProcess } from "../../src/enrich/proc-reader.js";
import { LiveProcSource } from "../../src/enrich/proc-source.js";
import type { ProcessInfo } from "../../src/enrich/process-info.js";
import { ALL_EVENT_TYPES } from "../../src/rules/event-types.js";
import { DEFAULT_FIELDS } from "../../src/rules/fields.js";
import { enriched, execEvent } from "../rules/helpers.js";

function field(name: string, arg: string | undefined, e: EnrichedEvent) {
  const bound = DEFAULT_FIELDS.bind(name, arg, { eventTypes: ALL_EVENT_TYPES });
  if (typeof bound === "string") throw new Error(bound);
  return bound.extract(e);
}

describe("proc.env (live /proc)", () => {
  it("reads a live process's environment end to end (LiveProcSource → proc.env[NAME])", async () => {
    const child = spawn("sleep", ["5"], {
      env: { PEREGRINE_ENV_TEST: "found it", PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      const pid = child.pid as number;
      const bootTimeNs = procBootTimeNs();
      // The exec may not have happened yet when 'spawn' fires: wait until /proc shows sleep.
      let info: ProcessInfo | undefined;
      for (let i = 0; i < 100 && info?.name !== "sleep"; i++) {
        info = readProcess(pid, bootTimeNs);
        if (info?.name !== "sleep") await new Promise((r) => setTimeout(r, 10));
      }
      expect(info?.name).toBe("sleep");
      const source = new LiveProcSource({ bootTimeNs, cgroup2Root: "" });
      const base = enriched(execEvent({ tgid: pid }), { process: info as ProcessInfo });
      const e: EnrichedEvent = { ...base, processes: { get: (p) => base.processes.get(p), source } };
      expect(field("proc.env", "PEREGRINE_ENV_TEST", e)).toBe("found it");
      expect(String(field("proc.env", undefined, e))).toContain("PEREGRINE_ENV_TEST=found it");
    } finally {
      child.kill();
    }
  });
});

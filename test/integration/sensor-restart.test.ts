/**
 * Live: the built agent with a one-rule file; its loader is killed with
 * SIGKILL mid-run. The agent must start a new loader (with the same kernel
 * filter), count the restart, keep its state tables and keep detecting.
 * Needs root, kernel BTF and `npm run build`; skipped with the reason otherwise.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../src/version.js";
import { parsePromText, sampleValue } from "../support/prom-text.js";
import { liveSkipReason, run } from "./live-support.js";

const MAIN_JS = join(PACKAGE_ROOT, "dist/cli/main.js");
const skipReason =
  liveSkipReason() ?? (existsSync(MAIN_JS) ? undefined : "the agent is not built: run `npm run build` first");
if (skipReason) console.warn(`test/integration/sensor-restart.test.ts skipped: ${skipReason}`);

const RULE = `
- rule: Test marker unlinked
  desc: a file named like this test's marker was unlinked
  condition: evt.type = unlinkat and evt.arg.name contains pg-restart-marker
  output: "marker unlinked (name=%evt.arg.name proc=%proc.name parent=%proc.pname pcmdline=%proc.pcmdline)"
  priority: WARNING
`;

interface Detection {
  rule: string;
  output_fields: Record<string, unknown>;
}

describe.skipIf(skipReason !== undefined)("loader restart (live)", () => {
  let agent: ChildProcess;
  let work: string;
  let stderr = "";
  let metricsUrl = "";
  const detections: Detection[] = [];

  async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; agent stderr:\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const loaderPids = (): number[] =>
    [...stderr.matchAll(/loader pid (\d+)|loader restarted \(pid (\d+)/g)].map((m) => Number(m[1] ?? m[2]));

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-restart-"));
    const rules = join(work, "marker.yaml");
    writeFileSync(rules, RULE);
    agent = spawn(
      process.execPath,
      [
        join(PACKAGE_ROOT, "bin/peregrine.js"),
        "run",
        "--rules",
        rules,
        "--output",
        "json",
        "--metrics-address",
        "127.0.0.1:0",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let pending = "";
    agent.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
        detections.push(JSON.parse(pending.slice(0, nl)) as Detection);
        pending = pending.slice(nl + 1);
      }
    });
    agent.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      const url = /metrics on (http:\/\/\S+)\/metrics/.exec(stderr);
      if (url?.[1] !== undefined) metricsUrl = url[1];
    });
    await until("the agent to be ready", () => (stderr.includes("ready") ? true : undefined), 30_000);
  }, 40_000);

  afterAll(() => {
    if (agent && agent.exitCode === null) agent.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });

  async function unlinkMarker(name: string): Promise<Detection> {
    const path = join(work, name);
    writeFileSync(path, "");
    const result = await run("/bin/sh", ["-c", `rm ${path}`]);
    expect(result.code).toBe(0);
    return until(`a detection for ${name}`, () =>
      detections.find((d) => d.output_fields["evt.arg.name"] === path),
    );
  }

  it("detects, loses its loader to SIGKILL, restarts it and detects again", async () => {
    const first = await unlinkMarker("pg-restart-marker-1");
    expect(first.output_fields).toMatchObject({ "proc.name": "rm", "proc.pname": "sh" });
    const [firstLoader] = loaderPids();
    expect(firstLoader).toBeGreaterThan(0);

    // A shell the agent saw start before the crash; it acts only after the restart.
    const survivor = join(work, "pg-restart-marker-survivor");
    writeFileSync(survivor, "");
    const late = spawn("/bin/sh", ["-c", `sleep 2; rm ${survivor}`], { stdio: "ignore" });
    const lateDone = new Promise((resolve) => late.once("close", resolve));

    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(firstLoader as number, "SIGKILL");
    const secondLoader = await until("a new loader", () => loaderPids()[1]);
    expect(secondLoader).not.toBe(firstLoader);
    expect(stderr).toContain("restarting it");

    const second = await unlinkMarker("pg-restart-marker-2");
    expect(second.output_fields).toMatchObject({ "proc.name": "rm" });
    // The process started before the crash is still known with its command line.
    const fromSurvivor = await until("the survivor's detection", () =>
      detections.find((d) => d.output_fields["evt.arg.name"] === survivor),
    );
    expect(fromSurvivor.output_fields["proc.pcmdline"]).toBe(`sh -c sleep 2; rm ${survivor}`);
    await lateDone;

    const metrics = parsePromText(await (await fetch(`${metricsUrl}/metrics`)).text());
    expect(sampleValue(metrics, "peregrine_loader_restarts_total")).toBe(1);
    // The restarted loader got the same kernel filter: openat is still filtered out.
    expect(sampleValue(metrics, "peregrine_kernel_events_filtered_total")).toBeGreaterThan(0);
    expect(agent.exitCode).toBeNull();
  }, 30_000);
});

/**
 * Live export: the built agent with a one-rule ruleset, a real OTLP/gRPC
 * receiver, a real Prometheus (Debian's package) scraping /metrics.
 * - two processes with different OTEL_SERVICE_NAME land in two resources;
 * - agent SIGKILLed while spooling (collector down) → delivered after restart;
 * - Prometheus scrapes the rule-match counter (and its exemplar); promtool
 *   check metrics passes on our exposition.
 * Needs root, kernel BTF and `npm run build`; skipped with the reason otherwise.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../src/version.js";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp-receiver.js";
import { parsePromText, sampleValue } from "../support/prom-text.js";
import { liveSkipReason } from "./live-support.js";

const MAIN_JS = join(PACKAGE_ROOT, "dist/cli/main.js");
const PROMETHEUS = "/usr/bin/prometheus";
const skipReason =
  liveSkipReason() ?? (existsSync(MAIN_JS) ? undefined : "the agent is not built: run `npm run build` first");
if (skipReason) console.warn(`test/integration/export.test.ts skipped: ${skipReason}`);

const RULE = "Export test marker opened";

interface Agent {
  readonly child: ChildProcess;
  readonly metricsUrl: string;
  stderr: () => string;
}

async function startAgent(args: string[]): Promise<Agent> {
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, "bin/peregrine.js"), "run", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  let metricsUrl = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent not ready in 60 s:\n${stderr}`)), 60_000);
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      const url = /metrics on (http:\/\/\S+)\/metrics/.exec(stderr);
      if (url?.[1] !== undefined) metricsUrl = url[1];
      if (stderr.includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code} before ready:\n${stderr}`));
    });
  });
  return { child, metricsUrl, stderr: () => stderr };
}

function stopAgent(agent: Agent | undefined, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (agent === undefined || agent.child.exitCode !== null || agent.child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    agent.child.once("exit", () => resolve());
    agent.child.kill(signal);
  });
}

/**
 * Opens the marker file with this environment: one detection of RULE. It
 * waits a little first: the agent reads a new program's environment from
 * /proc when it handles the exec, which a process as quick as cat outlives.
 */
function touchMarker(marker: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const script = 'select(undef, undef, undef, 0.4); open(my $f, "<", $ARGV[0]) or die "open: $!"';
    const child = spawn("/usr/bin/perl", ["-e", script, marker], {
      stdio: "ignore",
      env: { PATH: "/usr/bin:/bin", LC_ALL: "C", ...env },
    });
    child.once("error", reject);
    child.once("close", () => resolve(child.pid ?? -1));
  });
}

/** A port free right now (bound and released), for Prometheus's web listener. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(skipReason !== undefined)("export, live", () => {
  let work: string;
  let marker: string;
  let rulesFile: string;
  const agents: Agent[] = [];
  const receivers: OtlpReceiver[] = [];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "pg-export-"));
    marker = join(work, "marker.txt");
    writeFileSync(marker, "x\n");
    rulesFile = join(work, "rules.yaml");
    writeFileSync(
      rulesFile,
      `- rule: ${RULE}
  desc: A test program opened the export test's marker file.
  condition: evt.type in (open, openat, openat2) and fd.name = ${marker}
  output: marker opened (file=%fd.name process=%proc.name cmdline=%proc.cmdline pid=%proc.pid)
  priority: NOTICE
  tags: [test, T1005]
`,
    );
  });

  afterAll(async () => {
    for (const a of agents) await stopAgent(a, "SIGKILL");
    for (const r of receivers) await r.close();
    rmSync(work, { recursive: true, force: true });
  });

  const baseArgs = (endpoint: string, spoolDir: string) => [
    "-r",
    rulesFile,
    "--output",
    "none",
    "--otlp-endpoint",
    endpoint,
    "--metrics-address",
    "127.0.0.1:0",
    "-o",
    `otlp.spool.dir=${spoolDir}`,
    "-o",
    "otlp.schedule_delay_ms=50",
  ];

  it("puts two processes with different OTEL_SERVICE_NAME in two resources", async () => {
    const receiver = await startOtlpReceiver();
    receivers.push(receiver);
    const agent = await startAgent(baseArgs(receiver.url, join(work, "spool-a")));
    agents.push(agent);
    const checkout = await touchMarker(marker, { OTEL_SERVICE_NAME: "checkout" });
    const payments = await touchMarker(marker, {
      OTEL_RESOURCE_ATTRIBUTES: "service.name=payments,service.namespace=shop",
    });
    const byPid = (pid: number) => (r: { attributes: Record<string, unknown> }) =>
      r.attributes["process.pid"] === BigInt(pid);
    const a = await receiver.waitFor(byPid(checkout), 15_000);
    const b = await receiver.waitFor(byPid(payments), 15_000);
    expect(a.resource["service.name"]).toBe("checkout");
    expect(b.resource).toMatchObject({ "service.name": "payments", "service.namespace": "shop" });
    for (const r of [a, b]) {
      expect(r.resource["host.name"]).toBeTypeOf("string");
      expect(r.resource["os.type"]).toBe("linux");
      expect(r.scope.name).toBe("peregrine");
      expect(r.eventName).toBe("peregrine.detection");
      expect(r.severityNumber).toBe(10);
      expect(r.severityText).toBe("Notice");
      expect(r.attributes["security_rule.name"]).toBe(RULE);
      expect(r.attributes["file.path"]).toBe(marker);
      expect(r.attributes["security_rule.reference"]).toBe("https://attack.mitre.org/techniques/T1005/");
    }
    expect(a.timeUnixNano).toBeLessThanOrEqual(a.observedTimeUnixNano);

    // Prometheus (the real one) scrapes the live agent: the rule's counter, with the detection id as exemplar.
    const promDir = join(work, "prometheus");
    const promPort = await freePort();
    const target = agent.metricsUrl.replace("http://", "");
    writeFileSync(
      join(work, "prometheus.yml"),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: peregrine\n    static_configs:\n      - targets: ["${target}"]\n`,
    );
    const prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(work, "prometheus.yml")}`,
        `--storage.tsdb.path=${promDir}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        "--enable-feature=exemplar-storage",
      ],
      { stdio: "ignore" },
    );
    try {
      const api = `http://127.0.0.1:${promPort}/api/v1`;
      const query = encodeURIComponent(`peregrine_rule_matches_total{rule="${RULE}"}`);
      const value = await until(
        async () => {
          try {
            const res = (await (await fetch(`${api}/query?query=${query}`)).json()) as {
              data: { result: { metric: Record<string, string>; value: [number, string] }[] };
            };
            const v = res.data.result[0];
            return v !== undefined && Number(v.value[1]) >= 2 ? v : undefined;
          } catch {
            return undefined;
          }
        },
        30_000,
        "Prometheus to scrape the rule counter",
      );
      expect(value.metric).toMatchObject({
        rule: RULE,
        priority: "Notice",
        source: "syscall",
        job: "peregrine",
      });
      const ids = [a, b].map((r) => r.attributes["peregrine.detection.id"]);
      const exemplar = await until(
        async () => {
          const now = Date.now() / 1000;
          const res = (await (
            await fetch(`${api}/query_exemplars?query=${query}&start=${now - 600}&end=${now + 60}`)
          ).json()) as { data: { exemplars: { labels: Record<string, string> }[] }[] };
          return res.data[0]?.exemplars[0];
        },
        30_000,
        "an exemplar",
      );
      expect(ids).toContain(exemplar.labels.detection_id);
    } finally {
      prometheus.kill("SIGKILL");
    }

    // promtool agrees with our exposition, in both formats.
    const text = await (await fetch(`${agent.metricsUrl}/metrics`)).text();
    execFileSync("promtool", ["check", "metrics"], { input: text });
    expect(
      sampleValue(parsePromText(text), "peregrine_export_records_total", {
        exporter: "otlp",
        result: "sent",
      }),
    ).toBeGreaterThanOrEqual(2);
    const om = await fetch(`${agent.metricsUrl}/metrics`, {
      headers: { accept: "application/openmetrics-text;version=1.0.0,text/plain;q=0.5" },
    });
    expect(om.headers.get("content-type")).toContain("application/openmetrics-text");
    expect(await om.text()).toMatch(
      /peregrine_rule_matches_total\{[^}]*\} \d+ # \{detection_id="[0-9a-f]{22}"\}/,
    );
    await stopAgent(agent);
  }, 120_000);

  it("delivers what it spooled while the collector was down, after a SIGKILL and a restart", async () => {
    const down = await startOtlpReceiver();
    const port = down.port;
    await down.close();
    const spoolDir = join(work, "spool-kill");
    const endpoint = `http://127.0.0.1:${port}`;
    const first = await startAgent(baseArgs(endpoint, spoolDir));
    agents.push(first);
    const pids: number[] = [];
    for (let i = 0; i < 10; i++) pids.push(await touchMarker(marker, { OTEL_SERVICE_NAME: `svc-${i}` }));
    // Wait until all ten are on disk (the spool gauge), then kill -9.
    await until(
      async () => {
        const text = await (await fetch(`${first.metricsUrl}/metrics`)).text();
        const n = sampleValue(parsePromText(text), "peregrine_export_spool_records", { exporter: "otlp" });
        return n >= 10 ? n : undefined;
      },
      20_000,
      "ten spooled records",
    );
    await stopAgent(first, "SIGKILL");

    const receiver = await startOtlpReceiver({ port });
    receivers.push(receiver);
    const second = await startAgent(baseArgs(endpoint, spoolDir));
    agents.push(second);
    await receiver.waitForCount(10, 20_000);
    const got = receiver.records.map((r) => Number(r.attributes["process.pid"]));
    expect(got.slice(0, 10)).toEqual(pids); // in order
    expect(receiver.records.slice(0, 10).map((r) => r.resource["service.name"])).toEqual(
      pids.map((_, i) => `svc-${i}`),
    );
    await stopAgent(second);
  }, 120_000);
});

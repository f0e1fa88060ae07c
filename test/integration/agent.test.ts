/**
 * Live, end to end: the built agent (`bin/peregrine.js run`) with the default
 * rules, an in-test OTLP/gRPC receiver decoding the real wire bytes, and
 * /metrics scraped over HTTP. Each default rule is fired by a real action
 * and must stay silent for a benign look-alike. Needs root, kernel BTF and
 * `npm run build`; skipped with the reason otherwise.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../src/version.js";
import { type OtlpReceiver, type ReceivedLog, startOtlpReceiver } from "../support/otlp-receiver.js";
import { parsePromText, sampleValue } from "../support/prom-text.js";
import { liveSkipReason, run } from "./live-support.js";

const MAIN_JS = join(PACKAGE_ROOT, "dist/cli/main.js");
const skipReason =
  liveSkipReason() ?? (existsSync(MAIN_JS) ? undefined : "the agent is not built: run `npm run build` first");
if (skipReason) console.warn(`test/integration/agent.test.ts skipped: ${skipReason}`);

interface FalcoJson {
  time: string;
  rule: string;
  priority: string;
  source: string;
  hostname: string;
  output: string;
  output_fields: Record<string, unknown>;
  tags: string[];
}

const CREDENTIAL_RULE = "Credential file read by unexpected program";
const SYSTEM_WRITE_RULE = "Write below system binary directory";
const SERVER_SHELL_RULE = "Shell spawned by a server process";
const CONNECT_RULE = "Outbound connection by a shell or text utility";

describe.skipIf(skipReason !== undefined)("peregrine run (live, default rules)", () => {
  let agent: ChildProcess;
  let receiver: OtlpReceiver;
  let listener: Server;
  let listenPort: number;
  let metricsUrl: string;
  let work: string;
  const detections: FalcoJson[] = [];
  let stderr = "";
  const waiters: { match: (d: FalcoJson) => boolean; resolve: (d: FalcoJson) => void }[] = [];

  function waitForDetection(match: (d: FalcoJson) => boolean, timeoutMs = 10_000): Promise<FalcoJson> {
    const seen = detections.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching detection in ${timeoutMs} ms; stderr:\n${stderr}`)),
        timeoutMs,
      );
      waiters.push({
        match,
        resolve: (d) => {
          clearTimeout(timer);
          resolve(d);
        },
      });
    });
  }

  const byPid = (rule: string, pid: number) => (d: FalcoJson) =>
    d.rule === rule && d.output_fields["proc.pid"] === pid;
  const otlpByPid = (rule: string, pid: number) => (r: ReceivedLog) =>
    r.attributes["security_rule.name"] === rule && r.attributes["process.pid"] === BigInt(pid);

  async function scrape(): Promise<ReturnType<typeof parsePromText>> {
    const response = await fetch(`${metricsUrl}/metrics`);
    expect(response.status).toBe(200);
    return parsePromText(await response.text());
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-agent-"));
    receiver = await startOtlpReceiver();
    listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    listenPort = (listener.address() as { port: number }).port;

    agent = spawn(
      process.execPath,
      [
        join(PACKAGE_ROOT, "bin/peregrine.js"),
        "run",
        "--output",
        "json",
        "--otlp-endpoint",
        receiver.url,
        // No spool: records a killed agent of another test left in the default
        // spool would reach this receiver and break the exact counts below.
        "-o",
        "otlp.spool.dir=",
        "--metrics-address",
        "127.0.0.1:0",
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, OTEL_BSP_SCHEDULE_DELAY: "100" } },
    );
    let pending = "";
    agent.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      let nl = pending.indexOf("\n");
      while (nl >= 0) {
        const detection = JSON.parse(pending.slice(0, nl)) as FalcoJson;
        pending = pending.slice(nl + 1);
        detections.push(detection);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const waiter = waiters[i];
          if (waiter?.match(detection)) {
            waiters.splice(i, 1);
            waiter.resolve(detection);
          }
        }
        nl = pending.indexOf("\n");
      }
    });
    const ready = new Promise<void>((resolve, reject) => {
      agent.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
        const url = /metrics on (http:\/\/\S+)\/metrics/.exec(stderr);
        if (url?.[1] !== undefined) metricsUrl = url[1];
        if (stderr.includes("ready")) resolve();
      });
      agent.once("exit", (code) => reject(new Error(`agent exited with ${code} before ready:\n${stderr}`)));
    });
    await ready;
  }, 60_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill("SIGKILL");
    }
    await receiver?.close();
    listener?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("serves /healthz as ready once attached", async () => {
    const response = await fetch(`${metricsUrl}/healthz`);
    expect(response.status).toBe(200);
  });

  it("reports a credential file read by a copy of cat, on stdout and over OTLP, with the right process", async () => {
    const cat = join(work, "cat");
    copyFileSync("/bin/cat", cat);
    const result = await run(cat, ["/etc/shadow"]);
    expect(result.code).toBe(0);

    const detection = await waitForDetection(byPid(CREDENTIAL_RULE, result.pid));
    expect(detection).toMatchObject({
      priority: "Warning",
      source: "syscall",
      tags: expect.arrayContaining(["T1003.008"]),
      output_fields: {
        "fd.name": "/etc/shadow",
        "proc.name": "cat",
        "proc.exepath": cat,
        "proc.cmdline": "cat /etc/shadow",
        "proc.pid": result.pid,
        "user.name": "root",
        "user.uid": 0,
        "evt.arg.flags": expect.stringContaining("O_RDONLY"),
      },
    });
    expect(Object.keys(detection).sort()).toEqual([
      "hostname",
      "output",
      "output_fields",
      "priority",
      "rule",
      "source",
      "tags",
      "time",
    ]);

    const record = await receiver.waitFor(otlpByPid(CREDENTIAL_RULE, result.pid), 10_000);
    expect(record.eventName).toBe("peregrine.detection");
    expect(record.severityNumber).toBe(13);
    expect(record.severityText).toBe("Warning");
    expect(record.body).toBe(detection.output);
    expect(record.attributes).toMatchObject({
      "security_rule.name": CREDENTIAL_RULE,
      "security_rule.ruleset.name": "10-credential-access.yaml",
      "process.pid": BigInt(result.pid),
      "process.parent_pid": BigInt(process.pid),
      "process.executable.path": cat,
      "process.command_line": `${cat} /etc/shadow`,
      "process.command_args": [cat, "/etc/shadow"],
      "user.name": "root",
      "file.path": "/etc/shadow",
    });
    // The kernel's event time, in the epoch, to the nanosecond; before it was received.
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    expect(record.timeUnixNano).toBeGreaterThan(nowNs - 60_000_000_000n);
    expect(record.timeUnixNano).toBeLessThanOrEqual(record.observedTimeUnixNano);
    expect(new Date(detection.time).getTime()).toBe(Number(record.timeUnixNano / 1_000_000n));
  });

  it("stays silent for benign look-alikes of the credential rule", async () => {
    const cat = join(work, "cat");
    const passwd = await run(cat, ["/etc/passwd"]);
    const chkpwd = join(work, "unix_chkpwd");
    copyFileSync("/bin/cat", chkpwd);
    const knownReader = await run(chkpwd, ["/etc/shadow"]);
    // A marker that does fire: once it arrives, the events before it were evaluated.
    const marker = await run(cat, ["/etc/gshadow"]);
    await waitForDetection(byPid(CREDENTIAL_RULE, marker.pid));
    expect(detections.filter((d) => d.output_fields["proc.pid"] === passwd.pid)).toEqual([]);
    expect(detections.filter((d) => d.output_fields["proc.pid"] === knownReader.pid)).toEqual([]);
  });

  it("reports a write below a system binary directory, not one below /tmp", async () => {
    const target = `/usr/local/bin/peregrine-test-${process.pid}`;
    const benign = await run("/bin/sh", ["-c", `echo x > ${join(work, "harmless")}`]);
    const result = await run("/bin/sh", ["-c", `echo x > ${target}`]);
    try {
      const detection = await waitForDetection(byPid(SYSTEM_WRITE_RULE, result.pid));
      expect(detection.priority).toBe("Error");
      expect(detection.output_fields).toMatchObject({ "fd.name": target, "proc.name": "sh" });
      const record = await receiver.waitFor(otlpByPid(SYSTEM_WRITE_RULE, result.pid), 10_000);
      expect(record.severityNumber).toBe(17);
      expect(record.attributes["file.path"]).toBe(target);
      expect(detections.filter((d) => d.output_fields["proc.pid"] === benign.pid)).toEqual([]);
    } finally {
      unlinkSync(target);
    }
  });

  it("reports a shell started by a process named like a web server, not by another parent", async () => {
    // The kernel names a process after the file it executed: a link called nginx to perl
    // is a process named nginx that forks and executes a shell.
    const nginx = join(work, "nginx");
    symlinkSync("/usr/bin/perl", nginx);
    const app = join(work, "myapp");
    symlinkSync("/usr/bin/perl", app);
    const benignParent = await run(app, ["-e", 'system("/bin/sh", "-c", "exit 0")']);
    const benignChild = await run(nginx, ["-e", 'system("/bin/true", "x")']);
    const result = await run(nginx, ["-e", 'system("/bin/sh", "-c", "exit 0")']);
    expect(result.code).toBe(0);

    const detection = await waitForDetection(
      (d) => d.rule === SERVER_SHELL_RULE && d.output_fields["proc.pname"] === "nginx",
    );
    expect(detection.priority).toBe("Critical");
    expect(detection.output_fields).toMatchObject({
      "proc.name": "sh",
      "proc.cmdline": "sh -c exit 0",
      "proc.pcmdline": 'nginx -e system("/bin/sh", "-c", "exit 0")',
    });
    const shellPid = detection.output_fields["proc.pid"] as number;
    const record = await receiver.waitFor(otlpByPid(SERVER_SHELL_RULE, shellPid), 10_000);
    expect(record.severityNumber).toBe(18);
    expect(record.attributes["process.parent_pid"]).toBe(BigInt(result.pid));
    const spurious = detections.filter(
      (d) =>
        d.rule === SERVER_SHELL_RULE &&
        (d.output_fields["proc.pname"] === "myapp" || d.output_fields["proc.name"] === "true"),
    );
    expect(spurious).toEqual([]);
    expect(benignParent.code).toBe(0);
    expect(benignChild.code).toBe(0);
  });

  it("reports a connect from bash's /dev/tcp, not one from node", async () => {
    const benign = await run(process.execPath, [
      "-e",
      `require("net").connect(${listenPort}, "127.0.0.1").on("error", () => {}).on("close", () => process.exit(0))`,
    ]);
    const result = await run("/bin/bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${listenPort}`]);
    const detection = await waitForDetection(byPid(CONNECT_RULE, result.pid));
    expect(detection.output_fields).toMatchObject({
      "fd.sip": "127.0.0.1",
      "fd.sport": listenPort,
      "fd.l4proto": "tcp",
      "proc.name": "bash",
    });
    const record = await receiver.waitFor(otlpByPid(CONNECT_RULE, result.pid), 10_000);
    expect(record.attributes).toMatchObject({
      "network.transport": "tcp",
      "network.type": "ipv4",
      "server.address": "127.0.0.1",
      "server.port": BigInt(listenPort),
    });
    expect(detections.filter((d) => d.output_fields["proc.pid"] === benign.pid)).toEqual([]);
  });

  it("counts rule hits, events by type and kernel drops on /metrics", async () => {
    // Stats records come every second: wait for one after the actions above.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const metrics = await scrape();
    const hits = (rule: string, priority: string) =>
      sampleValue(metrics, "peregrine_rule_matches_total", { rule, priority, source: "syscall" });
    const ours = (rule: string) => detections.filter((d) => d.rule === rule).length;
    expect(hits(CREDENTIAL_RULE, "Warning")).toBe(ours(CREDENTIAL_RULE));
    expect(hits(CREDENTIAL_RULE, "Warning")).toBeGreaterThanOrEqual(2);
    expect(hits(SYSTEM_WRITE_RULE, "Error")).toBe(ours(SYSTEM_WRITE_RULE));
    expect(hits(SERVER_SHELL_RULE, "Critical")).toBe(ours(SERVER_SHELL_RULE));
    expect(hits(CONNECT_RULE, "Warning")).toBe(ours(CONNECT_RULE));
    expect(sampleValue(metrics, "peregrine_events_total", { type: "execve" })).toBeGreaterThanOrEqual(8);
    expect(sampleValue(metrics, "peregrine_events_total", { type: "connect" })).toBeGreaterThanOrEqual(2);
    expect(sampleValue(metrics, "peregrine_kernel_drops_total", { reason: "ringbuf_full" })).toBe(0);
    expect(sampleValue(metrics, "peregrine_kernel_events_total")).toBeGreaterThan(0);
    expect(sampleValue(metrics, "peregrine_export_records_total", { exporter: "otlp", result: "sent" })).toBe(
      receiver.records.length,
    );
  });

  it("stops cleanly on SIGTERM: exit 0, loader gone, OTLP flushed", async () => {
    const exited = new Promise<number | null>((resolve) => agent.once("exit", (code) => resolve(code)));
    agent.kill("SIGTERM");
    expect(await exited).toBe(0);
    const loaderPid = Number(/loader pid (\d+)/.exec(stderr)?.[1]);
    expect(() => process.kill(loaderPid, 0)).toThrow();
    expect(stderr).toMatch(/stopped after \d+ events and \d+ detections/);
    expect(receiver.records.length).toBe(detections.length);
  });
});

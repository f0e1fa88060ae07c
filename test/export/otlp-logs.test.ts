import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HOST_CONTAINER } from "../../src/enrich/process-info.js";
import { retryDelayFromStatusDetails, type TransportOptions } from "../../src/export/otlp-exporter.js";
import { createOtlpLogSink, type OtlpLogSink, type OtlpLogSinkOptions } from "../../src/export/otlp-logs.js";
import { uuidV5 } from "../../src/export/rule-identity.js";
import { REDACTED, Sanitizer } from "../../src/export/sanitize.js";
import { SpoolLockedError } from "../../src/export/spool.js";
import type { HostIdentity } from "../../src/export/workload-resource.js";
import {
  connectEvent,
  FIXTURE_TS_NS,
  makeDetection,
  makeProcess,
  makeRule,
  openEvent,
} from "../support/detection-fixtures.js";
import {
  type OtlpReceiver,
  startOtlpHttpReceiver,
  startOtlpReceiver,
  statusWithRetryInfo,
} from "../support/otlp-receiver.js";
import { type RecordingCounters, recordingCounters } from "../support/recording-counters.js";

const OBSERVED_NS = 1_795_887_725_000_000_001n;
const HOST: HostIdentity = {
  name: "sensor-host",
  id: "abc123",
  arch: "amd64",
  osType: "linux",
  nodeName: "",
};
const FAST_BACKOFF = { initialMs: 30, maxMs: 100 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function receiver(options: Parameters<typeof startOtlpReceiver>[0] = {}): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

function grpcTo(endpoint: string, overrides: Partial<TransportOptions> = {}): TransportOptions {
  return {
    endpoint,
    protocol: "grpc",
    headers: {},
    compression: "none",
    timeoutMillis: 2000,
    certificateFile: "",
    clientKeyFile: "",
    clientCertificateFile: "",
    insecure: false,
    ...overrides,
  };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pg-spool-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sink(
  endpoint: string,
  overrides: Partial<OtlpLogSinkOptions> = {},
): { sink: OtlpLogSink; counters: RecordingCounters } {
  const counters = recordingCounters();
  const s = createOtlpLogSink({
    transport: grpcTo(endpoint),
    version: "0.1.0",
    host: HOST,
    counters,
    scheduledDelayMillis: 10,
    backoff: FAST_BACKOFF,
    now: () => OBSERVED_NS,
    ...overrides,
  });
  cleanups.push(() => s.shutdown());
  return { sink: s, counters };
}

/** A port nothing listens on: bind a receiver, note its port, close it. */
async function deadPort(): Promise<number> {
  const r = await startOtlpReceiver();
  await r.close();
  return r.port;
}

const until = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("OTLP log sink over a real gRPC receiver", () => {
  it("turns one detection into exactly one record with the exact fields", async () => {
    const r = await receiver();
    const { sink: s, counters } = sink(r.url, { resource: "sensor" });
    s.emit(
      makeDetection({
        outputFields: { "user.name": "alice", "proc.pid": 4242, "evt.res": null, "fd.num": 3n },
      }),
    );
    await s.forceFlush();
    await r.waitForCount(1);
    expect(r.records).toHaveLength(1);
    const [log] = r.records;
    const {
      "security_rule.uuid": uuid,
      "security_rule.version": version,
      "peregrine.detection.id": id,
      ...rest
    } = log?.attributes ?? {};
    expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(version).toMatch(/^[0-9a-f]{12}$/);
    expect(id).toMatch(/^[0-9a-f]{22}$/);
    expect({ ...log, attributes: rest }).toEqual({
      resource: {
        "service.name": "peregrine",
        "service.version": "0.1.0",
        "host.name": "sensor-host",
        "host.id": "abc123",
        "host.arch": "amd64",
        "os.type": "linux",
      },
      scope: { name: "peregrine", version: "0.1.0" },
      body: "Sensitive file opened for reading by non-trusted program (user=alice command=cat /etc/shadow file=/etc/shadow)",
      eventName: "peregrine.detection",
      severityNumber: 13,
      severityText: "Warning",
      timeUnixNano: FIXTURE_TS_NS, // nanoseconds intact
      observedTimeUnixNano: OBSERVED_NS,
      droppedAttributesCount: 0,
      attributes: {
        "security_rule.name": "Read sensitive file untrusted",
        "security_rule.description": "An attempt to read a sensitive file by a program not trusted to",
        "security_rule.ruleset.name": "peregrine_rules.yaml",
        "security_rule.category": "mitre_credential_access",
        "security_rule.reference": "https://attack.mitre.org/techniques/T1555/",
        "peregrine.rule.tags": ["maturity_stable", "host", "filesystem", "mitre_credential_access", "T1555"],
        "peregrine.rule.source": "syscall",
        "peregrine.event.type": "openat",
        "process.pid": 4242n,
        "thread.id": 4242n,
        "process.parent_pid": 4200n,
        "process.executable.path": "/usr/bin/cat",
        "process.executable.name": "cat",
        "process.args_count": 2n,
        "process.command_line": "cat /etc/shadow",
        "process.command_args": ["cat", "/etc/shadow"],
        "process.working_directory": "/home/alice",
        "process.creation.time": "2026-11-28T17:42:04.118456789Z",
        "process.interactive": false,
        "process.user.id": 1000n,
        "process.user.name": "alice",
        "process.real_user.id": 1000n,
        "user.id": "1000",
        "user.name": "alice",
        "file.path": "/etc/shadow",
        "file.name": "shadow",
        "file.directory": "/etc",
        "peregrine.field.user.name": "alice",
        "peregrine.field.proc.pid": 4242n,
        "peregrine.field.evt.res": null,
        "peregrine.field.fd.num": 3n,
      },
    });
    expect(counters.totals).toEqual({ sent: 1, failed: 0, spooled: 0, dropped: 0 });
    expect(counters.readQueueLength()).toBe(0);
  });

  it("gives the same rule the same uuid in every run, and each detection its own id", async () => {
    const r = await receiver();
    const { sink: s } = sink(r.url);
    s.emit(makeDetection());
    s.emit(makeDetection({ rule: makeRule() })); // an equal rule loaded again
    await s.forceFlush();
    await r.waitForCount(2);
    const [a, b] = r.records;
    expect(a?.attributes["security_rule.uuid"]).toBe(b?.attributes["security_rule.uuid"]);
    // UUIDv5 of "<ruleset>\n<rule>" in our namespace: the same on every host and run.
    expect(a?.attributes["security_rule.uuid"]).toBe(
      uuidV5("peregrine_rules.yaml\nRead sensitive file untrusted"),
    );
    // The RFC 9562 test vector, so uuidV5 itself is right.
    expect(uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
    expect(a?.attributes["peregrine.detection.id"]).not.toBe(b?.attributes["peregrine.detection.id"]);
  });

  it("maps a connect's destination to server.*, its source to client.*", async () => {
    const r = await receiver();
    const { sink: s } = sink(r.url);
    s.emit(
      makeDetection({
        event: connectEvent({
          family: 10,
          daddr: "2001:db8::7",
          dport: 8443,
          saddr: "",
          protocol: 0,
          sockType: 1,
        }),
        rule: makeRule({ name: "Outbound connection", priority: "NOTICE", tags: [] }),
        outputFields: {},
      }),
    );
    await s.forceFlush();
    const log = await r.waitFor(() => true);
    expect(log.severityNumber).toBe(10);
    expect(log.severityText).toBe("Notice");
    expect(log.attributes).toMatchObject({
      "network.transport": "tcp",
      "network.type": "ipv6",
      "server.address": "2001:db8::7",
      "server.port": 8443n,
      "network.peer.address": "2001:db8::7",
      "network.peer.port": 8443n,
    });
    expect(log.attributes).not.toHaveProperty("client.address");
    expect(log.attributes).not.toHaveProperty("security_rule.category");
    expect(log.attributes).not.toHaveProperty("file.path");
  });

  it("resolves a relative open against the process's cwd", async () => {
    const r = await receiver();
    const { sink: s } = sink(r.url);
    s.emit(
      makeDetection({
        event: openEvent({ path: "../bob/.ssh/id_rsa" }),
        process: makeProcess({ cwd: "/home/alice" }),
      }),
    );
    await s.forceFlush();
    const log = await r.waitFor(() => true);
    expect(log.attributes).toMatchObject({
      "file.path": "/home/bob/.ssh/id_rsa",
      "file.name": "id_rsa",
      "file.directory": "/home/bob/.ssh",
    });
  });

  it("puts each workload in its own resource, named by the process's OTEL_SERVICE_NAME, k8s identity, container or executable", async () => {
    const r = await receiver();
    const { sink: s } = sink(r.url);
    const checkout = makeProcess({
      pid: 10,
      env: new Map([
        ["OTEL_SERVICE_NAME", "checkout"],
        ["OTEL_RESOURCE_ATTRIBUTES", "service.namespace=shop,deployment.environment.name=prod,team=x"],
      ]),
    });
    const payments = makeProcess({
      pid: 11,
      env: new Map([["OTEL_RESOURCE_ATTRIBUTES", "service.name=payments"]]),
    });
    const pod = makeProcess({
      pid: 12,
      container: {
        id: "0123456789ab",
        fullId: "0123456789ab".repeat(5).slice(0, 64),
        runtime: "containerd",
        name: "web",
        image: "nginx:1.27",
        labels: new Map(),
        k8s: {
          podUid: "uid-1",
          podName: "frontend-7d9f8b6c5-x2x9z",
          namespace: "prod",
          containerName: "web",
          podLabels: new Map([["pod-template-hash", "7d9f8b6c5"]]),
        },
      },
    });
    const plain = makeProcess({ pid: 13, container: HOST_CONTAINER, exePath: "/usr/sbin/sshd" });
    for (const p of [checkout, payments, pod, plain]) s.emit(makeDetection({ process: p }));
    await s.forceFlush();
    await r.waitForCount(4);
    expect(r.requests).toBe(1);
    const host = {
      "host.name": "sensor-host",
      "host.id": "abc123",
      "host.arch": "amd64",
      "os.type": "linux",
    };
    expect(r.records.map((l) => l.resource)).toEqual([
      {
        "service.name": "checkout",
        "service.namespace": "shop",
        "deployment.environment.name": "prod",
        ...host,
      },
      { "service.name": "payments", ...host },
      {
        "service.name": "frontend",
        "service.namespace": "prod",
        "container.id": "0123456789ab".repeat(5).slice(0, 64),
        "container.name": "web",
        "container.image.name": "nginx:1.27",
        "container.runtime.name": "containerd",
        "k8s.namespace.name": "prod",
        "k8s.pod.name": "frontend-7d9f8b6c5-x2x9z",
        "k8s.pod.uid": "uid-1",
        "k8s.container.name": "web",
        ...host,
      },
      { "service.name": "sshd", ...host },
    ]);
    expect(r.records.every((l) => l.scope.name === "peregrine" && l.scope.version === "0.1.0")).toBe(true);
    // Workload identity is on the resource, not repeated on the record.
    expect(r.records[2]?.attributes).not.toHaveProperty("k8s.pod.name");
  });

  it("sanitizes secrets in the body, the command line and output fields", async () => {
    const r = await receiver();
    const { sink: s } = sink(r.url, { sanitizer: new Sanitizer() });
    s.emit(
      makeDetection({
        process: makeProcess({
          name: "mysql",
          exePath: "/usr/bin/mysql",
          argv: ["mysql", "-uroot", "-phunter2"],
        }),
        output: "mysql started (cmdline=mysql -uroot -phunter2)",
        outputFields: { "proc.cmdline": "mysql -uroot -phunter2", "proc.env": "HOME=/root DB_PASSWORD=x" },
      }),
    );
    await s.forceFlush();
    const log = await r.waitFor(() => true);
    const text = JSON.stringify(log, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    expect(text).not.toContain("hunter2");
    expect(log.body).toBe(`mysql started (cmdline=mysql -uroot -p${REDACTED})`);
    expect(log.attributes["process.command_args"]).toEqual(["mysql", "-uroot", `-p${REDACTED}`]);
    expect(log.attributes["peregrine.field.proc.env"]).toBe(`HOME=/root DB_PASSWORD=${REDACTED}`);
  });

  it("re-reads a process that changed in place (exec, chdir) instead of reusing its encoded attributes", async () => {
    const r = await receiver();
    const { sink: s } = sink(r.url);
    const p = makeProcess({ argv: ["sh", "-c", "x"], exePath: "/bin/sh", cwd: "/a" });
    s.emit(makeDetection({ process: p }));
    s.emit(makeDetection({ process: p }));
    Object.assign(p, { argv: ["cat", "/etc/shadow"], exePath: "/usr/bin/cat", cwd: "/b" });
    s.emit(makeDetection({ process: p }));
    await r.waitForCount(3);
    expect(
      r.records.map((l) => [l.attributes["process.command_line"], l.attributes["process.working_directory"]]),
    ).toEqual([
      ["sh -c x", "/a"],
      ["sh -c x", "/a"],
      ["cat /etc/shadow", "/b"],
    ]);
    expect(r.records[2]?.attributes["process.executable.path"]).toBe("/usr/bin/cat");
  });

  it("retries a receiver that fails the first requests with UNAVAILABLE, and delivers", async () => {
    const r = await receiver({ failFirst: 2 });
    const { sink: s, counters } = sink(r.url);
    s.emit(makeDetection());
    await r.waitForCount(1);
    expect(r.requests).toBe(3);
    await until(() => counters.totals.sent === 1);
    expect(counters.totals).toEqual({ sent: 1, failed: 0, spooled: 0, dropped: 0 });
  });

  it("honours the server's RetryInfo on RESOURCE_EXHAUSTED (retryable only with it)", async () => {
    const r = await receiver({ failFirst: 1, failWith: 8, retryInfoMs: 1200 });
    const { sink: s, counters } = sink(r.url);
    s.emit(makeDetection());
    await r.waitForCount(1, 5000);
    const [first, second] = r.times ?? [];
    expect((second as number) - (first as number)).toBeGreaterThanOrEqual(1100); // not the 30 ms backoff
    await until(() => counters.totals.sent === 1);
    expect(retryDelayFromStatusDetails(statusWithRetryInfo(8, "x", 2500))).toBe(2500);
  });

  it("does not retry an error OTLP calls permanent, and counts it failed", async () => {
    const r = await receiver({ failFirst: 100, failWith: 3 /* INVALID_ARGUMENT */ });
    const { sink: s, counters } = sink(r.url);
    s.emit(makeDetection());
    await until(() => counters.totals.failed === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(r.requests).toBe(1);
  });

  for (const exportWorkers of [undefined, 0]) {
    it(`counts the records a collector rejects in a partial success as failed, the rest sent (${exportWorkers === 0 ? "in this thread" : "export workers"})`, async () => {
      const r = await receiver({ partialSuccess: { rejected: 2, message: "timestamp too old" } });
      const errors: string[] = [];
      const { sink: s, counters } = sink(r.url, {
        maxExportBatchSize: 5,
        maxConcurrentExports: 1,
        onError: (m) => errors.push(m),
        ...(exportWorkers !== undefined && { exportWorkers }),
      });
      for (let i = 0; i < 10; i++) s.emit(makeDetection({ outputFields: { n: i } }));
      await until(() => counters.totals.sent + counters.totals.failed === 10);
      // Two requests of five, each with two records rejected.
      expect(r.requests).toBe(2);
      expect(r.rejected).toBe(4);
      expect(counters.totals).toEqual({ sent: 6, failed: 4, spooled: 0, dropped: 0 });
      expect(errors.join("\n")).toMatch(/rejected 2 of 5 records \(partial success\): timestamp too old/);
    });
  }

  it("without a spool, holds records in memory while the collector is away and drops beyond the bound, exactly", async () => {
    const port = await deadPort();
    const { sink: s, counters } = sink(`http://127.0.0.1:${port}`, {
      maxQueueSize: 10,
      maxExportBatchSize: 5,
      // One request at a time: two in flight (on two export workers' connections) may land in either order.
      maxConcurrentExports: 1,
    });
    for (let i = 0; i < 25; i++) s.emit(makeDetection({ outputFields: { n: i } }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const back = await receiver({ port });
    await back.waitForCount(10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(back.records).toHaveLength(10);
    expect(counters.totals).toEqual({ sent: 10, failed: 0, spooled: 0, dropped: 15 });
    // The oldest ten, in order.
    expect(back.records.map((l) => l.attributes["peregrine.field.n"])).toEqual(
      [...Array(10).keys()].map(BigInt),
    );
  });

  it("spools while the collector is down and delivers everything, in order, once it is back", async () => {
    const port = await deadPort();
    const dir = tempDir();
    const { sink: s, counters } = sink(`http://127.0.0.1:${port}`, {
      spool: { dir, maxBytes: 10 << 20 },
      maxQueueSize: 50,
      maxExportBatchSize: 20,
    });
    for (let i = 0; i < 300; i++) {
      s.emit(makeDetection({ outputFields: { n: i } }));
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await until(() => counters.totals.spooled === 300);
    expect(s.spool?.records).toBe(300);
    const back = await receiver({ port });
    await back.waitForCount(300, 15_000);
    expect(back.records.map((l) => l.attributes["peregrine.field.n"])).toEqual(
      [...Array(300).keys()].map(BigInt),
    );
    await until(() => counters.totals.sent === 300);
    expect(counters.totals).toEqual({ sent: 300, failed: 0, spooled: 300, dropped: 0 });
    expect(s.spool?.records).toBe(0);
  });

  it("at the spool's bound drops the oldest low-priority records first, counting every one", async () => {
    const port = await deadPort();
    const dir = tempDir();
    const { sink: s, counters } = sink(`http://127.0.0.1:${port}`, {
      spool: { dir, maxBytes: 256 * 1024 },
      maxQueueSize: 20,
      maxExportBatchSize: 10,
    });
    const N = 400;
    for (let i = 0; i < N; i++) {
      const priority = i % 4 === 0 ? "CRITICAL" : "NOTICE";
      s.emit(makeDetection({ rule: makeRule({ priority }), outputFields: { n: i } }));
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await until(() => counters.totals.spooled + counters.totals.dropped >= N);
    expect(counters.totals.dropped).toBeGreaterThan(0);
    const back = await receiver({ port });
    await until(() => counters.totals.sent + counters.totals.dropped === N, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Every record is accounted for exactly once: received, or counted dropped.
    expect(back.records).toHaveLength(counters.totals.sent);
    expect(counters.totals.sent + counters.totals.dropped).toBe(N);
    expect(counters.totals.failed).toBe(0);
    // Every CRITICAL record survived; the losses are NOTICE ones.
    const critical = back.records.filter((l) => l.severityText === "Critical");
    expect(critical).toHaveLength(N / 4);
    // Order kept among what arrived.
    const ns = back.records.map((l) => Number(l.attributes["peregrine.field.n"]));
    expect(ns).toEqual([...ns].sort((a, b) => a - b));
  });

  it("refuses a spool another agent holds, and a bad certificate file releases the spool's lock", async () => {
    const r = await receiver();
    const locked = tempDir();
    writeFileSync(join(locked, "spool.lock"), "1"); // pid 1: alive, not us
    const threads = () => readdirSync("/proc/self/task").length;
    const before = threads();
    expect(() => sink(r.url, { spool: { dir: locked, maxBytes: 1 << 20 } })).toThrow(SpoolLockedError);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(threads()).toBe(before); // no export worker was started for a sink that could not be made
    const dir = tempDir();
    expect(() =>
      sink(r.url, {
        transport: grpcTo(r.url, { certificateFile: join(dir, "missing-ca.pem") }),
        spool: { dir, maxBytes: 1 << 20 },
      }),
    ).toThrow(/cannot read the OTLP certificate .*missing-ca\.pem/);
    expect(existsSync(join(dir, "spool.lock"))).toBe(false);
  });

  it("delivers what an earlier run left in the spool", async () => {
    const port = await deadPort();
    const dir = tempDir();
    const first = sink(`http://127.0.0.1:${port}`, {
      spool: { dir, maxBytes: 1 << 20 },
      shutdownTimeoutMillis: 200,
    });
    for (let i = 0; i < 7; i++) first.sink.emit(makeDetection({ outputFields: { n: i } }));
    await first.sink.shutdown();
    expect(first.counters.totals.spooled).toBe(7);
    const r = await receiver();
    const second = sink(r.url, { spool: { dir, maxBytes: 1 << 20 } });
    await r.waitForCount(7);
    expect(r.records.map((l) => l.attributes["peregrine.field.n"])).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n]);
    await until(() => second.counters.totals.sent === 7);
  });
});

describe("OTLP/HTTP-protobuf transport", () => {
  it("posts gzip'd protobuf with the configured headers, and honours Retry-After", async () => {
    const r = await startOtlpHttpReceiver({ failFirst: 1, failStatus: 429, retryAfter: "1" });
    cleanups.push(() => r.close());
    const counters = recordingCounters();
    const s = createOtlpLogSink({
      transport: {
        ...grpcTo(`${r.url}/v1/logs`),
        protocol: "http/protobuf",
        compression: "gzip",
        headers: { authorization: "Bearer t0k" },
      },
      version: "0.1.0",
      host: HOST,
      counters,
      scheduledDelayMillis: 10,
      backoff: FAST_BACKOFF,
    });
    cleanups.push(() => s.shutdown());
    s.emit(makeDetection());
    await r.waitForCount(1, 5000);
    expect(r.headers[1]).toMatchObject({
      "content-type": "application/x-protobuf",
      "content-encoding": "gzip",
      authorization: "Bearer t0k",
    });
    // The retry waited for the server's hint (1 s), not the 30 ms backoff.
    expect((r.times[1] as number) - (r.times[0] as number)).toBeGreaterThanOrEqual(900);
    expect(r.records[0]?.attributes["security_rule.name"]).toBe("Read sensitive file untrusted");
    await until(() => counters.totals.sent === 1);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { createOtlpLogSink, type OtlpLogSink, type OtlpLogSinkOptions } from "../../src/export/otlp-logs.js";
import {
  connectEvent,
  FIXTURE_TS_NS,
  makeDetection,
  makeProcess,
  makeRule,
  openEvent,
} from "../support/detection-fixtures.js";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp-receiver.js";
import { type RecordingCounters, recordingCounters } from "../support/recording-counters.js";

const OBSERVED_NS = 1_795_887_725_000_000_001n;
const FAST_RETRY = {
  initialBackoffMs: 20,
  maxBackoffMs: 50,
  multiplier: 1.5,
  maxAttempts: 5,
  maxElapsedMs: 5000,
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function receiver(options: Parameters<typeof startOtlpReceiver>[0] = {}): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

function sink(
  endpoint: string,
  overrides: Partial<OtlpLogSinkOptions> = {},
): { sink: OtlpLogSink; counters: RecordingCounters } {
  const counters = recordingCounters();
  const s = createOtlpLogSink({
    endpoint,
    version: "0.1.0",
    hostname: "sensor-host",
    counters,
    scheduledDelayMillis: 10,
    retry: FAST_RETRY,
    now: () => OBSERVED_NS,
    ...overrides,
  });
  cleanups.push(() => s.shutdown());
  return { sink: s, counters };
}

/** A port nothing listens on: bind a receiver, note its port, close it. */
async function deadEndpoint(): Promise<string> {
  const r = await startOtlpReceiver();
  await r.close();
  return r.url;
}

describe("OTLP log sink over a real gRPC receiver", () => {
  it("turns one detection into exactly one record with the exact fields", async () => {
    const r = await receiver();
    const { sink: s, counters } = sink(r.url);
    s.emit(
      makeDetection({
        outputFields: { "user.name": "alice", "proc.pid": 4242, "evt.res": null, "fd.num": 3n },
      }),
    );
    await s.forceFlush();
    await r.waitForCount(1);
    expect(r.records).toHaveLength(1);
    const [log] = r.records;
    expect(log).toEqual({
      resource: { "service.name": "peregrine", "service.version": "0.1.0", "host.name": "sensor-host" },
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
        "peregrine.rule.tags": ["maturity_stable", "host", "filesystem", "mitre_credential_access", "T1555"],
        "peregrine.rule.source": "syscall",
        "peregrine.event.type": "openat",
        "process.pid": 4242n,
        "thread.id": 4242n,
        "process.parent_pid": 4200n,
        "process.executable.path": "/usr/bin/cat",
        "process.executable.name": "cat",
        "process.command_line": "cat /etc/shadow",
        "process.command_args": ["cat", "/etc/shadow"],
        "process.working_directory": "/home/alice",
        "process.user.id": 1000n,
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

  it("maps a connect's destination to server.* and network.peer.*", async () => {
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
      "peregrine.rule.tags": [],
    });
    expect(log.attributes).not.toHaveProperty("network.local.address");
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

  it("leaves process attributes out when the process is unknown, and can leave the command line out", async () => {
    const r = await receiver();
    const { sink: s } = sink(r.url);
    s.emit(makeDetection({ process: null, outputFields: {} }));
    await s.forceFlush();
    const unknown = await r.waitFor(() => true);
    expect(
      Object.keys(unknown.attributes).filter((k) => k.startsWith("process.") || k.startsWith("user.")),
    ).toEqual(["process.pid"]);

    const r2 = await receiver();
    const { sink: s2 } = sink(r2.url, { includeCommandLine: false });
    s2.emit(makeDetection());
    await s2.forceFlush();
    const redacted = await r2.waitFor(() => true);
    expect(redacted.attributes).not.toHaveProperty("process.command_line");
    expect(redacted.attributes).not.toHaveProperty("process.command_args");
    expect(redacted.attributes).toHaveProperty("process.executable.path", "/usr/bin/cat");
  });

  it("retries a receiver that fails the first requests with UNAVAILABLE, and delivers", async () => {
    const r = await receiver({ failFirst: 2 });
    const { sink: s, counters } = sink(r.url);
    s.emit(makeDetection());
    await s.forceFlush();
    await r.waitForCount(1);
    expect(r.requests).toBe(3);
    expect(r.records).toHaveLength(1);
    expect(counters.totals).toEqual({ sent: 1, failed: 0, spooled: 0, dropped: 0 });
  });

  it("counts records as failed once the retries run out", async () => {
    const r = await receiver({ failFirst: 100 });
    const { sink: s, counters } = sink(r.url, { retry: { ...FAST_RETRY, maxAttempts: 3 } });
    s.emit(makeDetection());
    s.emit(makeDetection());
    await s.forceFlush();
    expect(r.requests).toBe(3); // one batch of two, three attempts
    expect(counters.totals).toEqual({ sent: 0, failed: 2, spooled: 0, dropped: 0 });
  });

  it("does not retry an error OTLP calls permanent", async () => {
    const r = await receiver({ failFirst: 100, failWith: 3 /* INVALID_ARGUMENT */ });
    const { sink: s, counters } = sink(r.url);
    s.emit(makeDetection());
    await s.forceFlush();
    expect(r.requests).toBe(1);
    expect(counters.totals.failed).toBe(1);
  });

  it("survives a receiver that is down: nothing thrown, every record counted", async () => {
    const { sink: s, counters } = sink(await deadEndpoint(), {
      retry: { ...FAST_RETRY, maxAttempts: 2 },
      attemptTimeoutMillis: 1000,
    });
    for (let i = 0; i < 5; i++) s.emit(makeDetection());
    await s.shutdown();
    expect(counters.totals).toEqual({ sent: 0, failed: 5, spooled: 0, dropped: 0 });
    s.emit(makeDetection()); // after shutdown: dropped, not thrown
    expect(counters.totals.dropped).toBe(1);
  });

  it("delivers once a collector that was down comes back on the same port", async () => {
    const first = await startOtlpReceiver();
    const { port, url } = first;
    await first.close();
    const { sink: s, counters } = sink(url, {
      retry: {
        initialBackoffMs: 100,
        maxBackoffMs: 400,
        multiplier: 1.5,
        maxAttempts: 20,
        maxElapsedMs: 10_000,
      },
    });
    s.emit(makeDetection());
    await new Promise((resolve) => setTimeout(resolve, 300));
    const back = await receiver({ port });
    await s.forceFlush();
    expect(back.records).toHaveLength(1);
    expect(counters.totals).toEqual({ sent: 1, failed: 0, spooled: 0, dropped: 0 });
  });

  it("drops and counts what does not fit the queue, without blocking emit()", async () => {
    const r = await receiver({ delayMs: 200 });
    const { sink: s, counters } = sink(r.url, { maxQueueSize: 4, maxExportBatchSize: 2 });
    for (let i = 0; i < 20; i++) s.emit(makeDetection());
    // Synchronously: four accepted, sixteen refused and counted (the processor would have dropped them unseen).
    expect(counters.totals.dropped).toBe(16);
    expect(counters.readQueueLength()).toBe(4);
    await s.shutdown();
    expect(counters.totals).toEqual({ sent: 4, failed: 0, spooled: 0, dropped: 16 });
    expect(r.records).toHaveLength(4);
  });

  it("keeps shutdown within its time bound when the receiver hangs, counting what is left", async () => {
    const r = await receiver({ delayMs: 3000 });
    const { sink: s, counters } = sink(r.url, {
      maxExportBatchSize: 1,
      shutdownTimeoutMillis: 200,
      attemptTimeoutMillis: 5000,
    });
    for (let i = 0; i < 3; i++) s.emit(makeDetection());
    const started = Date.now();
    await s.shutdown();
    expect(Date.now() - started).toBeLessThan(1500);
    // The one batch on the wire is neither sent nor failed yet; the two never handed over are dropped.
    expect(counters.totals.dropped).toBe(2);
    expect(counters.readQueueLength()).toBe(0);
  });

  it("can give each workload its own resource, all in the same export", async () => {
    const r = await receiver();
    const { sink: s } = sink(r.url, {
      resourceFor: (d) =>
        d.event.process?.name === "nginx"
          ? { key: "nginx", attributes: { "service.name": "nginx", "service.namespace": "web" } }
          : undefined,
    });
    s.emit(makeDetection({ process: makeProcess({ name: "nginx", exePath: "/usr/sbin/nginx" }) }));
    s.emit(makeDetection());
    await s.forceFlush();
    await r.waitForCount(2);
    expect(r.requests).toBe(1);
    expect(r.records.map((l) => l.resource)).toEqual([
      {
        "service.name": "nginx",
        "service.version": "0.1.0",
        "host.name": "sensor-host",
        "service.namespace": "web",
      },
      { "service.name": "peregrine", "service.version": "0.1.0", "host.name": "sensor-host" },
    ]);
  });
});

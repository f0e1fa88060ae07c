import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { FalcoHttpSink } from "../../src/export/falco-http.js";
import { REDACTED, Sanitizer } from "../../src/export/sanitize.js";
import { makeDetection, makeRule } from "../support/detection-fixtures.js";
import { recordingCounters } from "../support/recording-counters.js";

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A local HTTP server standing in for falcosidekick: records each POST; fails the first `failFirst` with 503. */
async function sidekick(
  failFirst = 0,
): Promise<{ url: string; received: Received[]; requests: () => number }> {
  const received: Received[] = [];
  let requests = 0;
  const server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8").on("data", (c: string) => {
      text += c;
    });
    req.on("end", () => {
      requests++;
      if (requests <= failFirst) {
        res.writeHead(503).end();
        return;
      }
      received.push({ headers: req.headers, body: JSON.parse(text) as Record<string, unknown> });
      res.writeHead(200).end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    received,
    requests: () => requests,
  };
}

const until = async (check: () => boolean): Promise<void> => {
  const end = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("Falco-compatible HTTP output", () => {
  it("posts each detection as the JSON object Falco's http_output sends", async () => {
    const server = await sidekick();
    const counters = recordingCounters();
    const sink = new FalcoHttpSink({ url: server.url, counters, headers: { "x-token": "abc" } });
    sink.emit(
      makeDetection({
        rule: makeRule({ priority: "CRITICAL" }),
        outputFields: { "proc.pid": 4242, "fd.num": 3n },
      }),
    );
    sink.emit(makeDetection());
    await sink.shutdown();
    expect(server.received).toHaveLength(2);
    const [first] = server.received;
    expect(first?.headers["content-type"]).toBe("application/json");
    expect(first?.headers["x-token"]).toBe("abc");
    expect(first?.headers["user-agent"]).toContain("falcosecurity/falco");
    expect(Object.keys(first?.body ?? {}).sort()).toEqual([
      "hostname",
      "output",
      "output_fields",
      "priority",
      "rule",
      "source",
      "tags",
      "time",
    ]);
    expect(first?.body).toMatchObject({
      rule: "Read sensitive file untrusted",
      priority: "Critical",
      source: "syscall",
      hostname: "sensor-host",
      output_fields: { "proc.pid": 4242, "fd.num": 3 },
    });
    expect(first?.body.time).toMatch(/^2026-11-28T17:42:04\.123456789Z$/);
    expect(counters.totals).toEqual({ sent: 2, failed: 0, spooled: 0, dropped: 0 });
  });

  it("retries a receiver that answers 503, then delivers; sanitizes the output", async () => {
    const server = await sidekick(1);
    const counters = recordingCounters();
    const sink = new FalcoHttpSink({ url: server.url, counters, sanitizer: new Sanitizer() });
    sink.emit(makeDetection({ output: "run app --password=hunter2" }));
    await until(() => counters.totals.sent === 1);
    expect(server.requests()).toBe(2);
    expect(server.received[0]?.body.output).toBe(`run app --password=${REDACTED}`);
    await sink.shutdown();
  });

  it("counts failures and drops exactly, and never throws", async () => {
    const server = await sidekick(100);
    const counters = recordingCounters();
    const sink = new FalcoHttpSink({
      url: server.url,
      counters,
      maxAttempts: 2,
      maxQueueSize: 3,
      concurrency: 1,
    });
    for (let i = 0; i < 6; i++) sink.emit(makeDetection());
    // One on the wire, three queued, two refused at once.
    expect(counters.totals.dropped).toBe(2);
    await until(() => counters.totals.failed === 4);
    await sink.shutdown();
    expect(counters.totals).toEqual({ sent: 0, failed: 4, spooled: 0, dropped: 2 });
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { PeregrineMetrics } from "../../src/export/metrics.js";
import {
  DEFAULT_METRICS_ADDRESS,
  type MetricsServer,
  parseListenAddress,
  startMetricsServer,
} from "../../src/export/metrics-server.js";
import { parsePromText, sampleValue } from "../support/prom-text.js";

const servers: MetricsServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

async function start(options: Parameters<typeof startMetricsServer>[0]): Promise<MetricsServer> {
  const server = await startMetricsServer(options);
  servers.push(server);
  return server;
}

describe("parseListenAddress", () => {
  it.each([
    ["127.0.0.1:9464", { host: "127.0.0.1", port: 9464 }],
    ["[::1]:9464", { host: "::1", port: 9464 }],
    ["[::]:0", { host: "::", port: 0 }],
    ["localhost:8080", { host: "localhost", port: 8080 }],
    [":9464", { host: "", port: 9464 }],
    [" 0.0.0.0:65535 ", { host: "0.0.0.0", port: 65535 }],
  ])("reads %s", (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each(["9464", "::1:9464", "[::1]9464", "[::1", "host:", "host:65536", "host:-1", "host:80x"])(
    "refuses %s",
    (text) => {
      expect(() => parseListenAddress(text)).toThrow(/bad listen address/);
    },
  );

  it("defaults to loopback on 9464", () => {
    expect(DEFAULT_METRICS_ADDRESS).toBe("127.0.0.1:9464");
  });
});

describe("metrics server", () => {
  it("serves /metrics with the registry's content type, and the bound port when 0 was asked", async () => {
    const metrics = new PeregrineMetrics({ version: "0.1.0", defaultMetrics: false });
    metrics.eventDecoded("openat", 3);
    const server = await start({ source: metrics, address: "127.0.0.1:0" });
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.address).not.toBe("127.0.0.1:0");
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(metrics.contentType);
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const x = parsePromText(await res.text());
    expect(sampleValue(x, "peregrine_events_total", { type: "openat" })).toBe(3);
  });

  it("answers /healthz by the readiness the caller sets", async () => {
    const server = await start({
      source: new PeregrineMetrics({ version: "0", defaultMetrics: false }),
      address: "127.0.0.1:0",
    });
    let res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(503);
    await res.text();
    server.setReady(true);
    res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
    server.setReady(false);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(503);
  });

  it("refuses other paths and methods", async () => {
    const server = await start({
      source: new PeregrineMetrics({ version: "0", defaultMetrics: false }),
      address: "127.0.0.1:0",
      ready: true,
    });
    expect((await fetch(`${server.url}/`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: "POST" })).status).toBe(405);
    expect((await fetch(`${server.url}/healthz`, { method: "HEAD" })).status).toBe(200);
  });

  it("reports a failing source as 500 and keeps serving", async () => {
    let fail = true;
    const server = await start({
      source: {
        contentType: "text/plain; version=0.0.4; charset=utf-8",
        metrics: async () => {
          if (fail) throw new Error("collector broke");
          return "up 1\n";
        },
      },
      address: "127.0.0.1:0",
    });
    const bad = await fetch(`${server.url}/metrics`);
    expect(bad.status).toBe(500);
    expect(await bad.text()).toContain("collector broke");
    fail = false;
    expect(await (await fetch(`${server.url}/metrics`)).text()).toBe("up 1\n");
  });

  it("binds IPv6 loopback given in brackets", async (ctx) => {
    let server: MetricsServer;
    try {
      server = await start({
        source: new PeregrineMetrics({ version: "0", defaultMetrics: false }),
        address: "[::1]:0",
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EADDRNOTAVAIL") return ctx.skip();
      throw error;
    }
    expect(server.address).toMatch(/^\[::1\]:\d+$/);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
  });

  it("closes cleanly, keep-alive connections included", async () => {
    const server = await startMetricsServer({
      source: new PeregrineMetrics({ version: "0", defaultMetrics: false }),
      address: "127.0.0.1:0",
    });
    await (await fetch(`${server.url}/metrics`)).text(); // leaves a keep-alive connection open
    await server.close();
    await expect(fetch(`${server.url}/metrics`)).rejects.toThrow();
  });

  it("fails to start on an address in use", async () => {
    const first = await start({
      source: new PeregrineMetrics({ version: "0", defaultMetrics: false }),
      address: "127.0.0.1:0",
    });
    await expect(
      startMetricsServer({
        source: new PeregrineMetrics({ version: "0", defaultMetrics: false }),
        address: first.address,
      }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});

describe("OpenMetrics negotiation", () => {
  it("gives OpenMetrics to a scraper that accepts it, the text format otherwise", async () => {
    const { wantsOpenMetrics } = await import("../../src/export/metrics-server.js");
    // What Prometheus 2.x/3.x sends.
    expect(
      wantsOpenMetrics(
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
      ),
    ).toBe(true);
    expect(wantsOpenMetrics("text/plain;version=0.0.4")).toBe(false);
    expect(wantsOpenMetrics("application/openmetrics-text;q=0")).toBe(false);
    expect(wantsOpenMetrics(undefined)).toBe(false);
  });
});

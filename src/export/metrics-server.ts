import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Loopback only by default: metrics of a security sensor are not for the whole network unless asked. 9464 is the port OpenTelemetry's Prometheus exporters use. */
export const DEFAULT_METRICS_ADDRESS = "127.0.0.1:9464";

/** What /metrics serves: a prom-client Registry (or PeregrineMetrics) fits. */
export interface MetricsSource {
  readonly contentType: string;
  /** With openMetrics true, the OpenMetrics exposition (when the source has one: see openMetricsContentType). */
  metrics(openMetrics?: boolean): Promise<string>;
  /** Set when the source can also speak OpenMetrics (exemplars need it). */
  readonly openMetricsContentType?: string;
}

/**
 * Content negotiation as Prometheus does it: a scraper that accepts
 * application/openmetrics-text (Prometheus sends it first, with a higher
 * q than text/plain) gets OpenMetrics, everyone else the text format.
 */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().split(";");
    if (type?.trim().toLowerCase() !== "application/openmetrics-text") continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

export interface ListenAddress {
  /** "" means every interface. */
  readonly host: string;
  readonly port: number;
}

/**
 * Parses "HOST:PORT", "[IPv6]:PORT" or ":PORT" (every interface). Port 0
 * asks the kernel for a free port (tests). A bare IPv6 address without
 * brackets is refused: its last group would read as a port.
 */
export function parseListenAddress(text: string): ListenAddress {
  const trimmed = text.trim();
  let host: string;
  let portText: string;
  if (trimmed.startsWith("[")) {
    const close = trimmed.indexOf("]");
    if (close < 0 || trimmed[close + 1] !== ":")
      throw new Error(`bad listen address "${text}": expected [IPv6]:PORT`);
    host = trimmed.slice(1, close);
    portText = trimmed.slice(close + 2);
  } else {
    const colon = trimmed.lastIndexOf(":");
    if (colon < 0) throw new Error(`bad listen address "${text}": expected HOST:PORT`);
    host = trimmed.slice(0, colon);
    portText = trimmed.slice(colon + 1);
    if (host.includes(":")) throw new Error(`bad listen address "${text}": put an IPv6 address in brackets`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new Error(`bad listen address "${text}": port must be 0-65535`);
  }
  return { host, port: Number(portText) };
}

function formatAddress(info: AddressInfo): string {
  return info.family === "IPv6" ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
}

export interface MetricsServerOptions {
  source: MetricsSource;
  /** Default DEFAULT_METRICS_ADDRESS. */
  address?: string;
  /** Initial readiness for /healthz (default false: the caller says when the sensor is up). */
  ready?: boolean;
}

export interface MetricsServer {
  /** The bound address as "HOST:PORT" ("[::1]:9464" for IPv6), with the real port when 0 was asked. */
  readonly address: string;
  /** "http://" + address. */
  readonly url: string;
  /** /healthz answers 200 "ok" when ready, 503 otherwise. */
  setReady(ready: boolean): void;
  /** Stops listening and closes open (keep-alive) connections. */
  close(): Promise<void>;
}

/** Serves /metrics (Prometheus text) and /healthz on a plain node:http server. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(options.address ?? DEFAULT_METRICS_ADDRESS);
  let ready = options.ready ?? false;
  const { source } = options;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res
        .writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" })
        .end("method not allowed\n");
      return;
    }
    if (path === "/metrics") {
      const openMetrics = source.openMetricsContentType !== undefined && wantsOpenMetrics(req.headers.accept);
      source.metrics(openMetrics).then(
        (body) => {
          res
            .writeHead(200, {
              "content-type": openMetrics ? (source.openMetricsContentType as string) : source.contentType,
            })
            .end(req.method === "HEAD" ? undefined : body);
        },
        (error: unknown) => {
          res
            .writeHead(500, { "content-type": "text/plain; charset=utf-8" })
            .end(`metrics failed: ${String(error)}\n`);
        },
      );
      return;
    }
    if (path === "/healthz") {
      res
        .writeHead(ready ? 200 : 503, { "content-type": "text/plain; charset=utf-8" })
        .end(req.method === "HEAD" ? undefined : ready ? "ok" : "not ready");
      return;
    }
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve();
    };
    if (host === "") server.listen(port, done);
    else server.listen(port, host, done);
  });
  const address = formatAddress(server.address() as AddressInfo);

  return {
    address,
    url: `http://${address}`,
    setReady(value: boolean) {
      ready = value;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

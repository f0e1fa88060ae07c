/**
 * TLS for both SDK OTLP exporters (gRPC, HTTP/protobuf) as we configure
 * them, against real servers on loopback with certificates made for the
 * test by openssl: the CA file verifies the server, the client certificate
 * and key authenticate us (mutual TLS).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { LoggerProvider, type ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOtlpExporter,
  exportRecords,
  type OtlpExporter,
  type TransportOptions,
} from "../../src/export/otlp-exporter.js";
import { decodeExportRequest } from "../support/otlp-receiver.js";

const skip = existsSync("/usr/bin/openssl") ? undefined : "openssl is not installed";
if (skip) console.warn(`test/export/otlp-tls.test.ts skipped: ${skip}`);

/** One SDK log record, made the way the OTLP sink makes them. */
function record(): ReadableLogRecord {
  let made: ReadableLogRecord | undefined;
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ "service.name": "s" }),
    processors: [
      {
        onEmit: (r) => {
          made = r;
        },
        forceFlush: async () => {},
        shutdown: async () => {},
      },
    ],
  });
  provider.getLogger("peregrine", "1").emit({
    timestamp: [0, 1],
    observedTimestamp: [0, 2],
    severityNumber: 13,
    severityText: "Warning",
    body: "over TLS",
    attributes: { "security_rule.name": "tls" },
    eventName: "peregrine.detection",
  });
  return made as ReadableLogRecord;
}

/** One export through the SDK exporter; then closes it. */
async function send(target: OtlpExporter): Promise<string> {
  const outcome = await exportRecords(target, [record()]);
  await target.exporter.shutdown();
  return outcome.kind;
}

describe.skipIf(skip !== undefined)("OTLP over TLS", () => {
  let dir: string;
  const pem = (name: string) => join(dir, name);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pg-tls-"));
    const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
    ssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "1",
      "-subj",
      "/CN=test-ca",
    );
    writeFileSync(pem("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    for (const who of ["server", "client"]) {
      ssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        `${who}.key`,
        "-out",
        `${who}.csr`,
        "-subj",
        `/CN=${who}`,
      );
      ssl(
        "x509",
        "-req",
        "-in",
        `${who}.csr`,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${who}.pem`,
        "-days",
        "1",
        "-extfile",
        "san.ext",
      );
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const base = (endpoint: string, protocol: TransportOptions["protocol"]): TransportOptions => ({
    endpoint,
    protocol,
    headers: {},
    compression: "gzip",
    timeoutMillis: 3000,
    certificateFile: pem("ca.pem"),
    clientKeyFile: pem("client.key"),
    clientCertificateFile: pem("client.pem"),
    insecure: false,
  });

  it("HTTP/protobuf: verifies the server with the CA file and presents the client certificate", async () => {
    let peer = "";
    const server = createServer(
      {
        key: readFileSync(pem("server.key")),
        cert: readFileSync(pem("server.pem")),
        ca: readFileSync(pem("ca.pem")),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        peer = String((req.socket as import("node:tls").TLSSocket).getPeerCertificate().subject?.CN ?? "");
        req.resume();
        req.on("end", () => res.writeHead(200).end());
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
    try {
      expect(await send(createOtlpExporter(base(url, "http/protobuf")))).toBe("ok");
      expect(peer).toBe("client");
      // Without our CA the server is not trusted: a transient failure (spooled, retried), never a silent success.
      expect(await send(createOtlpExporter({ ...base(url, "http/protobuf"), certificateFile: "" }))).toBe(
        "retry",
      );
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("gRPC: TLS with the CA file and a client certificate, the receiver decoding the records", async () => {
    const received: string[] = [];
    const server = new grpc.Server();
    server.addService(
      {
        Export: {
          path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      {
        Export(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
          for (const r of decodeExportRequest(call.request)) received.push(String(r.body));
          cb(null, Buffer.alloc(0));
        },
      },
    );
    const creds = grpc.ServerCredentials.createSsl(
      readFileSync(pem("ca.pem")),
      [{ private_key: readFileSync(pem("server.key")), cert_chain: readFileSync(pem("server.pem")) }],
      true, // client certificate required
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", creds, (e, p) => (e ? reject(e) : resolve(p))),
    );
    try {
      expect(await send(createOtlpExporter(base(`https://127.0.0.1:${port}`, "grpc")))).toBe("ok");
      expect(received).toEqual(["over TLS"]);
      const noClientCert = createOtlpExporter({
        ...base(`https://127.0.0.1:${port}`, "grpc"),
        clientKeyFile: "",
        clientCertificateFile: "",
      });
      expect(await send(noClientCert)).not.toBe("ok");
    } finally {
      server.forceShutdown();
    }
  });
});

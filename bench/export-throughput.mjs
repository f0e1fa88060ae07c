// OTLP export: (1) detections/s delivered to a local OTLP/gRPC receiver with
// nothing lost, (2) latency detection → receiver (p50/p99) at a steady
// 1,000 detections/s with the default batch settings. Uses the built sink
// (dist/), a real gRPC server on loopback, and counts every record by
// decoding the request bytes. Run: npm run build:ts && node bench/export-throughput.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { readFields } from "../dist/export/otlp-encode.js";
import { createOtlpLogSink } from "../dist/export/otlp-logs.js";
import { Sanitizer } from "../dist/export/sanitize.js";

const THROUGHPUT_N = Number(process.env.N ?? 200_000);
const LATENCY_SECONDS = Number(process.env.SECONDS ?? 10);
const RATE = 1000;

// --- receiver: counts records and, per record, receive time − timeUnixNano --------------------
const received = { records: 0, latenciesMs: [] };
let measureLatency = false;
function onRequest(bytes) {
  const now = process.hrtime.bigint() - hrOffset;
  for (const [f1, , rl] of readFields(bytes)) {
    if (f1 !== 1) continue;
    for (const [f2, , sl] of readFields(rl)) {
      if (f2 !== 2) continue;
      for (const [f3, , record] of readFields(sl)) {
        if (f3 !== 2) continue;
        received.records++;
        // Our encoder writes time_unix_nano (field 1, fixed64) first: tag 0x09 + 8 bytes.
        if (measureLatency && record[0] === 0x09) {
          const ts = Buffer.from(record.buffer, record.byteOffset + 1, 8).readBigUInt64LE(0);
          received.latenciesMs.push(Number(now - ts) / 1e6);
        }
      }
    }
  }
}
// Epoch ns from the monotonic clock (one offset, so send and receive times compare exactly).
const hrOffset = process.hrtime.bigint() - BigInt(Date.now()) * 1_000_000n;
const epochNs = () => process.hrtime.bigint() - hrOffset;

const server = new grpc.Server();
server.addService(
  {
    Export: {
      path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
      requestStream: false,
      responseStream: false,
      requestSerialize: (b) => b,
      requestDeserialize: (b) => b,
      responseSerialize: (b) => b,
      responseDeserialize: (b) => b,
    },
  },
  {
    Export(call, callback) {
      onRequest(call.request);
      callback(null, Buffer.alloc(0));
    },
  },
);
const port = await new Promise((resolve, reject) =>
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
    e ? reject(e) : resolve(p),
  ),
);

// --- a realistic detection (attributes as the default rules produce) ---------------------------
const rule = {
  name: "Credential file read by unexpected program",
  desc: "A program opened a file holding password hashes for reading.",
  priority: "WARNING",
  source: "syscall",
  tags: ["maturity_stable", "host", "filesystem", "mitre_credential_access", "T1003.008"],
  rulesetName: "10-credential-access.yaml",
};
const proc = {
  pid: 4242,
  ppid: 4200,
  name: "cat",
  exePath: "/usr/bin/cat",
  argv: ["cat", "/etc/shadow"],
  uid: 1000,
  gid: 1000,
  euid: 1000,
  egid: 1000,
  loginuid: 1000,
  cwd: "/home/alice",
  startNs: 1_795_887_724_000_000_000n,
  cgroupId: 0n,
  tty: 0,
  sid: 4100,
  pgid: 4242,
  vpid: 4242,
  capEffective: 0n,
  capPermitted: 0n,
  capInheritable: 0n,
  exeIno: 0,
  exeUpperLayer: false,
  exeFromMemfd: false,
  container: {
    id: "host",
    fullId: "",
    runtime: "host",
    name: "host",
    image: "",
    labels: new Map(),
    k8s: undefined,
  },
  env: new Map([["OTEL_SERVICE_NAME", "checkout"]]),
  source: "exec",
};
const users = { userName: (u) => (u === 1000 ? "alice" : "root"), groupName: () => undefined };
function detection(tsNs) {
  return {
    rule,
    event: {
      event: {
        kind: "open",
        evtType: "openat",
        tsNs,
        tgid: 4242,
        tid: 4242,
        ret: 3,
        openFlags: 0,
        mode: 0,
        dirfd: -100,
        path: "/etc/shadow",
      },
      process: proc,
      fd: undefined,
      fds: { get: () => undefined },
      processes: { get: () => proc },
      users,
      hostname: "bench-host",
    },
    output:
      "Credential file opened for reading by unexpected program (file=/etc/shadow flags=O_RDONLY process=cat exe=/usr/bin/cat cmdline=cat /etc/shadow pid=4242 user=alice uid=1000 parent=bash pcmdline=bash)",
    outputFields: {
      "fd.name": "/etc/shadow",
      "evt.arg.flags": "O_RDONLY",
      "proc.name": "cat",
      "proc.exepath": "/usr/bin/cat",
      "proc.cmdline": "cat /etc/shadow",
      "proc.pid": 4242,
      "user.name": "alice",
      "user.uid": 1000,
      "proc.pname": "bash",
      "proc.pcmdline": "bash",
    },
  };
}

function makeSink(counters, extra = {}) {
  return createOtlpLogSink({
    transport: {
      endpoint: `http://127.0.0.1:${port}`,
      protocol: "grpc",
      headers: {},
      compression: "none",
      timeoutMillis: 10_000,
      certificateFile: "",
      clientKeyFile: "",
      clientCertificateFile: "",
      insecure: false,
    },
    version: "bench",
    sanitizer: new Sanitizer(),
    counters,
    ...extra,
  });
}

function counting() {
  const c = { sent: 0, failed: 0, spooled: 0, dropped: 0 };
  return {
    c,
    sent: (n) => {
      c.sent += n;
    },
    failed: (n) => {
      c.failed += n;
    },
    spooled: (n) => {
      c.spooled += n;
    },
    dropped: (n) => {
      c.dropped += n;
    },
    queueLength() {},
    spoolSize() {},
  };
}

// --- 1. throughput, nothing lost: the producer yields when the memory queue is full ------------
{
  const spoolDir = mkdtempSync(join(tmpdir(), "pg-bench-spool-"));
  const counters = counting();
  const sink = makeSink(counters, { spool: { dir: spoolDir, maxBytes: 1 << 30 } });
  const start = process.hrtime.bigint();
  let emitted = 0;
  while (emitted < THROUGHPUT_N) {
    if (sink.queueLength >= 2048) {
      await new Promise((r) => setImmediate(r));
      continue;
    }
    sink.emit(detection(epochNs()));
    emitted++;
  }
  const emitSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  while (received.records < THROUGHPUT_N) await new Promise((r) => setTimeout(r, 5));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await sink.shutdown();
  rmSync(spoolDir, { recursive: true, force: true });
  console.log(
    `throughput: ${THROUGHPUT_N.toLocaleString("en")} detections delivered in ${seconds.toFixed(3)} s = ` +
      `${Math.round(THROUGHPUT_N / seconds).toLocaleString("en")} detections/s ` +
      `(emit loop ${emitSeconds.toFixed(3)} s); received ${received.records.toLocaleString("en")}, ` +
      `sent ${counters.c.sent}, spooled ${counters.c.spooled}, dropped ${counters.c.dropped}, failed ${counters.c.failed}`,
  );
}

// --- 2. latency at a steady 1,000 detections/s, default settings -------------------------------
{
  received.records = 0;
  measureLatency = true;
  const counters = counting();
  const sink = makeSink(counters);
  const total = RATE * LATENCY_SECONDS;
  const start = Date.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sink.emit(detection(epochNs()));
  }
  while (received.records < total) await new Promise((r) => setTimeout(r, 5));
  await sink.shutdown();
  const l = received.latenciesMs.sort((a, b) => a - b);
  const q = (p) => l[Math.min(l.length - 1, Math.floor(p * l.length))].toFixed(1);
  console.log(
    `latency at ${RATE}/s for ${LATENCY_SECONDS} s (${total} detections, default batch delay): ` +
      `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${l[l.length - 1].toFixed(1)} ms; ` +
      `sent ${counters.c.sent}, dropped ${counters.c.dropped}`,
  );
}
server.forceShutdown();

// OTLP export: (1) detections/s delivered to a local OTLP/gRPC receiver with
// nothing lost, (2) latency detection → receiver (p50/p99) at a steady
// 1,000 detections/s with the default batch settings. Uses the built sink
// (dist/: SDK log records, the SDK OTLP/gRPC exporter behind our processor),
// a real gRPC server on loopback, and counts every record by
// decoding the request bytes. Run: npm run build:ts && node bench/export-throughput.mjs
//
// Against another build in the same run: --baseline DIR (a built checkout, e.g.
// `git worktree add /tmp/base <commit> && cd /tmp/base && npm ci && npm run build:ts`).
// Each round runs this build and the baseline one after the other, each in a
// fresh process (ROUNDS=3 rounds, the order alternating), with the same
// detection fixture; it prints every figure, then medians and their ratio.
// Other jobs on the machine disturb single runs: look at the spread.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { detection, epochNs, FRESH_PROCESS } from "./export-detection.mjs";

const { values: args } = parseArgs({
  options: {
    baseline: { type: "string" },
    // Internal (the --baseline driver's children): the dist/ to load, and a JSON result line.
    dist: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const distOf = (dir) => (existsSync(join(dir, "dist")) ? join(dir, "dist") : dir);

if (args.baseline !== undefined) {
  const builds = [
    { name: "this build", dist: join(root, "dist") },
    { name: "baseline", dist: distOf(resolve(args.baseline)) },
  ];
  const rounds = Number(process.env.ROUNDS ?? 3);
  const results = builds.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) {
      const child = spawnSync(
        process.execPath,
        [fileURLToPath(import.meta.url), "--dist", builds[k].dist, "--json"],
        { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env: process.env },
      );
      const lines = child.stdout.trim().split("\n");
      const result = JSON.parse(lines.find((l) => l.startsWith("{")) ?? "null");
      if (child.status !== 0 || result === null)
        throw new Error(`${builds[k].name}: run failed (${child.status})`);
      results[k].push(result);
      for (const l of lines.filter((l) => !l.startsWith("{")))
        console.log(`[${builds[k].name}, round ${round + 1}] ${l}`);
    }
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  };
  const fmt = (xs, digits = 0) => xs.map((x) => x.toFixed(digits)).join(", ");
  for (const [k, b] of builds.entries()) {
    const r = results[k];
    console.log(
      `${b.name} (${b.dist}): detections/s ${fmt(r.map((x) => x.perSecond))} (median ${median(r.map((x) => x.perSecond)).toFixed(0)}); ` +
        `CPU µs/detection ${fmt(
          r.map((x) => x.cpuUs),
          1,
        )}` +
        (r[0].p99 !== undefined
          ? `; latency p50 ${fmt(
              r.map((x) => x.p50),
              1,
            )} ms, p99 ${fmt(
              r.map((x) => x.p99),
              1,
            )} ms`
          : ""),
    );
  }
  const ratio = median(results[0].map((x) => x.perSecond)) / median(results[1].map((x) => x.perSecond));
  const cpuRatio = median(results[0].map((x) => x.cpuUs)) / median(results[1].map((x) => x.cpuUs));
  console.log(
    `this build: ${ratio.toFixed(2)}× the baseline's detections/s, ${cpuRatio.toFixed(2)}× its CPU per detection (medians of ${rounds})`,
  );
  process.exit(0);
}

const dist = args.dist !== undefined ? distOf(resolve(args.dist)) : join(root, "dist");
const { createOtlpLogSink } = await import(pathToFileURL(join(dist, "export/otlp-logs.js")).href);
const { Sanitizer } = await import(pathToFileURL(join(dist, "export/sanitize.js")).href);
const result = {};

const THROUGHPUT_N = Number(process.env.N ?? 200_000);
const LATENCY_SECONDS = Number(process.env.SECONDS ?? 10);
const RATE = 1000;
// Throughput settings (the latency run uses the defaults): memory queue and requests in flight.
const QUEUE = Number(process.env.QUEUE ?? 2048);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 2);
// Export worker threads (the sink's default: one per core, at most 4); WORKERS=0: the SDK in the main thread.
const WORKERS = process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS);

// --- receiver, in a worker thread (a collector is another process: it must not share our thread) -
// It counts records and, per record, receive time − timeUnixNano. Both threads read the epoch as
// performance.timeOrigin + performance.now() (one clock), in ns.
const RECEIVER = `
const { parentPort } = require("node:worker_threads");
const grpc = require(${JSON.stringify(createRequire(import.meta.url).resolve("@grpc/grpc-js"))});
let measure = false;
parentPort.on("message", (m) => { measure = m.measure; });
function fields(buf, cb) {
  let at = 0;
  while (at < buf.length) {
    let key = 0, shift = 0, b;
    do { b = buf[at++]; key |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    const wire = key & 7;
    if (wire === 2) {
      let len = 0; shift = 0;
      do { b = buf[at++]; len += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
      cb(key >>> 3, buf.subarray(at, at + len));
      at += len;
    } else if (wire === 0) { do { b = buf[at++]; } while (b & 0x80); }
    else if (wire === 1) at += 8; else if (wire === 5) at += 4;
  }
}
const server = new grpc.Server({ "grpc-node.flow_control_window": 16 << 20 });
server.addService({ Export: { path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
  requestStream: false, responseStream: false, requestSerialize: (b) => b, requestDeserialize: (b) => b,
  responseSerialize: (b) => b, responseDeserialize: (b) => b } }, {
  Export(call, callback) {
    const now = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
    let records = 0; const latencies = [];
    fields(call.request, (f1, rl) => { if (f1 !== 1) return;
      fields(rl, (f2, sl) => { if (f2 !== 2) return;
        fields(sl, (f3, rec) => { if (f3 !== 2) return; records++;
          // The SDK serializer writes time_unix_nano (field 1, fixed64) first: tag 0x09 + 8 bytes.
          if (measure && rec[0] === 0x09) latencies.push(Number(now - Buffer.from(rec.buffer, rec.byteOffset + 1, 8).readBigUInt64LE(0)) / 1e6);
        }); }); });
    parentPort.postMessage({ records, latencies });
    callback(null, Buffer.alloc(0));
  } });
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) => parentPort.postMessage({ port }));
`;
const received = { records: 0, latenciesMs: [] };
const worker = new Worker(RECEIVER, { eval: true });
const port = await new Promise((resolve) => {
  worker.on("message", (m) => {
    if (m.port !== undefined) resolve(m.port);
    else {
      received.records += m.records;
      for (const l of m.latencies) received.latenciesMs.push(l);
    }
  });
});

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
    ...(WORKERS !== undefined && { exportWorkers: WORKERS }),
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
  const sink = makeSink(counters, {
    spool: { dir: spoolDir, maxBytes: 1 << 30 },
    maxQueueSize: QUEUE,
    maxConcurrentExports: IN_FLIGHT,
  });
  // The export workers load the SDK first (a few hundred ms; the old single-thread sink had it loaded on import).
  if (sink.ready !== undefined) await sink.ready;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let emitted = 0;
  while (emitted < THROUGHPUT_N) {
    if (sink.queueLength >= QUEUE) {
      // Wait a millisecond rather than spin: spinning would take the CPU the delivery needs.
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    sink.emit(detection(epochNs()));
    emitted++;
  }
  const emitSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  while (received.records < THROUGHPUT_N) await new Promise((r) => setTimeout(r, 5));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  // CPU of the whole process (the receiver thread included): load on the machine does not change it.
  const cpuUsPerDetection = (cpu.user + cpu.system) / THROUGHPUT_N;
  await sink.shutdown();
  rmSync(spoolDir, { recursive: true, force: true });
  result.perSecond = THROUGHPUT_N / seconds;
  result.cpuUs = cpuUsPerDetection;
  console.log(
    `throughput (queue ${QUEUE}, ${IN_FLIGHT} in flight, ${WORKERS ?? "default"} export workers${FRESH_PROCESS ? ", a fresh process per detection" : ""}): ${THROUGHPUT_N.toLocaleString("en")} detections delivered in ${seconds.toFixed(3)} s = ` +
      `${Math.round(THROUGHPUT_N / seconds).toLocaleString("en")} detections/s ` +
      `(emit loop ${emitSeconds.toFixed(3)} s); received ${received.records.toLocaleString("en")}, ` +
      `sent ${counters.c.sent}, spooled ${counters.c.spooled}, dropped ${counters.c.dropped}, failed ${counters.c.failed}; ` +
      `CPU ${cpuUsPerDetection.toFixed(1)} µs/detection (agent + receiver threads)`,
  );
}

// --- 2. latency at a steady 1,000 detections/s, default settings (SECONDS=0: skipped) ---------
if (LATENCY_SECONDS > 0) {
  received.records = 0;
  worker.postMessage({ measure: true });
  const counters = counting();
  const sink = makeSink(counters);
  // Steady state: the export workers start first (the agent starts its sinks before the sensor attaches).
  const readyAt = performance.now();
  if (sink.ready !== undefined) await sink.ready;
  const startupMs = performance.now() - readyAt;
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
  result.p50 = Number(q(0.5));
  result.p99 = Number(q(0.99));
  console.log(
    `latency at ${RATE}/s for ${LATENCY_SECONDS} s (${total} detections, default batch delay): ` +
      `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${l[l.length - 1].toFixed(1)} ms; ` +
      `sent ${counters.c.sent}, dropped ${counters.c.dropped}; export workers ready ${startupMs.toFixed(0)} ms after the sink was made`,
  );
}
await worker.terminate();
if (args.json) console.log(JSON.stringify(result));

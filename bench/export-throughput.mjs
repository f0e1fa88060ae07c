import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { alternateBuilds, buildArgs, distOf, median } from "./alternate-builds.mjs";
import { detection, epochNs, FRESH_PROCESS } from "./export-detection.mjs";

const args = buildArgs();
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

if (args.baseline !== undefined) {
  const rounds = Number(process.env.ROUNDS ?? 3);
  const { builds, results } = alternateBuilds(fileURLToPath(import.meta.url), root, args.baseline, rounds);
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
    const split = Object.keys(r[0].threadUs).map(
      (t) => `${t} ${median(r.map((x) => x.threadUs[t])).toFixed(1)}`,
    );
    console.log(`  median CPU µs/detection per thread: ${split.join(", ")}`);
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
// "Nothing lost", exactly: besides counting records, each record's peregrine.detection.id
// (attribute = field 6 KeyValue: key field 1, value field 2 = AnyValue string field 1) is
// marked seen, so a record delivered twice cannot stand in for one lost. The id is 12 hex
// digits per run + a 10-hex-digit counter (src/export/detection-id.ts): a bitmap indexed by
// the counter marks it without allocating; an id of another form goes to a set. IDS=0 skips it.
const checkIds = ${process.env.IDS !== "0"};
const seenCounters = new Uint8Array(1 << 23);
let distinct = 0;
const others = new Set();
function hex(c) { return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57; }
function markId(buf, from, length) {
  if (length === 22) {
    let n = 0;
    for (let i = from + 12; i < from + 22; i++) n = n * 16 + hex(buf[i]);
    if (n < seenCounters.length) {
      if (seenCounters[n] === 0) { seenCounters[n] = 1; distinct++; }
      return;
    }
  }
  const id = buf.latin1Slice(from, from + length);
  if (!others.has(id)) { others.add(id); distinct++; }
}
const ID_KEY = Buffer.from("peregrine.detection.id");
// Offsets only (a cursor, no array or subarray per attribute): the check must not make the
// receiver the bottleneck.
let at = 0;
function varint(buf) { let v = 0, shift = 0, b; do { b = buf[at++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80); return v; }
function detectionIdOf(rec) {
  at = 0;
  while (at < rec.length) {
    const key = varint(rec);
    const wire = key & 7;
    if (wire === 0) { varint(rec); continue; }
    if (wire === 1) { at += 8; continue; }
    if (wire === 5) { at += 4; continue; }
    const len = varint(rec);
    const end = at + len;
    // KeyValue {1: key, 2: AnyValue {1: string}}, with the key and value short enough for 1-byte lengths.
    if (key === 0x32 && rec[at] === 0x0a && rec[at + 1] === ID_KEY.length && rec[at + 2] === 0x70 && rec.indexOf(ID_KEY, at + 2) === at + 2) {
      const v = at + 2 + ID_KEY.length; // 0x12 len 0x0a len string
      if (rec[v] === 0x12 && rec[v + 2] === 0x0a) markId(rec, v + 4, rec[v + 3]);
    }
    at = end;
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
          if (checkIds) detectionIdOf(rec);
          // The SDK serializer writes time_unix_nano (field 1, fixed64) first: tag 0x09 + 8 bytes.
          if (measure && rec[0] === 0x09) latencies.push(Number(now - Buffer.from(rec.buffer, rec.byteOffset + 1, 8).readBigUInt64LE(0)) / 1e6);
        }); }); });
    parentPort.postMessage({ records, latencies, distinctIds: distinct });
    callback(null, Buffer.alloc(0));
  } });
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) =>
  parentPort.postMessage({ port, tid: require("node:fs").readFileSync("/proc/thread-self/stat", "utf8").split(" ")[0] }));
`;
const received = { records: 0, latenciesMs: [], distinctIds: 0 };
const worker = new Worker(RECEIVER, { eval: true });
let receiverTid = "";
const port = await new Promise((resolve) => {
  worker.on("message", (m) => {
    if (m.port !== undefined) {
      receiverTid = m.tid;
      resolve(m.port);
    } else {
      received.records += m.records;
      received.distinctIds = m.distinctIds;
      for (const l of m.latencies) received.latenciesMs.push(l);
    }
  });
});

/** CPU ticks (1/100 s) of each thread of this process, by thread id (Linux /proc). */
function threadTicks() {
  const out = new Map();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(tid, Number(f[11]) + Number(f[12])); // utime + stime
    } catch {} // a thread that ended meanwhile
  }
  return out;
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
  const threadsBefore = new Set(threadTicks().keys());
  const sink = makeSink(counters, {
    spool: { dir: spoolDir, maxBytes: 1 << 30 },
    maxQueueSize: QUEUE,
    maxConcurrentExports: IN_FLIGHT,
  });
  // The export workers load the SDK first (a few hundred ms; the old single-thread sink had it loaded on import).
  if (sink.ready !== undefined) await sink.ready;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const ticksStart = threadTicks();
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
  // Per thread: the main thread, the threads the sink started (its export workers; libuv's pool
  // would count here too, idle in this bench), the receiver, and the rest (V8's platform
  // threads: concurrent/parallel GC and compilation for every thread of the process).
  const threadUs = { main: 0, "export workers": 0, receiver: 0, "V8 GC/compiler threads": 0 };
  for (const [tid, ticks] of threadTicks()) {
    const us = ((ticks - (ticksStart.get(tid) ?? 0)) * 1e4) / THROUGHPUT_N;
    const group =
      tid === String(process.pid)
        ? "main"
        : tid === receiverTid
          ? "receiver"
          : threadsBefore.has(tid)
            ? "V8 GC/compiler threads"
            : "export workers";
    threadUs[group] += us;
  }
  await sink.shutdown();
  rmSync(spoolDir, { recursive: true, force: true });
  result.perSecond = THROUGHPUT_N / seconds;
  result.cpuUs = cpuUsPerDetection;
  result.threadUs = threadUs;
  result.distinctIds = received.distinctIds;
  console.log(
    `throughput (queue ${QUEUE}, ${IN_FLIGHT} in flight, ${WORKERS ?? "default"} export workers${FRESH_PROCESS ? ", a fresh process per detection" : ""}): ${THROUGHPUT_N.toLocaleString("en")} detections delivered in ${seconds.toFixed(3)} s = ` +
      `${Math.round(THROUGHPUT_N / seconds).toLocaleString("en")} detections/s ` +
      `(emit loop ${emitSeconds.toFixed(3)} s); received ${received.records.toLocaleString("en")}, ` +
      `sent ${counters.c.sent}, spooled ${counters.c.spooled}, dropped ${counters.c.dropped}, failed ${counters.c.failed}; ` +
      `CPU ${cpuUsPerDetection.toFixed(1)} µs/detection (agent + receiver threads: ` +
      `${Object.entries(threadUs)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(", ")})` +
      (process.env.IDS !== "0"
        ? `; distinct detection ids received ${received.distinctIds.toLocaleString("en")}`
        : ""),
  );
  if (process.env.IDS !== "0" && received.distinctIds !== THROUGHPUT_N)
    console.log(`LOST: ${THROUGHPUT_N - received.distinctIds} detection ids never received`);
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

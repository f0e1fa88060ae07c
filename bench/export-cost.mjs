// Where the CPU of one exported detection goes, stage by stage, in one
// thread (no network, no receiver): (1) our mapping, detection → the
// DetectionRecord the sink queues; (2) the structured clone of a batch to an
// export worker and (3) back into objects there (v8.serialize/deserialize,
// the serializer postMessage uses); (4) the SDK making its log records
// (sdk-records.ts: LoggerProvider per workload, Logger.emit, setAttributes);
// (5) the SDK's protobuf serializer (what its OTLPLogExporter runs per
// request). CPU time per detection, best of ROUNDS.
// Run: npm run build:ts && node bench/export-cost.mjs   (N=50000 ROUNDS=5 FRESH_PROCESS=1)
import { deserialize, serialize } from "node:v8";
import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { createOtlpLogSink, LOG_RECORD_LIMITS } from "../dist/export/otlp-logs.js";
import { Sanitizer } from "../dist/export/sanitize.js";
import { SdkRecordMaker } from "../dist/export/sdk-records.js";
import { detection, epochNs, FRESH_PROCESS } from "./export-detection.mjs";

const N = Number(process.env.N ?? 50_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BATCH = 512;

// A sink in this thread (no workers started) whose exporter is never called: only toRecord() is used.
const sink = createOtlpLogSink({
  transport: {
    protocol: "grpc",
    endpoint: "unused",
    exporter: {
      export: (_records, done) => done({ code: 0 }),
      shutdown: async () => {},
      forceFlush: async () => {},
    },
  },
  exportWorkers: 0,
  version: "bench",
  sanitizer: new Sanitizer(),
});

function cpuUs(from) {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}

const stages = ["map", "clone", "declone", "SDK records", "SDK serializer"];
const best = Object.fromEntries(stages.map((s) => [s, Number.POSITIVE_INFINITY]));
let bytes = 0;
let attributes = 0;
for (let round = 0; round < ROUNDS; round++) {
  const detections = Array.from({ length: N }, () => detection(epochNs()));
  let t = process.cpuUsage();
  const records = detections.map((d) => sink.toRecord(d));
  const map = cpuUs(t);
  const batches = [];
  for (let i = 0; i < N; i += BATCH) batches.push(records.slice(i, i + BATCH));
  t = process.cpuUsage();
  const wire = batches.map((b) => serialize(b));
  const clone = cpuUs(t);
  t = process.cpuUsage();
  const back = wire.map((w) => deserialize(w));
  const declone = cpuUs(t);
  const maker = new SdkRecordMaker(LOG_RECORD_LIMITS);
  t = process.cpuUsage();
  const sdk = back.map((b) => maker.make(b));
  const make = cpuUs(t);
  t = process.cpuUsage();
  bytes = 0;
  for (const b of sdk) bytes += ProtobufLogsSerializer.serializeRequest(b).length;
  const ser = cpuUs(t);
  attributes = Object.keys(sdk[0][0].attributes).length;
  const took = { map, clone, declone, "SDK records": make, "SDK serializer": ser };
  for (const s of stages) best[s] = Math.min(best[s], took[s] / N);
}
const total = stages.reduce((a, s) => a + best[s], 0);
const sdkShare = (best["SDK records"] + best["SDK serializer"]) / total;
console.log(
  `export cost per detection (${attributes} attributes, ${Math.round(bytes / N)} protobuf bytes${FRESH_PROCESS ? ", a fresh process per detection" : ""}; CPU µs, best of ${ROUNDS} × ${N.toLocaleString("en")}):`,
);
for (const s of stages) console.log(`  ${s.padEnd(15)} ${best[s].toFixed(2).padStart(6)} µs`);
console.log(
  `  total           ${total.toFixed(2).padStart(6)} µs — the SDK's part ${(100 * sdkShare).toFixed(0)} %; one core makes ${Math.round(1e6 / total).toLocaleString("en")} detections/s, the SDK alone ${Math.round(1e6 / (best["SDK records"] + best["SDK serializer"])).toLocaleString("en")}/s per core`,
);
await sink.shutdown();

// Where the CPU of one exported detection goes, stage by stage, in one
// thread (no network, no receiver): (1) our mapping, detection → the
// DetectionRecord the sink queues; (2) the structured clone of a batch to an
// export worker and (3) back into objects there (v8.serialize/deserialize,
// the serializer postMessage uses), the batch in columns as the worker pool
// sends it (packed-batch.ts; "clone" includes packing it) when the build has
// them; (4) the SDK making its log records
// (sdk-records.ts: LoggerProvider per workload, Logger.emit, setAttribute);
// (5) the SDK's protobuf serializer (what its OTLPLogExporter runs per
// request). CPU time per detection, best of ROUNDS.
// Run: npm run build:ts && node bench/export-cost.mjs   (N=50000 ROUNDS=5 FRESH_PROCESS=1)
// Against another build: --baseline DIR (a built checkout): each build runs in a
// fresh process, RUNS=3 times, alternating; per stage, every run's figure and the
// median of each build. Both use this checkout's detection fixture and SDK
// serializer, so a difference is the build's own.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { deserialize, serialize } from "node:v8";
import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { alternateBuilds, buildArgs, distOf, median } from "./alternate-builds.mjs";
import { detection, epochNs, FRESH_PROCESS } from "./export-detection.mjs";

const args = buildArgs();
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

if (args.baseline !== undefined) {
  const runs = Number(process.env.RUNS ?? 3);
  const { results } = alternateBuilds(fileURLToPath(import.meta.url), root, args.baseline, runs);
  console.log(
    `export cost per detection, CPU µs (${runs} runs of each build, alternating; median [each run]):`,
  );
  console.log(`  ${"stage".padEnd(15)} ${"this build".padStart(24)} ${"baseline".padStart(24)}   ratio`);
  for (const stage of Object.keys(results[0][0].stages)) {
    const cell = (r) => {
      const xs = r.map((x) => x.stages[stage]);
      return `${median(xs).toFixed(2)} [${xs.map((x) => x.toFixed(1)).join(" ")}]`;
    };
    const ratio =
      median(results[0].map((x) => x.stages[stage])) / median(results[1].map((x) => x.stages[stage]));
    console.log(
      `  ${stage.padEnd(15)} ${cell(results[0]).padStart(24)} ${cell(results[1]).padStart(24)}   ${ratio.toFixed(2)}×`,
    );
  }
  process.exit(0);
}

const dist = args.dist !== undefined ? distOf(resolve(args.dist)) : join(root, "dist");
const load = (p) => import(pathToFileURL(join(dist, p)).href);
const { createOtlpLogSink, LOG_RECORD_LIMITS } = await load("export/otlp-logs.js");
const { Sanitizer } = await load("export/sanitize.js");
const { SdkRecordMaker } = await load("export/sdk-records.js");
// Builds from before the columns send batches as objects.
const packBatch = existsSync(join(dist, "export/packed-batch.js"))
  ? (await load("export/packed-batch.js")).packBatch
  : undefined;

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
  const wire = batches.map((b) => serialize(packBatch?.(b) ?? b));
  const clone = cpuUs(t);
  t = process.cpuUsage();
  const back = wire.map((w) => deserialize(w));
  const declone = cpuUs(t);
  const maker = new SdkRecordMaker(LOG_RECORD_LIMITS);
  t = process.cpuUsage();
  const sdk = back.map((b) => (Array.isArray(b) ? maker.make(b) : maker.makePacked(b)));
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
if (args.json) console.log(JSON.stringify({ stages: { ...best, total }, attributes, bytes: bytes / N }));
const sdkShare = (best["SDK records"] + best["SDK serializer"]) / total;
console.log(
  `export cost per detection (${attributes} attributes, ${Math.round(bytes / N)} protobuf bytes${FRESH_PROCESS ? ", a fresh process per detection" : ""}; CPU µs, best of ${ROUNDS} × ${N.toLocaleString("en")}):`,
);
for (const s of stages) console.log(`  ${s.padEnd(15)} ${best[s].toFixed(2).padStart(6)} µs`);
console.log(
  `  total           ${total.toFixed(2).padStart(6)} µs — the SDK's part ${(100 * sdkShare).toFixed(0)} %; one core makes ${Math.round(1e6 / total).toLocaleString("en")} detections/s, the SDK alone ${Math.round(1e6 / (best["SDK records"] + best["SDK serializer"])).toLocaleString("en")}/s per core`,
);
await sink.shutdown();

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

const N = Number(process.env.N ?? 50_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BATCH = 512;
const epochNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

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
// FRESH_PROCESS=1: every detection from a process never seen before (the per-process
// encoding cache never hits: the worst case); default: all from one process (a burst).
const FRESH_PROCESS = process.env.FRESH_PROCESS === "1";
function detection(tsNs) {
  const p = FRESH_PROCESS ? { ...proc } : proc;
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
      process: p,
      fd: undefined,
      fds: { get: () => undefined },
      processes: { get: () => p },
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

// Live detection latency, syscall → OTLP receiver: the built agent (default
// settings) with a one-rule ruleset matching opens of a marker file; a perl
// loop opens it at a steady rate; a gRPC receiver (worker thread) takes each
// record's timeUnixNano — the kernel's time of the syscall — from its arrival
// time. Needs root (the agent loads the eBPF sensor) and `npm run build`.
// Run: sudo node bench/export-latency-live.mjs   (RATE=1000 SECONDS=20)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";

const RATE = Number(process.env.RATE ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 20);
const ROOT = new URL("..", import.meta.url).pathname;

const RECEIVER = `
const { parentPort } = require("node:worker_threads");
const grpc = require(${JSON.stringify(createRequire(import.meta.url).resolve("@grpc/grpc-js"))});
function fields(buf, cb) {
  let at = 0;
  while (at < buf.length) {
    let key = 0, shift = 0, b;
    do { b = buf[at++]; key |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    const wire = key & 7;
    if (wire === 2) {
      let len = 0; shift = 0;
      do { b = buf[at++]; len += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
      cb(key >>> 3, buf.subarray(at, at + len)); at += len;
    } else if (wire === 0) { do { b = buf[at++]; } while (b & 0x80); }
    else if (wire === 1) at += 8; else if (wire === 5) at += 4;
  }
}
const server = new grpc.Server();
server.addService({ Export: { path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
  requestStream: false, responseStream: false, requestSerialize: (b) => b, requestDeserialize: (b) => b,
  responseSerialize: (b) => b, responseDeserialize: (b) => b } }, {
  Export(call, callback) {
    const now = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
    const latencies = [];
    fields(call.request, (f1, rl) => { if (f1 !== 1) return;
      fields(rl, (f2, sl) => { if (f2 !== 2) return;
        fields(sl, (f3, rec) => { if (f3 !== 2 || rec[0] !== 0x09) return;
          latencies.push(Number(now - Buffer.from(rec.buffer, rec.byteOffset + 1, 8).readBigUInt64LE(0)) / 1e6);
        }); }); });
    parentPort.postMessage({ latencies });
    callback(null, Buffer.alloc(0));
  } });
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) => parentPort.postMessage({ port }));
`;

const latencies = [];
const worker = new Worker(RECEIVER, { eval: true });
const port = await new Promise((resolve) => {
  worker.on("message", (m) => {
    if (m.port !== undefined) resolve(m.port);
    else for (const l of m.latencies) latencies.push(l);
  });
});

const work = mkdtempSync(join(tmpdir(), "pg-bench-live-"));
const marker = join(work, "marker");
writeFileSync(marker, "x");
const rules = join(work, "rules.yaml");
writeFileSync(
  rules,
  `- rule: Bench marker opened
  desc: bench
  condition: evt.type in (open, openat, openat2) and fd.name = ${marker}
  output: marker opened (file=%fd.name process=%proc.name pid=%proc.pid)
  priority: NOTICE
`,
);
const agent = spawn(
  process.execPath,
  [
    join(ROOT, "bin/peregrine.js"),
    "run",
    "-r",
    rules,
    "--output",
    "none",
    "--otlp-endpoint",
    `http://127.0.0.1:${port}`,
    "--metrics-address",
    "127.0.0.1:0",
    "-o",
    `otlp.spool.dir=${join(work, "spool")}`,
  ],
  { stdio: ["ignore", "ignore", "pipe"] },
);
let stderr = "";
await new Promise((resolve, reject) => {
  agent.stderr.setEncoding("utf8").on("data", (c) => {
    stderr += c;
    if (stderr.includes("ready")) resolve();
  });
  agent.once("exit", (code) => reject(new Error(`agent exited (${code}):\n${stderr}`)));
});

const total = RATE * SECONDS;
const script =
  "use Time::HiRes qw(time sleep); my ($n, $rate, $path) = @ARGV; my $t = time;" +
  "for my $i (0 .. $n - 1) { my $d = $t + $i / $rate - time; sleep($d) if $d > 0; open(my $f, '<', $path) or die; close($f); }";
await new Promise((resolve) =>
  spawn("/usr/bin/perl", ["-e", script, String(total), String(RATE), marker]).once("close", resolve),
);
const deadline = Date.now() + 15_000;
while (latencies.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
// The agent's own counts: where a missing detection was lost (kernel, rules, export).
const metricsUrl = /metrics on (http:\/\/\S+\/metrics)/.exec(stderr)?.[1];
let counts = "";
if (metricsUrl !== undefined) {
  const text = await (await fetch(metricsUrl)).text();
  const sum = (re) =>
    text
      .split("\n")
      .filter((line) => re.test(line))
      .reduce((a, line) => a + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
  counts =
    `; agent: ${sum(/^peregrine_rule_matches_total\{/)} rule matches, export sent ${sum(/^peregrine_export_records_total\{.*result="sent"/)} ` +
    `failed ${sum(/^peregrine_export_records_total\{.*result="failed"/)} spooled ${sum(/^peregrine_export_records_total\{.*result="spooled"/)} ` +
    `dropped ${sum(/^peregrine_export_records_total\{.*result="dropped"/)}, kernel drops ${sum(/^peregrine_kernel_drops_total\{/)}, ` +
    `openat events ${sum(/^peregrine_events_total\{type="openat"\}/)}`;
}
agent.kill("SIGTERM");
await new Promise((r) => agent.once("exit", r));
await worker.terminate();
rmSync(work, { recursive: true, force: true });

const l = latencies.sort((a, b) => a - b);
const q = (p) => (l[Math.min(l.length - 1, Math.floor(p * l.length))] ?? Number.NaN).toFixed(1);
console.log(
  `live syscall → receiver at ${RATE}/s for ${SECONDS} s, default settings: ${l.length} of ${total} detections received; ` +
    `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${(l[l.length - 1] ?? Number.NaN).toFixed(1)} ms${counts}`,
);

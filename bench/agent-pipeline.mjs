#!/usr/bin/env node
// ns per event through the agent's own per-record path — framing, decode,
// enrichment (process and fd tables), the default rules, the metrics — for a
// recorded capture replayed from memory in 64 KiB chunks (what a pipe read
// hands the agent), with /proc answered from the capture. No kernel, no
// loader: a stable figure for the part of `peregrine run` that decides how
// many events per CPU-second the agent keeps up with (kernel-overhead.mjs
// measures that live). Times are the process's CPU time per pass.
//
// Stages, each against the one before it in the same run:
//   frame     StreamFramer only (records cut out of the chunks)
//   decode    StreamDecoder with a no-op handler (framing + decode)
//   norules   StreamDecoder → Pipeline with an empty ruleset (what enrichment and the glue cost)
//   pipeline  StreamDecoder → Pipeline (enrich → rules → metrics), as `run` wires it
//
//   sudo node bench/agent-pipeline.mjs                      # records 3 s of an openat+close loop first
//   node bench/agent-pipeline.mjs --capture FILE            # or replays a `peregrine capture` file
//   node bench/agent-pipeline.mjs --capture FILE --baseline DIR   # DIR: another build's dist/, alternated with this one
//
// Needs `npm run build`. Prints figures; asserts nothing.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    capture: { type: "string" },
    // A second capture run through every stage before the timed rounds, e.g. a mixed
    // workload: the JIT then sees every event kind, as a live agent's does.
    warm: { type: "string" },
    baseline: { type: "string" },
    rounds: { type: "string", default: "5" },
    pairs: { type: "string", default: "400000" },
    stages: { type: "string", default: "frame,decode,norules,pipeline" },
  },
});
const ROUNDS = Number(values.rounds);
const STAGES = values.stages.split(",");
const CHUNK = 64 * 1024;

const LOOP_C = `
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	long n = atol(argv[1]);
	for (long i = 0; i < n; i++)
		close(open("/etc/hostname", O_RDONLY));
	return 0;
}
`;

/** A `peregrine capture` of the openat+close loop (the agent's CLI, so /proc answers are in it). */
async function recordCapture() {
  const work = mkdtempSync(join(tmpdir(), "pg-agent-bench-"));
  const loop = join(work, "openclose");
  writeFileSync(`${loop}.c`, LOOP_C);
  execFileSync("cc", ["-O2", "-o", loop, `${loop}.c`]);
  const path = join(tmpdir(), `peregrine-agent-bench-${process.pid}.pgcap`);
  const cap = spawn(process.execPath, [join(root, "bin/peregrine.js"), "capture", "-o", path], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  await new Promise((ok, fail) => {
    let err = "";
    cap.stderr.setEncoding("utf8").on("data", (t) => {
      err += t;
      if (/ready/.test(err)) ok();
    });
    cap.once("exit", (code) => fail(new Error(`capture exited ${code}: ${err}`)));
  });
  execFileSync(loop, [values.pairs]);
  cap.kill("SIGINT");
  await new Promise((r) => cap.once("exit", r));
  rmSync(work, { recursive: true, force: true });
  return path;
}

/** One build's modules (this checkout's dist/, or --baseline's). */
async function loadBuild(dist) {
  const m = (p) => import(pathToFileURL(join(dist, p)).href);
  const [decoder, framer, enricher, processTable, pipeline, ruleset, metrics, captureFormat, journal, users] =
    await Promise.all([
      m("decode/stream-decoder.js"),
      m("decode/stream-framer.js"),
      m("enrich/enricher.js"),
      m("enrich/process-table.js"),
      m("pipeline.js"),
      m("rules/ruleset.js"),
      m("export/metrics.js"),
      m("capture/capture-format.js"),
      m("capture/proc-journal.js"),
      m("capture/static-users.js"),
    ]);
  const rules = await ruleset.loadRules([join(root, "rules")]);
  return {
    dist,
    rules,
    noRules: ruleset.loadRulesFromText([]),
    StreamDecoder: decoder.StreamDecoder,
    StreamFramer: framer.StreamFramer,
    Enricher: enricher.Enricher,
    ProcessTable: processTable.ProcessTable,
    Pipeline: pipeline.Pipeline,
    PeregrineMetrics: metrics.PeregrineMetrics,
    openCapture: captureFormat.openCapture,
    ReplayProcSource: journal.ReplayProcSource,
    StaticUsers: users.StaticUsers,
  };
}

const capturePath = values.capture ?? (await recordCapture());
const builds = [await loadBuild(join(root, "dist"))];
if (values.baseline !== undefined) builds.push(await loadBuild(resolve(values.baseline)));

/** A capture's stream bytes, read once and cut as a pipe would hand them over. */
function loadCapture(path) {
  const parts = [];
  builds[0].openCapture(path).streamChunks((c) => parts.push(c));
  const bytes = Buffer.concat(parts);
  const chunks = [];
  for (let at = 0; at < bytes.length; at += CHUNK) chunks.push(bytes.subarray(at, at + CHUNK));
  return { path, bytes: bytes.length, chunks };
}
const main = loadCapture(capturePath);
const warm = values.warm === undefined ? undefined : loadCapture(values.warm);

let detections = 0;
const sink = { name: "count", emit: () => detections++, shutdown: async () => {} };

/** One pass over the capture through a stage; returns records handled. */
function pass(b, stage, { path, chunks } = main) {
  if (stage === "frame") {
    let n = 0;
    const f = new b.StreamFramer({ onHeader: () => {}, onRecord: () => n++ });
    for (const c of chunks) f.push(c);
    f.end();
    return n;
  }
  if (stage === "decode") {
    const d = new b.StreamDecoder({ onRecord: () => {} });
    for (const c of chunks) d.push(c);
    d.end();
    return d.stats.records;
  }
  // As replayCapture and `run` wire it: fresh tables, /proc from the capture, real metrics.
  const cap = b.openCapture(path);
  const source = new b.ReplayProcSource();
  source.add(cap.journal);
  const processes = new b.ProcessTable({ bootTimeNs: 0n, source });
  const users = new b.StaticUsers(cap.meta?.users ?? [], cap.meta?.groups ?? []);
  const metrics = new b.PeregrineMetrics({ version: "bench" });
  let pipeline;
  let seq = 0;
  const d = new b.StreamDecoder({
    onHeader: () => {
      const rules = stage === "norules" ? b.noRules : b.rules;
      pipeline = new b.Pipeline(new b.Enricher(processes, users, "bench"), rules, sink, metrics);
    },
    onRecord: (r) => {
      source.seq = ++seq;
      pipeline.handle(r);
    },
  });
  processes.seedFromProc();
  for (const c of chunks) d.push(c);
  d.end();
  return d.stats.records;
}

const fmt = (n) => Math.round(n).toLocaleString("en-US");
const label = (b) => (builds.length > 1 ? (b === builds[0] ? "this build" : "baseline  ") : "");
console.log(
  `capture ${capturePath}: ${fmt(main.bytes)} stream bytes, ${main.chunks.length} chunks of 64 KiB; ` +
    `${builds.map((b) => `${b.dist}: ${b.rules.rules.length} rules`).join("; ")}; ${ROUNDS} rounds`,
);
// Warm every build and stage once, untimed.
for (const b of builds) {
  for (const s of STAGES) {
    pass(b, s);
    if (warm !== undefined) pass(b, s, warm);
  }
}
const results = new Map();
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which build goes first, so drift on a shared machine hits both.
  const order = round % 2 === 0 ? builds : [...builds].reverse();
  for (const b of order) {
    for (const s of STAGES) {
      // CPU time (user + system, GC threads included), not wall time: on a shared machine
      // the time spent waiting for a core is not the agent's cost.
      const t0 = process.cpuUsage();
      const n = pass(b, s);
      const t1 = process.cpuUsage(t0);
      const ns = (t1.user + t1.system) * 1000;
      const key = `${label(b)} ${s}`;
      if (!results.has(key)) results.set(key, []);
      results.get(key).push(ns / n);
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [key, xs] of results) {
  const m = median(xs);
  console.log(
    `${key.padEnd(22)} median ${m.toFixed(0).padStart(5)} CPU ns/record = ${fmt(1e9 / m).padStart(10)} records per CPU-second  (rounds: ${xs.map((x) => x.toFixed(0)).join(" ")})`,
  );
}
if (builds.length > 1) {
  for (const s of STAGES) {
    const now = median(results.get(`${label(builds[0])} ${s}`));
    const base = median(results.get(`${label(builds[1])} ${s}`));
    console.log(`${s}: this build ${(base / now).toFixed(2)}× the baseline's speed`);
  }
}
console.log(`detections: ${detections} in all passes`);

#!/usr/bin/env node
// What one more rule costs the agent per record when it repeats a condition
// other rules already have: the default rules' openat rules nearly all start
// with the same macro (file_opened_for_reading, file_opened_for_writing …).
// Evaluated again for each rule, a repetition cost 10-31 ns per record; with
// the macro memo and the guard index (src/rules/macro-memo.ts,
// guard-index.ts) 1.5-2 ns (docs/rules.md, "How evaluation is optimized").
// Run it from a baseline checkout for the before figure. For each condition below:
// the agent's pipeline (decode → enrich → rules, as agent-pipeline.mjs runs
// it) on a capture with 0, 1 and 25 copies of a rule that never matches;
// (25 − 1) / 24 is the cost of each repetition. Times are process CPU time.
//
//   npm run build && node bench/agent-rule-prefix.mjs --capture FILE   (a `peregrine capture`, e.g. of the openat+close loop)
//
// Prints figures; asserts nothing.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: { capture: { type: "string" }, rounds: { type: "string", default: "5" } },
});
if (values.capture === undefined)
  throw new Error("--capture FILE is required (record one with `peregrine capture`)");
const ROUNDS = Number(values.rounds);
const m = (p) => import(pathToFileURL(join(root, "dist", p)).href);
const { StreamDecoder } = await m("decode/stream-decoder.js");
const { Enricher } = await m("enrich/enricher.js");
const { ProcessTable } = await m("enrich/process-table.js");
const { Pipeline } = await m("pipeline.js");
const { loadRulesFromText } = await m("rules/ruleset.js");
const { openCapture } = await m("capture/capture-format.js");
const { ReplayProcSource } = await m("capture/proc-journal.js");
const { StaticUsers } = await m("capture/static-users.js");

const capturePath = values.capture;
const common = readFileSync(join(root, "rules/00-common.yaml"), "utf8");
const parts = [];
openCapture(capturePath).streamChunks((c) => parts.push(c));
const bytes = Buffer.concat(parts);
const chunks = [];
for (let at = 0; at < bytes.length; at += 64 * 1024) chunks.push(bytes.subarray(at, at + 64 * 1024));
const sink = { name: "none", emit() {}, shutdown: async () => {} };

function pass(rules) {
  const cap = openCapture(capturePath);
  const source = new ReplayProcSource();
  source.add(cap.journal);
  const processes = new ProcessTable({ bootTimeNs: 0n, source });
  const users = new StaticUsers(cap.meta?.users ?? [], cap.meta?.groups ?? []);
  let pipeline;
  let seq = 0;
  const d = new StreamDecoder({
    onHeader: () => {
      pipeline = new Pipeline(new Enricher(processes, users, "bench"), rules, sink, undefined);
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

/** Median CPU ns per record over ROUNDS passes. */
function cpuPerRecord(rules) {
  const xs = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.cpuUsage();
    const n = pass(rules);
    const t = process.cpuUsage(t0);
    xs.push(((t.user + t.system) * 1000) / n);
  }
  return xs.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

/** The default rules' macros plus n copies of a rule with this condition. */
function ruleset(n, condition) {
  const copies = Array.from(
    { length: n },
    (_, i) => `- rule: copy ${i}\n  desc: d\n  condition: ${condition}\n  output: o\n  priority: NOTICE\n`,
  ).join("");
  return loadRulesFromText([
    { name: "00-common.yaml", text: common },
    { name: "copies.yaml", text: copies },
  ]);
}

const CONDITIONS = {
  "file_opened_for_reading and fd.name = X": "file_opened_for_reading and fd.name = /nonexistent/x",
  "file_opened_for_reading and fd.directory/fd.filename":
    "file_opened_for_reading and fd.directory endswith /.ssh and fd.filename startswith id_",
  "evt.type = openat and fd.name = X": "evt.type = openat and fd.name = /nonexistent/x",
};
const none = ruleset(0, "evt.type = openat");
pass(none);
console.log(`capture ${capturePath}; ${ROUNDS} rounds per figure`);
for (const [name, condition] of Object.entries(CONDITIONS)) {
  const one = ruleset(1, condition);
  const many = ruleset(25, condition);
  pass(one);
  pass(many);
  const base = cpuPerRecord(none);
  const c1 = cpuPerRecord(one);
  const c25 = cpuPerRecord(many);
  console.log(
    `${name}: 1 rule +${(c1 - base).toFixed(0)} ns/record, 25 rules +${(c25 - base).toFixed(0)} ns/record → ${((c25 - c1) / 24).toFixed(1)} ns per repeated rule per record`,
  );
}

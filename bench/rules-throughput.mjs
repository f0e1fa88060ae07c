#!/usr/bin/env node
// Events/s through rule evaluation alone (Ruleset.evaluate), on the enriched
// events of a recorded capture of a realistic mix, for (a) our default rules
// and (b) Falco's three published rules files when PEREGRINE_UPSTREAM_RULES
// names a folder holding them; plus each set's compile time. A no-rules
// pass over the same events is the baseline (loop and call overhead).
//
//   sudo node bench/rules-throughput.mjs                   # records a 3 s live capture first
//   node bench/rules-throughput.mjs --capture FILE         # or replays one you have
//   PEREGRINE_UPSTREAM_RULES=/tmp/falco-upstream-rules node bench/rules-throughput.mjs --capture FILE
//
// Needs `npm run build`. Single-threaded: the figure is per core. Prints figures; asserts nothing.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { StreamDecoder } from "../dist/decode/stream-decoder.js";
import { Enricher } from "../dist/enrich/enricher.js";
import { ProcessTable } from "../dist/enrich/process-table.js";
import { UserDb } from "../dist/enrich/user-db.js";
import { loadRulesFromText, readRulesSources } from "../dist/rules/ruleset.js";
import { writeCaptureFile } from "../dist/sensor/capture-file.js";
import { startSensor } from "../dist/sensor/loader-process.js";
import { DEFAULT_RULES_DIR } from "../dist/version.js";

const { values } = parseArgs({
  options: {
    capture: { type: "string" },
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "30" },
  },
});

/** A mix like a build host's: compilers and shells starting, many file opens, some connects. */
const WORKLOAD = `
end=$(( $(date +%s) + SECONDS_ ))
while [ $(date +%s) -lt $end ]; do
  cat /etc/hostname /etc/os-release > /dev/null
  ls -la /usr/bin > /dev/null
  sh -c 'head -c 10 /etc/passwd; grep -r PATH /etc/profile' > /dev/null 2>&1
  git -C ${process.cwd()} status --short > /dev/null 2>&1
  (exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null
  mkdir -p /tmp/pg-bench-$$ && touch /tmp/pg-bench-$$/f && mv /tmp/pg-bench-$$/f /tmp/pg-bench-$$/g && rm -rf /tmp/pg-bench-$$
done`;

async function recordCapture(seconds) {
  const raw = [];
  const sensor = await startSensor({
    onRecord: () => {},
    onRawRecord: (buf, offset, size) => raw.push(Buffer.from(buf.subarray(offset, offset + size))),
  });
  await new Promise((resolve) => {
    spawn("bash", ["-c", WORKLOAD.replace("SECONDS_", String(seconds))], { stdio: "ignore" }).on(
      "exit",
      resolve,
    );
  });
  await sensor.stop();
  const path = join(tmpdir(), `peregrine-rules-bench-${process.pid}.pgcap`);
  await writeCaptureFile(path, sensor.header, raw);
  return path;
}

/** Decodes and enriches the capture once; the events keep the state as the enricher saw it. */
function enrichedEvents(bytes) {
  const table = new ProcessTable({ bootTimeNs: 0n, readProc: false });
  const enricher = new Enricher(table, new UserDb(), "bench");
  const out = [];
  const decoder = new StreamDecoder({
    onRecord: (rec) => {
      if (rec.kind === "stats") return;
      out.push(enricher.enrich(rec));
      enricher.afterRules(rec);
    },
  });
  decoder.push(bytes);
  decoder.end();
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function compileTime(sources, n = 7) {
  const times = [];
  let rs;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    rs = loadRulesFromText(sources);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ruleset: rs, ms: median(times) };
}

/** Evaluates every event `rounds` times; a fresh shallow copy per evaluation, as the live enricher makes. */
function measure(label, events, rounds, evaluate) {
  let detections = 0;
  const emit = () => detections++;
  for (const e of events) evaluate({ ...e }, emit); // warm-up round
  detections = 0;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (let i = 0; i < events.length; i++) evaluate({ ...events[i] }, emit);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const n = events.length * rounds;
  const perSecond = n / s;
  console.log(
    `${label.padEnd(40)} ${Math.round(perSecond).toLocaleString("en").padStart(12)} events/s  (${((s / n) * 1e9).toFixed(0)} ns/event, ${(detections / rounds).toFixed(0)} detections/round)`,
  );
  return perSecond;
}

const capturePath = values.capture ?? (await recordCapture(Number(values.seconds)));
const events = enrichedEvents(readFileSync(capturePath));
const rounds = Number(values.rounds);
const mix = new Map();
for (const e of events) mix.set(e.event.evtType, (mix.get(e.event.evtType) ?? 0) + 1);
console.log(`capture ${capturePath}: ${events.length.toLocaleString("en")} events; ${rounds} rounds`);
console.log(
  `mix: ${[...mix]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([t, n]) => `${t} ${((100 * n) / events.length).toFixed(1)}%`)
    .join(", ")}`,
);

const baseline = measure("baseline (no rules: copy + call)", events, rounds, () => {});

const ours = compileTime(await readRulesSources([DEFAULT_RULES_DIR]));
console.log(`(a) default rules: ${ours.ruleset.rules.length} rules, compile ${ours.ms.toFixed(1)} ms`);
const a = measure("(a) default rules", events, rounds, (e, emit) => ours.ruleset.evaluate(e, emit));

const upstreamDir = process.env.PEREGRINE_UPSTREAM_RULES;
if (upstreamDir === undefined || !existsSync(upstreamDir)) {
  console.log(
    "(b) skipped: set PEREGRINE_UPSTREAM_RULES to a folder with falco_rules.yaml, falco-incubating_rules.yaml, falco-sandbox_rules.yaml",
  );
} else {
  const files = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]
    .map((f) => join(upstreamDir, f))
    .filter((f) => existsSync(f));
  if (files.length === 0)
    console.log(
      `(b) skipped: no upstream rules files in ${upstreamDir} (${readdirSync(upstreamDir).join(", ")})`,
    );
  else {
    const up = compileTime(await readRulesSources(files));
    const unsupported = new Set(up.ruleset.unsupportedFields.map((u) => u.field));
    console.log(
      `(b) upstream rules (${files.length} files): ${up.ruleset.rules.length} enabled rules, compile ${up.ms.toFixed(1)} ms; ${unsupported.size} unsupported fields in use`,
    );
    measure("(b) upstream rules", events, rounds, (e, emit) => up.ruleset.evaluate(e, emit));
  }
}
console.log(`(a) runs at ${(a / baseline).toFixed(2)}× the baseline loop`);

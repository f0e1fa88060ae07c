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
//   node bench/rules-throughput.mjs --capture FILE --baseline DIR   # DIR: another built checkout (or its dist/)
//
// With --baseline, each build decodes and enriches the capture with its own
// code, and the two are measured in alternating rounds in this one process
// (the machine is shared: alternation spreads a disturbance over both), each
// figure the median of the rounds; a final line gives this build's speed as
// a multiple of the baseline's.
//
// Needs `npm run build`. Single-threaded: the figure is per core. Prints figures; asserts nothing.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    capture: { type: "string" },
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "30" },
    baseline: { type: "string" },
  },
});

/** One build's modules: this checkout's dist/, or the baseline's. */
async function loadBuild(dir) {
  const dist = existsSync(join(dir, "dist")) ? join(dir, "dist") : dir;
  const m = (p) => import(pathToFileURL(join(dist, p)).href);
  const [decoder, enricher, table, users, ruleset, captureFile, loader, version] = await Promise.all([
    m("decode/stream-decoder.js"),
    m("enrich/enricher.js"),
    m("enrich/process-table.js"),
    m("enrich/user-db.js"),
    m("rules/ruleset.js"),
    m("sensor/capture-file.js"),
    m("sensor/loader-process.js"),
    m("version.js"),
  ]);
  return {
    dist,
    StreamDecoder: decoder.StreamDecoder,
    Enricher: enricher.Enricher,
    ProcessTable: table.ProcessTable,
    UserDb: users.UserDb,
    loadRulesFromText: ruleset.loadRulesFromText,
    readRulesSources: ruleset.readRulesSources,
    writeCaptureFile: captureFile.writeCaptureFile,
    startSensor: loader.startSensor,
    DEFAULT_RULES_DIR: version.DEFAULT_RULES_DIR,
  };
}
const builds = [await loadBuild(root)];
if (values.baseline !== undefined) builds.push(await loadBuild(resolve(values.baseline)));
const { readRulesSources } = builds[0];
const { writeCaptureFile, startSensor, DEFAULT_RULES_DIR } = builds[0];

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

/** Decodes and enriches the capture once with a build's code; the events keep the state as the enricher saw it. */
function enrichedEvents(b, bytes) {
  const table = new b.ProcessTable({ bootTimeNs: 0n, readProc: false });
  const enricher = new b.Enricher(table, new b.UserDb(), "bench");
  const out = [];
  const decoder = new b.StreamDecoder({
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

function compileTime(load, sources, n = 7) {
  const times = [];
  let rs;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    rs = load(sources);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ruleset: rs, ms: median(times) };
}

/**
 * Evaluates every event once per round, a fresh shallow copy per evaluation
 * as the live enricher makes; `subjects` (one per build) alternate round by
 * round. Prints each one's median events/s; returns them.
 */
function measure(label, subjects, rounds) {
  const runs = subjects.map(() => []);
  const found = subjects.map(() => 0);
  for (const s of subjects) for (const e of s.events) s.evaluate({ ...e }, () => {}); // warm-up round
  for (let r = 0; r < rounds; r++) {
    subjects.forEach((s, k) => {
      const { events, evaluate } = s;
      let detections = 0;
      const emit = () => detections++;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < events.length; i++) evaluate({ ...events[i] }, emit);
      runs[k].push(Number(process.hrtime.bigint() - t0) / events.length);
      found[k] = detections;
    });
  }
  return subjects.map((_s, k) => {
    const ns = median(runs[k]);
    const name = subjects.length > 1 ? `${label} [${k === 0 ? "this build" : "baseline"}]` : label;
    console.log(
      `${name.padEnd(52)} ${Math.round(1e9 / ns)
        .toLocaleString("en")
        .padStart(
          12,
        )} events/s  (${ns.toFixed(0)} ns/event, min ${Math.min(...runs[k]).toFixed(0)} max ${Math.max(...runs[k]).toFixed(0)}; ${found[k]} detections/round)`,
    );
    return 1e9 / ns;
  });
}

const capturePath = values.capture ?? (await recordCapture(Number(values.seconds)));
const bytes = readFileSync(capturePath);
const eventsOf = builds.map((b) => enrichedEvents(b, bytes));
const events = eventsOf[0];
const rounds = Number(values.rounds);
const mix = new Map();
for (const e of events) mix.set(e.event.evtType, (mix.get(e.event.evtType) ?? 0) + 1);
console.log(
  `capture ${capturePath}: ${events.length.toLocaleString("en")} events; ${rounds} rounds${builds.length > 1 ? `; baseline ${builds[1].dist}, alternated` : ""}`,
);
console.log(
  `mix: ${[...mix]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([t, n]) => `${t} ${((100 * n) / events.length).toFixed(1)}%`)
    .join(", ")}`,
);

const [loop] = measure("baseline (no rules: copy + call)", [{ events, evaluate: () => {} }], rounds);

/** Compiles one rules set with every build, measures them alternated, prints the ratio. */
function compareSets(tag, sourcesOf) {
  const subjects = builds.map((b, k) => {
    const c = compileTime(b.loadRulesFromText, sourcesOf(b));
    const rs = c.ruleset;
    const extra =
      tag === "(b) upstream rules"
        ? `; ${new Set(rs.unsupportedFields.map((u) => u.field)).size} unsupported fields in use`
        : "";
    console.log(
      `${tag}${builds.length > 1 ? ` [${k === 0 ? "this build" : "baseline"}]` : ""}: ${rs.rules.length} enabled rules, compile ${c.ms.toFixed(1)} ms${extra}`,
    );
    return { events: eventsOf[k], evaluate: (e, emit) => rs.evaluate(e, emit) };
  });
  const speeds = measure(tag, subjects, rounds);
  if (speeds.length > 1)
    console.log(`${tag}: this build at ${(speeds[0] / speeds[1]).toFixed(2)}× the baseline's speed`);
  return speeds[0];
}

const defaultSources = await Promise.all(builds.map((b) => b.readRulesSources([DEFAULT_RULES_DIR])));
const a = compareSets("(a) default rules", (b) => defaultSources[builds.indexOf(b)]);

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
    console.log(`(b) upstream rules: ${files.length} files`);
    const upstream = await readRulesSources(files);
    compareSets("(b) upstream rules", () => upstream);
  }
}
console.log(`(a) runs at ${(a / loop).toFixed(2)}× the baseline loop`);

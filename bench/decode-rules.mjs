#!/usr/bin/env node
// Events/s through decode → enrich → rules (our default rules) for a recorded
// capture, against decode alone in the same process, so the ratio says what
// enrichment and rules cost on top of decoding.
//
//   sudo node bench/decode-rules.mjs                  # records a 3 s live capture first
//   node bench/decode-rules.mjs --capture FILE        # or replays one you have
//
// Needs `npm run build`. Prints figures; asserts nothing.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { StreamDecoder } from "../dist/decode/stream-decoder.js";
import { Enricher } from "../dist/enrich/enricher.js";
import { ProcessTable } from "../dist/enrich/process-table.js";
import { UserDb } from "../dist/enrich/user-db.js";
import { Pipeline } from "../dist/pipeline.js";
import { loadRules } from "../dist/rules/ruleset.js";
import { writeCaptureFile } from "../dist/sensor/capture-file.js";
import { startSensor } from "../dist/sensor/loader-process.js";
import { DEFAULT_RULES_DIR } from "../dist/version.js";

const { values } = parseArgs({
  options: {
    capture: { type: "string" },
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "20" },
  },
});

/** A mix like a busy host's: short-lived processes, file opens, a few connects. */
const WORKLOAD = `
end=$(( $(date +%s) + SECONDS_ ))
while [ $(date +%s) -lt $end ]; do
  cat /etc/hostname /etc/os-release > /dev/null
  ls /usr/bin > /dev/null
  sh -c 'head -c 10 /etc/passwd' > /dev/null
  (exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null
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
  const path = join(tmpdir(), `peregrine-bench-${process.pid}.pgcap`);
  await writeCaptureFile(path, sensor.header, raw);
  return path;
}

function replay(bytes, handle) {
  const decoder = new StreamDecoder({ onRecord: handle });
  decoder.push(bytes);
  decoder.end();
  return decoder.stats.decoded;
}

function measure(label, rounds, bytes, makeHandler) {
  // One untimed round to warm the JIT, then the timed rounds.
  replay(bytes, makeHandler());
  let records = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) records += replay(bytes, makeHandler());
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const perSecond = records / seconds;
  console.log(
    `${label.padEnd(34)} ${records.toLocaleString("en")} records in ${seconds.toFixed(3)} s = ${Math.round(perSecond).toLocaleString("en")} records/s`,
  );
  return perSecond;
}

const capturePath = values.capture ?? (await recordCapture(Number(values.seconds)));
const bytes = readFileSync(capturePath);
const ruleset = await loadRules([DEFAULT_RULES_DIR]);
let detections = 0;
const sink = { name: "count", emit: () => detections++, shutdown: async () => {} };
const users = new UserDb();
const rounds = Number(values.rounds);

console.log(
  `capture ${capturePath}: ${bytes.length.toLocaleString("en")} bytes; ${ruleset.rules.length} rules; ${rounds} rounds`,
);
const decodeOnly = measure("decode only", rounds, bytes, () => () => {});
const full = measure("decode → enrich → rules", rounds, bytes, () => {
  // A fresh table per round, filled from the capture's own fork/exec events as a replay would.
  const table = new ProcessTable({ bootTimeNs: 0n, readProc: false });
  return new Pipeline(new Enricher(table, users, "bench"), ruleset, sink, undefined).handle;
});
console.log(`detections per round: ${detections / (rounds + 1)}`);
console.log(`decode → rules runs at ${(full / decodeOnly).toFixed(2)}× the speed of decode alone`);

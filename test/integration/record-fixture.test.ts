/**
 * Records test/fixtures/true-and-cat.pgcap from the live loader. Not a test:
 * it runs only with PEREGRINE_RECORD_FIXTURE=1 (as root, loader built):
 *
 *   PEREGRINE_RECORD_FIXTURE=1 npx vitest run test/integration/record-fixture.test.ts
 *
 * Re-recording changes pids and times: update test/decode/capture-fixture.test.ts.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { DecodedRecord } from "../../src/decode/events.js";
import { encodeStreamHeader } from "../../src/decode/stream-header.js";
import { writeCaptureFile } from "../../src/sensor/capture-file.js";
import { startSensor } from "../../src/sensor/loader-process.js";
import { liveSkipReason, RecordLog, run } from "./live-support.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/true-and-cat.pgcap", import.meta.url));
const reason =
  process.env.PEREGRINE_RECORD_FIXTURE === "1"
    ? liveSkipReason()
    : "records a fixture; set PEREGRINE_RECORD_FIXTURE=1 to run";
if (reason) console.warn(`test/integration/record-fixture.test.ts skipped: ${reason}`);

describe.skipIf(reason !== undefined)("record the true-and-cat fixture", () => {
  it("captures a shell running /bin/true and cat /etc/hostname", async () => {
    const raw: { rec: Buffer; decoded?: DecodedRecord }[] = [];
    const log = new RecordLog();
    const sensor = await startSensor({
      statsIntervalMs: 60_000,
      // Process lifecycle, opens, and the shell's redirection (dup2 + close).
      eventTypes: new Set([
        "openat",
        "open",
        "execve",
        "clone",
        "vfork",
        "fork",
        "procexit",
        "dup2",
        "close",
      ]),
      exactEventTypes: true,
      onRawRecord: (buf, offset, size) => {
        raw.push({ rec: Buffer.from(buf.subarray(offset, offset + size)) });
      },
      onRecord: (rec) => {
        const last = raw[raw.length - 1];
        if (last) last.decoded = rec;
        log.push(rec);
      },
    });
    const result = await run("/bin/sh", ["-c", "/bin/true; cat /etc/hostname >/dev/null; exit 3"]);
    await log.waitFor(
      (r): r is DecodedRecord => r.kind === "exit" && r.tgid === result.pid,
      "the shell's exit",
    );
    await sensor.stop();

    // The shell and everything it forked, plus the final counters.
    const family = new Set([result.pid]);
    const keep: Buffer[] = [];
    let lastStats: Buffer | undefined;
    for (const { rec, decoded } of raw) {
      if (decoded?.kind === "stats") lastStats = rec;
      else if (decoded && family.has(decoded.tgid)) {
        if (decoded.kind === "fork") family.add(decoded.childTgid);
        keep.push(rec);
      }
    }
    if (lastStats) keep.push(lastStats);
    await writeCaptureFile(FIXTURE, encodeStreamHeader(sensor.header), keep);
    expect(keep.length).toBeGreaterThan(5);
  });
});

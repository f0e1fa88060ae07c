import { type ChildProcess, spawn } from "node:child_process";
import { PassThrough, Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { BoundedLineWriter } from "../../src/export/line-writer.js";
import { createStdoutSink } from "../../src/export/stdout.js";
import { makeDetection } from "../support/detection-fixtures.js";
import { recordingCounters } from "../support/recording-counters.js";

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

function collect(stream: PassThrough): () => string {
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  return () => text;
}

describe("stdout sink", () => {
  it("writes one Falco JSON object per line when not on a TTY, in as few writes as it can", async () => {
    const stream = new PassThrough();
    const read = collect(stream);
    let writes = 0;
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string, cb: (e?: Error | null) => void) => {
      writes++;
      return write(chunk, cb);
    }) as typeof stream.write;
    const counters = recordingCounters();
    const sink = createStdoutSink({ stream, counters });
    expect(sink.format).toBe("json");
    for (let i = 0; i < 3; i++) sink.emit(makeDetection({ outputFields: { n: i } }));
    expect(counters.readQueueLength()).toBe(3);
    await sink.shutdown();
    const lines = read().split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((l) => JSON.parse(l).output_fields.n)).toEqual([0, 1, 2]);
    expect(writes).toBe(1); // the three lines of one turn went out together
    expect(counters.totals).toEqual({ sent: 3, failed: 0, spooled: 0, dropped: 0 });
    expect(counters.readQueueLength()).toBe(0);
  });

  it("writes text on a TTY", async () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true });
    const read = collect(stream);
    const sink = createStdoutSink({ stream, timeZone: "utc" });
    expect(sink.format).toBe("text");
    sink.emit(makeDetection());
    await sink.shutdown();
    expect(read()).toMatch(
      /^17:42:04\.123456789: Warning \[Read sensitive file untrusted\] Sensitive file opened/,
    );
  });

  it("drops and counts when a real pipe's reader does not read, and stays within its bound", async () => {
    // `sleep` never reads its stdin: the kernel pipe fills (64 KiB) and Node would buffer the rest for ever.
    const child = spawn("sleep", ["30"], { stdio: ["pipe", "ignore", "ignore"] });
    children.push(child);
    const stdin = child.stdin;
    if (stdin === null) throw new Error("no stdin pipe");
    const counters = recordingCounters();
    const maxBufferedChars = 256 * 1024;
    const sink = createStdoutSink({ stream: stdin, counters, maxBufferedChars, shutdownTimeoutMillis: 100 });
    const detection = makeDetection({ output: "x".repeat(1000) });
    let emitted = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 500; i++) {
        sink.emit(detection);
        emitted++;
      }
      await nextTurn();
      // What waits in memory never exceeds the bound (by more than the line that was in progress).
      expect(stdin.writableLength).toBeLessThanOrEqual(maxBufferedChars + 1200);
    }
    const { sent, failed, dropped } = counters.totals;
    expect(dropped).toBeGreaterThan(emitted / 2);
    expect(failed).toBe(0);
    expect(sent).toBeLessThan(emitted - dropped); // some still queued in the stream
    expect(counters.readQueueLength()).toBe(emitted - dropped - sent);

    // The reader goes away: EPIPE must not crash the agent; what follows is dropped and counted.
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    await sink.shutdown();
    sink.emit(detection);
    const after = counters.totals;
    expect(after.sent + after.failed + after.dropped).toBe(emitted + 1);
  });

  it("survives a stream that fails, counting what it could not write", async () => {
    const failing = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
      },
    });
    const counters = recordingCounters();
    const sink = createStdoutSink({ stream: failing, counters });
    sink.emit(makeDetection());
    sink.emit(makeDetection());
    await nextTurn();
    await nextTurn();
    sink.emit(makeDetection());
    await sink.shutdown();
    expect(counters.totals).toEqual({ sent: 0, failed: 2, spooled: 0, dropped: 1 });
  });

  it("bounds shutdown when the stream never drains", async () => {
    const stuck = new Writable({
      highWaterMark: 1,
      write() {
        // never calls back
      },
    });
    const counters = recordingCounters();
    const sink = createStdoutSink({ stream: stuck, counters, shutdownTimeoutMillis: 50 });
    sink.emit(makeDetection());
    sink.emit(makeDetection());
    const started = Date.now();
    await sink.shutdown();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(counters.totals).toEqual({ sent: 0, failed: 0, spooled: 0, dropped: 2 });
    expect(counters.readQueueLength()).toBe(0);
  });
});

describe("BoundedLineWriter", () => {
  it("refuses a line that would take it over the bound, and accepts again once there is room", async () => {
    const stream = new PassThrough();
    collect(stream);
    const counters = recordingCounters();
    const writer = new BoundedLineWriter(stream, { counters, maxBufferedChars: 10 });
    writer.write("12345\n");
    writer.write("abcde\n"); // 6 + 6 > 10
    expect(counters.totals.dropped).toBe(1);
    await nextTurn(); // flushed, and the reader has taken it
    await nextTurn();
    writer.write("abcde\n");
    await writer.close(100);
    expect(counters.totals).toEqual({ sent: 2, failed: 0, spooled: 0, dropped: 1 });
  });
});

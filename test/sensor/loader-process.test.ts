/**
 * The sensor's process plumbing, without a kernel: stand-in "loaders" are
 * shell scripts that write a capture to stdout (or fail) the way the real
 * loader would. The real loader is covered by test/integration/sensor.test.ts.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { DecodedRecord } from "../../src/decode/events.js";
import { encodeStreamHeader } from "../../src/decode/stream-header.js";
import { loaderArgs, startSensor } from "../../src/sensor/loader-process.js";
import { buildExit } from "../decode/wire-builder.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/true-and-cat.pgcap", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "peregrine-fake-loader-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Polls until cond() holds (records arrive asynchronously from the pipe). */
async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

function fakeLoader(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("startSensor with a stand-in loader", () => {
  it("passes the agent's pid and the options to the loader", () => {
    expect(
      loaderArgs({ ignorePids: [4242, process.pid], ringbufBytes: 65536, statsIntervalMs: 250 }),
    ).toEqual([
      "--ignore-pid",
      String(process.pid),
      "--ignore-pid",
      "4242",
      "--ringbuf-bytes",
      "65536",
      "--stats-interval-ms",
      "250",
    ]);
    // The loader's own default (raw) unless a mode is asked for.
    expect(loaderArgs({})).not.toContain("--attach");
    expect(loaderArgs({ attach: "raw" })).toEqual(["--ignore-pid", String(process.pid), "--attach", "raw"]);
    expect(loaderArgs({ attach: "tracepoints" }).slice(-2)).toEqual(["--attach", "tracepoints"]);
  });

  it("resolves on the stream header, delivers records, and stops with SIGTERM", async () => {
    const args = join(dir, "args.txt");
    const loaderPath = fakeLoader("replay", `echo "$@" > ${args}; cat ${FIXTURE}; exec sleep 30`);
    const records: DecodedRecord[] = [];
    const exits: unknown[] = [];
    const sensor = await startSensor({
      loaderPath,
      statsIntervalMs: 100,
      onRecord: (r) => records.push(r),
      onLoaderExit: (code, signal) => exits.push([code, signal]),
    });
    expect(sensor.header).toMatchObject({ loaderPid: 26255, hostname: "vm" });
    await until(() => records.length === 37);
    await sensor.stop();
    expect(records).toHaveLength(37);
    expect(sensor.decoderStats).toMatchObject({ records: 37, decoded: 37, framingErrors: 0 });
    expect(exits).toEqual([[null, "SIGTERM"]]);
  });

  it("hands each stderr line of the loader to onLoaderStderr, also a line written in pieces", async () => {
    const loaderPath = fakeLoader(
      "stderr-lines",
      `printf 'peregrine-loader: falling back' >&2; sleep 0.2; printf ' to --attach raw\\nsecond\\n' >&2; cat ${FIXTURE}; exec sleep 30`,
    );
    const lines: string[] = [];
    const sensor = await startSensor({
      loaderPath,
      onRecord: () => {},
      onLoaderStderr: (l) => lines.push(l),
    });
    await until(() => lines.length === 2);
    await sensor.stop();
    expect(lines).toEqual(["peregrine-loader: falling back to --attach raw", "second"]);
  });

  it("rejects with the loader's stderr when it exits before attaching", async () => {
    const loaderPath = fakeLoader(
      "no-perm",
      'echo "peregrine-loader: failed to load BPF object: Operation not permitted" >&2; exit 3',
    );
    await expect(startSensor({ loaderPath, onRecord: () => {} })).rejects.toThrow(
      "peregrine-loader exited with code 3 before attaching: peregrine-loader: failed to load BPF object: Operation not permitted",
    );
  });

  it("rejects when the loader binary is missing, saying how to build it", async () => {
    await expect(startSensor({ loaderPath: join(dir, "nope"), onRecord: () => {} })).rejects.toThrow(
      /not found or not executable at .*nope: build it with `make -C bpf`/,
    );
  });

  it("reports a framing error, stops the loader and delivers nothing after it", async () => {
    const stream = join(dir, "broken.pgcap");
    const bad = buildExit();
    bad.writeUInt32LE(12, 8); // hdr.size below the record header
    writeFileSync(
      stream,
      Buffer.concat([
        encodeStreamHeader({ bootTimeNs: 0n, loaderPid: 1, hostname: "x" }),
        buildExit(),
        bad,
        buildExit(),
      ]),
    );
    const loaderPath = fakeLoader("broken", `cat ${stream}; exec sleep 30`);
    const records: DecodedRecord[] = [];
    let exited!: () => void;
    const exitSeen = new Promise<void>((r) => {
      exited = r;
    });
    const errors: Error[] = [];
    const sensor = await startSensor({
      loaderPath,
      onRecord: (r) => records.push(r),
      onError: (e) => errors.push(e),
      onLoaderExit: () => exited(),
    });
    await exitSeen;
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/byte offset 120: record size 12/)]);
    expect(records).toHaveLength(1);
    expect(sensor.decoderStats.framingErrors).toBe(1);
    await sensor.stop();
  });

  it("reports an exception thrown by onRecord without breaking the stream", async () => {
    const loaderPath = fakeLoader("replay2", `cat ${FIXTURE}; exec sleep 30`);
    const errors: Error[] = [];
    let n = 0;
    const sensor = await startSensor({
      loaderPath,
      onRecord: () => {
        n++;
        if (n === 1) throw new Error("consumer bug");
      },
      onError: (e) => errors.push(e),
    });
    await until(() => n === 37);
    await sensor.stop();
    expect(errors.map((e) => e.message)).toEqual(["consumer bug"]);
    expect(n).toBe(37);
  });
});

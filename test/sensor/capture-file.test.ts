import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecodedRecord } from "../../src/decode/events.js";
import { FramingError } from "../../src/decode/stream-framer.js";
import { StreamHeaderError } from "../../src/decode/stream-header.js";
import { readCaptureFile, writeCaptureFile } from "../../src/sensor/capture-file.js";
import { buildExit, buildOpen } from "../decode/wire-builder.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "peregrine-capture-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const header = { bootTimeNs: 5_000_000_000n, loaderPid: 1, hostname: "cap" };

describe("capture files", () => {
  it("writes and reads back header and records", async () => {
    const path = join(dir, "ok.pgcap");
    await writeCaptureFile(path, { ...header, schemaVersion: 1, headerSize: 88 }, [
      buildOpen({ path: "/a" }),
      buildExit({ exitCode: 256 }),
    ]);
    const recs: DecodedRecord[] = [];
    const raw: number[] = [];
    const summary = await readCaptureFile(path, (r) => recs.push(r), {
      onRawRecord: (_b, _o, size) => raw.push(size),
    });
    expect(summary.header).toMatchObject(header);
    expect(recs).toEqual([
      expect.objectContaining({ kind: "open", path: "/a", tsNs: 5_001_000_000n }),
      expect.objectContaining({ kind: "exit", exitCode: 256 }),
    ]);
    expect(raw).toEqual([64, 32]);
  });

  it("rejects a file that is not a capture, and a cut one after delivering what is whole", async () => {
    const notCapture = join(dir, "text.pgcap");
    await writeFile(notCapture, "hello, this is text\n");
    await expect(readCaptureFile(notCapture, () => {})).rejects.toThrow(StreamHeaderError);

    const ok = join(dir, "whole.pgcap");
    await writeCaptureFile(ok, { ...header, schemaVersion: 1, headerSize: 88 }, [buildExit(), buildExit()]);
    const cut = join(dir, "cut.pgcap");
    const bytes = await readFile(ok);
    await writeFile(cut, bytes.subarray(0, bytes.length - 3));
    const recs: DecodedRecord[] = [];
    await expect(readCaptureFile(cut, (r) => recs.push(r))).rejects.toThrow(FramingError);
    expect(recs).toHaveLength(1);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DecodedRecord } from "../../src/decode/events.js";
import { PG_HDR, PG_STREAM_HEADER } from "../../src/decode/layout.generated.js";
import { StreamDecoder } from "../../src/decode/stream-decoder.js";
import { FramingError, StreamFramer } from "../../src/decode/stream-framer.js";
import { encodeStreamHeader, StreamHeaderError } from "../../src/decode/stream-header.js";
import {
  argsOf,
  buildConnect,
  buildExec,
  buildExit,
  buildFork,
  buildOpen,
  buildRaw,
  buildStats,
} from "./wire-builder.js";

const HEADER = encodeStreamHeader({ bootTimeNs: 10n ** 18n, loaderPid: 77, hostname: "h" });

/** Cuts buf at the given (sorted, deduplicated) positions. */
function split(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    parts.push(buf.subarray(prev, p));
    prev = p;
  }
  return parts;
}

function decodeAll(chunks: readonly Buffer[]): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  const decoder = new StreamDecoder({ onRecord: (r) => out.push(r) });
  for (const c of chunks) decoder.push(c);
  decoder.end();
  return out;
}

const recordArb = fc.oneof(
  fc
    .record({ path: fc.string({ maxLength: 300 }), ret: fc.bigInt({ min: -4095n, max: 1000n }) })
    .map((f) => buildOpen(f)),
  fc
    .record({
      filename: fc.string({ maxLength: 100 }),
      argv: fc.array(fc.string({ maxLength: 40 }), { maxLength: 8 }),
      tgid: fc.integer({ min: 1, max: 4194304 }),
    })
    .map((f) => buildExec({ filename: f.filename, args: argsOf(f.argv), tgid: f.tgid })),
  fc.integer({ min: 1, max: 1 << 20 }).map((childTgid) => buildFork({ childTgid })),
  fc.integer({ min: 0, max: 0xffff }).map((exitCode) => buildExit({ exitCode })),
  fc.integer({ min: 0, max: 0xffff }).map((dport) => buildConnect({ dport })),
  fc.array(fc.bigInt({ min: 0n, max: 1n << 40n }), { maxLength: 5 }).map((c) => buildStats(c)),
  // Kinds from a newer schema are skipped by their size, not a framing error.
  fc.integer({ min: 3, max: 64 }).map((n) => buildRaw(200, n * 8)),
);

describe("StreamFramer / StreamDecoder", () => {
  it("yields the same records for any chunking of a valid stream", () => {
    fc.assert(
      fc.property(
        fc.array(recordArb, { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (records, cuts) => {
          const stream = Buffer.concat([HEADER, ...records]);
          const whole = decodeAll([stream]);
          expect(decodeAll(split(stream, cuts))).toEqual(whole);
          // Byte by byte, too: every record crosses chunks.
          if (stream.length < 3000) expect(decodeAll(split(stream, [...stream.keys()]))).toEqual(whole);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("hands out records in place when they lie inside one chunk", () => {
    const stream = Buffer.concat([HEADER, buildExit(), buildOpen()]);
    const seen: Buffer[] = [];
    const framer = new StreamFramer({ onHeader: () => {}, onRecord: (buf) => seen.push(buf) });
    framer.push(stream);
    framer.end();
    expect(seen).toHaveLength(2);
    expect(seen.every((b) => b === stream)).toBe(true);
    expect(framer.records).toBe(2);
  });

  it("stops at a record size that is not a multiple of 8, naming the byte offset", () => {
    const bad = buildExit();
    bad.writeUInt32LE(30, PG_HDR.size);
    const stream = Buffer.concat([HEADER, buildOpen(), bad, buildExit()]);
    const badAt = PG_STREAM_HEADER.sizeof + buildOpen().length;
    const out: DecodedRecord[] = [];
    const decoder = new StreamDecoder({ onRecord: (r) => out.push(r) });
    let error: unknown;
    try {
      decoder.push(stream);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FramingError);
    expect((error as FramingError).byteOffset).toBe(badAt);
    expect((error as Error).message).toMatch(new RegExp(`byte offset ${badAt}: record size 30`));
    expect(out).toHaveLength(1);
    expect(decoder.stats.framingErrors).toBe(1);
    // The stream stays stopped.
    expect(() => decoder.push(buildExit())).toThrow(FramingError);
  });

  it("stops at sizes below the record header or above 64 KiB, even split across chunks", () => {
    for (const size of [8, 16, 65544, 0]) {
      const bad = buildExit();
      bad.writeUInt32LE(size, PG_HDR.size);
      const stream = Buffer.concat([HEADER, bad]);
      const decoder = new StreamDecoder({ onRecord: () => {} });
      expect(() => {
        for (const c of split(stream, [PG_STREAM_HEADER.sizeof + 5, PG_STREAM_HEADER.sizeof + 10])) {
          decoder.push(c);
        }
      }).toThrow(new RegExp(`byte offset ${PG_STREAM_HEADER.sizeof}: record size ${size} `));
    }
  });

  it("rejects a stream that does not start with a Peregrine header", () => {
    const decoder = new StreamDecoder({ onRecord: () => {} });
    expect(() => decoder.push(Buffer.from("GIF89a, not a capture"))).toThrow(StreamHeaderError);
  });

  it("reports a stream cut inside a record or before the header", () => {
    const whole = Buffer.concat([HEADER, buildExit(), buildOpen()]);
    const decoder = new StreamDecoder({ onRecord: () => {} });
    decoder.push(whole.subarray(0, whole.length - 5));
    expect(() => decoder.end()).toThrow(
      new RegExp(`stream ended inside the record at byte offset ${PG_STREAM_HEADER.sizeof + 32}`),
    );
    const empty = new StreamDecoder({ onRecord: () => {} });
    expect(() => empty.end()).toThrow(/before a complete stream header/);
  });

  it("counts malformed records and unknown kinds but keeps going", () => {
    const short = buildRaw(1, 32); // an exec kind, smaller than struct pg_exec
    const stream = Buffer.concat([HEADER, short, buildRaw(99, 40), buildExit({ exitCode: 256 })]);
    const out: DecodedRecord[] = [];
    const decoder = new StreamDecoder({ onRecord: (r) => out.push(r) });
    decoder.push(stream);
    decoder.end();
    expect(out).toEqual([expect.objectContaining({ kind: "exit", exitCode: 256 })]);
    expect(decoder.stats).toMatchObject({
      records: 3,
      decoded: 1,
      unknownKinds: 1,
      framingErrors: 0,
      malformed: { "short-record": 1 },
    });
  });
});

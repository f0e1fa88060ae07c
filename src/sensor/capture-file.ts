/**
 * Capture files: the loader's stdout bytes as they are (stream header, then
 * records), so capture, replay and tests share one decoder.
 */
import { createReadStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import type { DecodedRecord } from "../decode/events.js";
import { StreamDecoder, type StreamDecoderStats } from "../decode/stream-decoder.js";
import { encodeStreamHeader, type StreamHeader } from "../decode/stream-header.js";

export interface CaptureSummary {
  readonly header: StreamHeader;
  readonly stats: StreamDecoderStats;
}

export interface ReadCaptureOptions {
  /** Raw bytes of every record (valid only during the call). */
  readonly onRawRecord?: ((buf: Buffer, offset: number, size: number) => void) | undefined;
  /** Read size; tests use small values to exercise framing across chunks. */
  readonly chunkBytes?: number | undefined;
}

/**
 * Streams a capture file through the framer and decoder. Rejects with a
 * StreamHeaderError (not a capture, other schema) or a FramingError (corrupt
 * or cut file: the records before the damage were delivered).
 */
export async function readCaptureFile(
  path: string,
  onRecord: (record: DecodedRecord) => void,
  options: ReadCaptureOptions = {},
): Promise<CaptureSummary> {
  const decoder = new StreamDecoder({ onRecord, onRawRecord: options.onRawRecord });
  const stream = createReadStream(path, { highWaterMark: options.chunkBytes ?? 64 * 1024 });
  try {
    for await (const chunk of stream) decoder.push(chunk as Buffer);
  } finally {
    stream.destroy();
  }
  decoder.end();
  const header = decoder.header;
  // end() throws when no header arrived, so this only satisfies the type checker.
  if (header === undefined) throw new Error(`${path}: no stream header`);
  return { header, stats: decoder.stats };
}

/**
 * Writes a capture file: a stream header (a parsed one, re-encoded, or the
 * raw bytes of one) followed by raw records, each a whole wire record.
 */
export async function writeCaptureFile(
  path: string,
  header: StreamHeader | Uint8Array,
  records: Iterable<Uint8Array>,
): Promise<void> {
  const parts: Uint8Array[] = [header instanceof Uint8Array ? header : encodeStreamHeader(header)];
  for (const rec of records) parts.push(rec);
  await writeFile(path, Buffer.concat(parts));
}

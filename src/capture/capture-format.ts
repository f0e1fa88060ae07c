/**
 * The file `peregrine capture` writes: a small file header, then sections.
 *
 *   +------------------------------+
 *   | "PGCAPT" 0x00 version (u8)   |  8 bytes
 *   +------------------------------+
 *   | section: type u32, length u32 |  repeated; payload padded to 8 bytes
 *   | payload                      |
 *   +------------------------------+
 *
 * Sections (little endian):
 *   META   JSON once, first: capture time, host, the users and groups
 *          /etc/passwd and /etc/group named at start.
 *   STREAM the loader's stdout bytes, unchanged (the first STREAM section
 *          starts with the wire stream header), in order.
 *   PROC   JSON: the /proc answers the state tables got (proc-journal.ts),
 *          written after the STREAM bytes of the records that asked.
 *
 * Replay reads META and every PROC section first (they are small), then
 * streams the STREAM sections through the decoder. A bare wire stream (the
 * loader's stdout saved as is, like test/fixtures/*.pgcap) is accepted too:
 * it replays without /proc answers.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import type { JournalEntry } from "./proc-journal.js";

export const CAPTURE_MAGIC = Buffer.from([0x50, 0x47, 0x43, 0x41, 0x50, 0x54, 0x00]); // "PGCAPT\0"
export const CAPTURE_VERSION = 1;
const FILE_HEADER_BYTES = 8;
const SECTION_HEADER_BYTES = 8;
/** A section larger than this is not from our writer (it flushes far smaller ones). */
const MAX_SECTION_BYTES = 256 * 1024 * 1024;

export const SECTION_META = 1;
export const SECTION_STREAM = 2;
export const SECTION_PROC = 3;

export interface CaptureMeta {
  readonly version: number;
  /** ISO time the capture started. */
  readonly startedAt: string;
  readonly hostname: string;
  readonly users: readonly (readonly [number, string])[];
  readonly groups: readonly (readonly [number, string])[];
}

/** The file is not a capture (or is damaged): message names the file, offset and what is wrong. */
export class CaptureFormatError extends Error {
  override readonly name = "CaptureFormatError";
}

/** Appends sections to a capture file; synchronous so sections land in the order they are produced. */
export class CaptureWriter {
  private readonly fd: number;
  bytes = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, "w");
    const header = Buffer.alloc(FILE_HEADER_BYTES);
    CAPTURE_MAGIC.copy(header, 0);
    header[7] = CAPTURE_VERSION;
    this.write(header);
  }

  private write(buf: Uint8Array): void {
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    this.bytes += buf.length;
  }

  section(type: number, payload: Uint8Array): void {
    const head = Buffer.alloc(SECTION_HEADER_BYTES);
    head.writeUInt32LE(type, 0);
    head.writeUInt32LE(payload.length, 4);
    this.write(head);
    this.write(payload);
    const pad = (8 - (payload.length % 8)) % 8;
    if (pad > 0) this.write(Buffer.alloc(pad));
  }

  meta(meta: CaptureMeta): void {
    this.section(SECTION_META, Buffer.from(JSON.stringify(meta), "utf8"));
  }

  proc(entries: readonly JournalEntry[]): void {
    if (entries.length > 0) this.section(SECTION_PROC, Buffer.from(JSON.stringify(entries), "utf8"));
  }

  stream(chunks: readonly Uint8Array[]): void {
    if (chunks.length > 0) this.section(SECTION_STREAM, Buffer.concat(chunks));
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A capture opened for replay: META and every /proc answer up front, stream bytes on demand. */
export interface OpenedCapture {
  /** undefined for a bare wire stream. */
  readonly meta: CaptureMeta | undefined;
  readonly journal: JournalEntry[];
  /** Calls onChunk with the stream bytes in order. */
  streamChunks(onChunk: (chunk: Buffer) => void): void;
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

function parseJson(path: string, offset: number, what: string, payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString("utf8"));
  } catch (err) {
    throw new CaptureFormatError(
      `${path}: ${what} section at byte ${offset} is not valid JSON: ${(err as Error).message}`,
    );
  }
}

/** Opens a capture file (or a bare wire stream) for replay. */
export function openCapture(path: string): OpenedCapture {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const head = readExactly(fd, FILE_HEADER_BYTES, 0);
    const isCapture = head.length === FILE_HEADER_BYTES && head.subarray(0, 7).equals(CAPTURE_MAGIC);
    if (!isCapture) {
      // The loader's stdout saved as is: one stream, no answers.
      return {
        meta: undefined,
        journal: [],
        streamChunks(onChunk) {
          const rfd = openSync(path, "r");
          try {
            for (let pos = 0; pos < size; pos += 1 << 20)
              onChunk(readExactly(rfd, Math.min(1 << 20, size - pos), pos));
          } finally {
            closeSync(rfd);
          }
        },
      };
    }
    if (head[7] !== CAPTURE_VERSION) {
      throw new CaptureFormatError(
        `${path}: capture format version ${head[7]}, this build reads version ${CAPTURE_VERSION}`,
      );
    }
    let meta: CaptureMeta | undefined;
    const journal: JournalEntry[] = [];
    const streams: { offset: number; length: number }[] = [];
    let pos = FILE_HEADER_BYTES;
    while (pos < size) {
      const sh = readExactly(fd, SECTION_HEADER_BYTES, pos);
      if (sh.length < SECTION_HEADER_BYTES) {
        throw new CaptureFormatError(`${path}: cut section header at byte ${pos} (file ends at ${size})`);
      }
      const type = sh.readUInt32LE(0);
      const length = sh.readUInt32LE(4);
      const payloadAt = pos + SECTION_HEADER_BYTES;
      if (length > MAX_SECTION_BYTES || payloadAt + length > size) {
        throw new CaptureFormatError(
          `${path}: section at byte ${pos} claims ${length} bytes but the file ends at ${size} (cut or damaged capture)`,
        );
      }
      switch (type) {
        case SECTION_META:
          meta = parseJson(path, pos, "META", readExactly(fd, length, payloadAt)) as CaptureMeta;
          break;
        case SECTION_PROC: {
          const entries = parseJson(path, pos, "PROC", readExactly(fd, length, payloadAt));
          if (!Array.isArray(entries))
            throw new CaptureFormatError(`${path}: PROC section at byte ${pos} is not a list`);
          for (const [i, e] of entries.entries()) {
            if (!Array.isArray(e) || e.length !== 3 || typeof e[0] !== "number" || typeof e[1] !== "string") {
              throw new CaptureFormatError(
                `${path}: PROC section at byte ${pos}, entry ${i}: expected [record, question, answer], got ${JSON.stringify(e)?.slice(0, 80)}`,
              );
            }
            journal.push(e as unknown as JournalEntry);
          }
          break;
        }
        case SECTION_STREAM:
          streams.push({ offset: payloadAt, length });
          break;
        default:
          throw new CaptureFormatError(`${path}: unknown section type ${type} at byte ${pos}`);
      }
      pos = payloadAt + length + ((8 - (length % 8)) % 8);
    }
    return {
      meta,
      journal,
      streamChunks(onChunk) {
        const rfd = openSync(path, "r");
        try {
          for (const s of streams) onChunk(readExactly(rfd, s.length, s.offset));
        } finally {
          closeSync(rfd);
        }
      },
    };
  } finally {
    closeSync(fd);
  }
}

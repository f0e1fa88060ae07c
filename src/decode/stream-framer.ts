/**
 * Cuts a byte stream (pipe or file chunks of any size) into the stream header
 * and whole records. Records that lie inside one chunk are handed out in
 * place (no copy); only a record split across chunks is assembled, in one
 * buffer allocated once and reused.
 *
 * A record size that cannot be right (smaller than the record header, not a
 * multiple of 8, over 64 KiB) means the stream is out of step: nothing after
 * it can be trusted, so the framer stops with a FramingError naming the byte
 * offset, and every later push() throws that same error.
 */
import { PG_HDR } from "./layout.generated.js";
import {
  checkStreamPrefix,
  MAX_STREAM_HEADER_BYTES,
  parseStreamHeader,
  STREAM_PREFIX_BYTES,
  type StreamHeader,
} from "./stream-header.js";

/** Records are bounded by the kernel's scratch buffer (~8 KiB); anything over this is garbage. */
export const MAX_RECORD_BYTES = 64 * 1024;

/** Bytes of a record needed to know its size (pg_hdr.ts_ns and pg_hdr.size). */
const SIZE_PREFIX_BYTES = PG_HDR.size + 4;

export class FramingError extends Error {
  override readonly name = "FramingError";
  /** Offset in the stream (header included) of the record that is wrong. */
  readonly byteOffset: number;
  constructor(message: string, byteOffset: number) {
    super(message);
    this.byteOffset = byteOffset;
  }
}

export interface FramerSink {
  onHeader(header: StreamHeader): void;
  /**
   * One whole record: buf[offset, offset + size). The bytes are only valid
   * during the call (the buffer may be reused): copy what you keep.
   */
  onRecord(buf: Buffer, offset: number, size: number): void;
}

export class StreamFramer {
  readonly #sink: FramerSink;
  /** Holds the start of a header or record that continues in the next chunk. */
  readonly #carry = Buffer.allocUnsafe(Math.max(MAX_RECORD_BYTES, MAX_STREAM_HEADER_BYTES));
  #carryLen = 0;
  /** Stream offset of #carry[0]. */
  #carryStart = 0;
  /** Stream offset of the next chunk's first byte. */
  #base = 0;
  #header: StreamHeader | undefined;
  #error: Error | undefined;
  #records = 0;

  constructor(sink: FramerSink) {
    this.#sink = sink;
  }

  /** The stream header, once it has been read. */
  get header(): StreamHeader | undefined {
    return this.#header;
  }

  /** Records handed to onRecord so far. */
  get records(): number {
    return this.#records;
  }

  /** Bytes pushed so far. */
  get bytesSeen(): number {
    return this.#base;
  }

  /** The error that stopped the stream, if any. */
  get error(): Error | undefined {
    return this.#error;
  }

  push(chunk: Buffer): void {
    if (this.#error) throw this.#error;
    try {
      this.#consume(chunk);
    } catch (err) {
      this.#error = err instanceof Error ? err : new Error(String(err));
      throw this.#error;
    }
  }

  /** The stream is over: throws if it stopped inside the header or a record. */
  end(): void {
    if (this.#error) throw this.#error;
    if (this.#header === undefined) {
      this.#error = new FramingError(
        `stream ended after ${this.#base} bytes, before a complete stream header`,
        0,
      );
    } else if (this.#carryLen > 0) {
      const size = this.#carryLen >= SIZE_PREFIX_BYTES ? ` of ${this.#carry.readUInt32LE(PG_HDR.size)}` : "";
      this.#error = new FramingError(
        `stream ended inside the record at byte offset ${this.#carryStart} (${this.#carryLen}${size} bytes)`,
        this.#carryStart,
      );
    }
    if (this.#error) throw this.#error;
  }

  #checkSize(size: number, at: number): void {
    if (size < PG_HDR.sizeof || size % 8 !== 0 || size > MAX_RECORD_BYTES) {
      throw new FramingError(
        `framing error at byte offset ${at}: record size ${size} is not a multiple of 8 ` +
          `between ${PG_HDR.sizeof} and ${MAX_RECORD_BYTES}; the rest of the stream cannot be trusted`,
        at,
      );
    }
  }

  /** How many bytes the unit in the carry needs in all, as far as can be told yet. */
  #carryNeed(): number {
    const carry = this.#carry;
    if (this.#header === undefined) {
      return this.#carryLen < STREAM_PREFIX_BYTES ? STREAM_PREFIX_BYTES : checkStreamPrefix(carry, 0);
    }
    if (this.#carryLen < SIZE_PREFIX_BYTES) return SIZE_PREFIX_BYTES;
    const size = carry.readUInt32LE(PG_HDR.size);
    this.#checkSize(size, this.#carryStart);
    return size;
  }

  #consume(chunk: Buffer): void {
    const sink = this.#sink;
    const end = chunk.length;
    let pos = 0;

    // Finish the header, or a record begun in an earlier chunk, in the carry.
    while (this.#carryLen > 0 || this.#header === undefined) {
      const need = this.#carryNeed();
      if (this.#carryLen < need) {
        const take = Math.min(need - this.#carryLen, end - pos);
        if (take === 0) {
          this.#base += end;
          return;
        }
        chunk.copy(this.#carry, this.#carryLen, pos, pos + take);
        this.#carryLen += take;
        pos += take;
        continue; // the need may grow once the size is known
      }
      if (this.#header === undefined) {
        this.#header = parseStreamHeader(this.#carry, 0);
        sink.onHeader(this.#header);
      } else {
        this.#records++;
        sink.onRecord(this.#carry, 0, need);
      }
      this.#carryStart += need;
      this.#carryLen = 0;
    }

    // Whole records, straight from the chunk. One DataView per chunk: its reads are plain
    // loads, where Buffer#readUInt32LE checks its argument on every record.
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (end - pos >= SIZE_PREFIX_BYTES) {
      const size = view.getUint32(pos + PG_HDR.size, true);
      this.#checkSize(size, this.#base + pos);
      if (end - pos < size) break;
      this.#records++;
      sink.onRecord(chunk, pos, size);
      pos += size;
    }

    // Keep the start of the next record for the next chunk.
    if (pos < end) {
      chunk.copy(this.#carry, 0, pos, end);
      this.#carryLen = end - pos;
    }
    this.#carryStart = this.#base + pos;
    this.#base += end;
  }
}

/**
 * Framer + record decoder in one: bytes in (loader stdout or a capture file),
 * typed records out. Shared by the live sensor and the capture reader so both
 * decode exactly the same way.
 */
import type { DecodedRecord } from "./events.js";
import { type DecoderStats, RecordDecoder } from "./record-decoder.js";
import { StreamFramer } from "./stream-framer.js";
import type { StreamHeader } from "./stream-header.js";

export interface StreamDecoderHandlers {
  readonly onHeader?: ((header: StreamHeader) => void) | undefined;
  /** Must not throw: an exception stops the stream like a framing error. */
  readonly onRecord: (record: DecodedRecord) => void;
  /** The raw bytes of every framed record (valid only during the call), e.g. to write a capture. */
  readonly onRawRecord?: ((buf: Buffer, offset: number, size: number) => void) | undefined;
}

export interface StreamDecoderStats extends DecoderStats {
  /** Framed records (decoded or not). */
  readonly records: number;
  /** 1 once the stream stopped on a framing or header error. */
  readonly framingErrors: number;
  readonly bytes: number;
}

const NO_RECORDS: DecoderStats = {
  decoded: 0,
  malformed: { "bad-size": 0, "past-buffer": 0, "short-record": 0, "length-past-size": 0, "bad-value": 0 },
  unknownKinds: 0,
};

export class StreamDecoder {
  readonly #framer: StreamFramer;
  #decoder: RecordDecoder | undefined;

  constructor(handlers: StreamDecoderHandlers) {
    const { onHeader, onRecord, onRawRecord } = handlers;
    this.#framer = new StreamFramer({
      onHeader: (header) => {
        this.#decoder = new RecordDecoder(header);
        onHeader?.(header);
      },
      onRecord: (buf, offset, size) => {
        onRawRecord?.(buf, offset, size);
        // The framer calls onHeader before any record, so the decoder exists.
        const rec = this.#decoder?.decode(buf, offset);
        if (rec !== undefined) onRecord(rec);
      },
    });
  }

  get header(): StreamHeader | undefined {
    return this.#framer.header;
  }

  get stats(): StreamDecoderStats {
    return {
      ...(this.#decoder?.stats ?? NO_RECORDS),
      records: this.#framer.records,
      framingErrors: this.#framer.error ? 1 : 0,
      bytes: this.#framer.bytesSeen,
    };
  }

  /** Throws FramingError / StreamHeaderError when the stream is broken (and on every later call). */
  push(chunk: Buffer): void {
    this.#framer.push(chunk);
  }

  /** Throws FramingError if the stream stopped inside the header or a record. */
  end(): void {
    this.#framer.end();
  }
}

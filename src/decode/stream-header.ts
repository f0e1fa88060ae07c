/**
 * The stream header (struct pg_stream_header) that starts the loader's stdout
 * and every capture file: magic, schema version, boot time, host.
 */
import { PG_HDR, PG_LIMITS, PG_SCHEMA, PG_STREAM_HEADER } from "./layout.generated.js";

export interface StreamHeader {
  readonly schemaVersion: number;
  /** Bytes the header occupies in the stream (records start right after). */
  readonly headerSize: number;
  /** Wall clock at boot, epoch ns: epoch time of an event = this + its boot-clock ts_ns. */
  readonly bootTimeNs: bigint;
  readonly loaderPid: number;
  readonly hostname: string;
}

/** The stream is not a Peregrine stream, or one this build cannot read. */
export class StreamHeaderError extends Error {
  override readonly name = "StreamHeaderError";
}

/** Largest header_size accepted: room for a future schema's extra fields, not more. */
export const MAX_STREAM_HEADER_BYTES = 4096;

/** Bytes needed before checkStreamPrefix() can judge a stream. */
export const STREAM_PREFIX_BYTES = 8;

function hex32(v: number): string {
  return `0x${v.toString(16).padStart(8, "0")}`;
}

/**
 * Checks magic, schema version and header_size from the first 8 bytes, so a
 * wrong input fails before a whole header has arrived. Returns header_size.
 */
export function checkStreamPrefix(buf: Buffer, offset = 0): number {
  if (buf.length - offset < STREAM_PREFIX_BYTES) {
    throw new StreamHeaderError(
      `stream header truncated: ${buf.length - offset} bytes, need at least ${STREAM_PREFIX_BYTES}`,
    );
  }
  const magic = buf.readUInt32LE(offset + PG_STREAM_HEADER.magic);
  if (magic !== PG_SCHEMA.PG_STREAM_MAGIC) {
    throw new StreamHeaderError(
      `not a Peregrine stream: magic ${hex32(magic)}, expected ${hex32(PG_SCHEMA.PG_STREAM_MAGIC)} ("PRGN")`,
    );
  }
  const version = buf.readUInt16LE(offset + PG_STREAM_HEADER.schema_version);
  // Older versions in the readable range only lack fields that read as zero (peregrine_wire.h).
  if (version > PG_SCHEMA.PG_SCHEMA_VERSION || version < PG_SCHEMA.PG_SCHEMA_OLDEST_READABLE) {
    throw new StreamHeaderError(
      `schema version mismatch: the stream has wire schema version ${version}, ` +
        `this decoder reads version ${PG_SCHEMA.PG_SCHEMA_VERSION} ` +
        `(and back to ${PG_SCHEMA.PG_SCHEMA_OLDEST_READABLE}); ` +
        "build the loader (make -C bpf) and the agent from the same source tree",
    );
  }
  const headerSize = buf.readUInt16LE(offset + PG_STREAM_HEADER.header_size);
  if (headerSize < PG_STREAM_HEADER.sizeof || headerSize > MAX_STREAM_HEADER_BYTES) {
    throw new StreamHeaderError(
      `bad stream header size ${headerSize}: expected ${PG_STREAM_HEADER.sizeof}..${MAX_STREAM_HEADER_BYTES}`,
    );
  }
  return headerSize;
}

/** Parses and validates a stream header; throws StreamHeaderError naming what is wrong. */
export function parseStreamHeader(buf: Buffer, offset = 0): StreamHeader {
  const headerSize = checkStreamPrefix(buf, offset);
  const schemaVersion = buf.readUInt16LE(offset + PG_STREAM_HEADER.schema_version);
  if (buf.length - offset < headerSize) {
    throw new StreamHeaderError(`stream header truncated: ${buf.length - offset} of ${headerSize} bytes`);
  }
  const host = offset + PG_STREAM_HEADER.hostname;
  let hostEnd = host;
  const hostMax = host + PG_LIMITS.PG_HOSTNAME_LEN;
  while (hostEnd < hostMax && buf[hostEnd] !== 0) hostEnd++;
  return {
    schemaVersion,
    headerSize,
    bootTimeNs: buf.readBigUInt64LE(offset + PG_STREAM_HEADER.boot_time_ns),
    loaderPid: buf.readUInt32LE(offset + PG_STREAM_HEADER.loader_pid),
    hostname: buf.toString("utf8", host, hostEnd),
  };
}

/** The wire bytes of a header (for capture files and tests); headerSize is not copied. */
export function encodeStreamHeader(header: Omit<StreamHeader, "headerSize" | "schemaVersion">): Buffer {
  const buf = Buffer.alloc(PG_STREAM_HEADER.sizeof);
  buf.writeUInt32LE(PG_SCHEMA.PG_STREAM_MAGIC, PG_STREAM_HEADER.magic);
  buf.writeUInt16LE(PG_SCHEMA.PG_SCHEMA_VERSION, PG_STREAM_HEADER.schema_version);
  buf.writeUInt16LE(PG_STREAM_HEADER.sizeof, PG_STREAM_HEADER.header_size);
  buf.writeBigUInt64LE(header.bootTimeNs, PG_STREAM_HEADER.boot_time_ns);
  buf.writeUInt32LE(header.loaderPid, PG_STREAM_HEADER.loader_pid);
  // Keep a terminating NUL, as the loader does.
  buf.write(header.hostname, PG_STREAM_HEADER.hostname, PG_LIMITS.PG_HOSTNAME_LEN - 1, "utf8");
  return buf;
}

/** Size of the common record header; a record is never smaller. */
export const RECORD_HEADER_BYTES = PG_HDR.sizeof;

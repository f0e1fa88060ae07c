import { describe, expect, it } from "vitest";
import { PG_SCHEMA, PG_STREAM_HEADER } from "../../src/decode/layout.generated.js";
import { encodeStreamHeader, parseStreamHeader, StreamHeaderError } from "../../src/decode/stream-header.js";

const header = { bootTimeNs: 1_700_000_000_123_456_789n, loaderPid: 4321, hostname: "node-a" };

describe("stream header", () => {
  it("round-trips through the wire layout", () => {
    const buf = encodeStreamHeader(header);
    expect(buf.length).toBe(PG_STREAM_HEADER.sizeof);
    expect(buf.toString("latin1", 0, 4)).toBe("PRGN");
    expect(parseStreamHeader(buf)).toEqual({
      ...header,
      schemaVersion: PG_SCHEMA.PG_SCHEMA_VERSION,
      headerSize: PG_STREAM_HEADER.sizeof,
    });
  });

  it("cuts a long hostname and keeps its NUL", () => {
    const parsed = parseStreamHeader(encodeStreamHeader({ ...header, hostname: "h".repeat(100) }));
    expect(parsed.hostname).toBe("h".repeat(63));
  });

  it("rejects bad magic", () => {
    const buf = encodeStreamHeader(header);
    buf.write("NOPE", 0, "latin1");
    expect(() => parseStreamHeader(buf)).toThrow(StreamHeaderError);
    expect(() => parseStreamHeader(buf)).toThrow(
      /not a Peregrine stream: magic 0x45504f4e, expected 0x4e475250/,
    );
  });

  it("rejects another schema version, naming both", () => {
    const buf = encodeStreamHeader(header);
    buf.writeUInt16LE(PG_SCHEMA.PG_SCHEMA_VERSION + 1, PG_STREAM_HEADER.schema_version);
    expect(() => parseStreamHeader(buf)).toThrow(
      new RegExp(
        `schema version mismatch: the stream has wire schema version ${PG_SCHEMA.PG_SCHEMA_VERSION + 1}, ` +
          `this decoder reads version ${PG_SCHEMA.PG_SCHEMA_VERSION}`,
      ),
    );
  });

  it("rejects a truncated header or an impossible header size", () => {
    const buf = encodeStreamHeader(header);
    expect(() => parseStreamHeader(buf.subarray(0, 4))).toThrow(/truncated/);
    expect(() => parseStreamHeader(buf.subarray(0, 40))).toThrow(/truncated: 40 of 88 bytes/);
    buf.writeUInt16LE(16, PG_STREAM_HEADER.header_size);
    expect(() => parseStreamHeader(buf)).toThrow(/bad stream header size 16/);
  });
});

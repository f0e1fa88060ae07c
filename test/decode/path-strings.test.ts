/**
 * The decoder's recent-path cache (src/decode/path-strings.ts): a hit needs
 * the same bytes, so the text is always what decoding would give — whatever
 * the slot collisions, lengths, multi-byte characters or buffer reuse.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_CACHED_PATH_BYTES, PathStrings } from "../../src/decode/path-strings.js";
import { RecordDecoder } from "../../src/decode/record-decoder.js";
import { buildOpen } from "./wire-builder.js";

/** `text`'s UTF-8 bytes at `at` in a larger buffer with other bytes around them. */
function placed(text: string, at = 5): { buf: Buffer; start: number; end: number } {
  const bytes = Buffer.from(text, "utf8");
  const buf = Buffer.alloc(at + bytes.length + 7, 0x41);
  bytes.copy(buf, at);
  return { buf, start: at, end: at + bytes.length };
}

describe("PathStrings", () => {
  it("hands back the string decoded before for the same bytes, from another buffer too", () => {
    const cache = new PathStrings();
    const a = placed("/etc/hostname", 3);
    const first = cache.get(a.buf, a.start, a.end);
    const b = placed("/etc/hostname", 11);
    const second = cache.get(b.buf, b.start, b.end);
    expect(first).toBe("/etc/hostname");
    expect(second).toBe("/etc/hostname");
    expect(cache.hits).toBe(1);
    expect(cache.misses).toBe(1);
  });

  it("does not answer from a slot whose bytes differ, even after the buffer is overwritten in place", () => {
    const cache = new PathStrings();
    const { buf, start, end } = placed("/proc/1/stat");
    expect(cache.get(buf, start, end)).toBe("/proc/1/stat");
    // A reused read buffer: same place, same length, other bytes.
    buf.write("/proc/2/stat", start, "utf8");
    expect(cache.get(buf, start, end)).toBe("/proc/2/stat");
    buf.write("/proc/1/stat", start, "utf8");
    expect(cache.get(buf, start, end)).toBe("/proc/1/stat");
  });

  it("decodes multi-byte UTF-8, tiny, empty and over-long paths like Buffer#toString", () => {
    const cache = new PathStrings();
    const long = `/${"x".repeat(MAX_CACHED_PATH_BYTES + 10)}`;
    for (const text of ["/tmp/hé/ß", "/", "ab", "", long, long, "/tmp/hé/ß"]) {
      const { buf, start, end } = placed(text);
      expect(cache.get(buf, start, end)).toBe(buf.toString("utf8", start, end));
    }
  });

  it("gives the decoded text for any sequence of paths, colliding or not (property)", () => {
    // A small alphabet and lengths makes collisions and near misses (same length, same end) common.
    const path = fc
      .array(fc.constantFrom("/", "a", "b", "é", "1", "2", "\u{1F600}"), { minLength: 0, maxLength: 12 })
      .map((cs) => cs.join(""));
    fc.assert(
      fc.property(fc.array(path, { maxLength: 200 }), (paths) => {
        const cache = new PathStrings();
        const buf = Buffer.alloc(256);
        for (const p of paths) {
          buf.fill(0x55);
          const n = buf.write(p, 9, "utf8");
          expect(cache.get(buf, 9, 9 + n)).toBe(buf.toString("utf8", 9, 9 + n));
        }
      }),
    );
  });
});

describe("RecordDecoder with the path cache", () => {
  it("decodes each open's own path when paths alternate and repeat", () => {
    const d = new RecordDecoder({ bootTimeNs: 0n });
    const paths = [
      "/etc/hostname",
      "/etc/hosts",
      "/etc/hostname",
      "/etc/passwd",
      "/etc/hosts",
      "/etc/hostname",
    ];
    for (const p of paths) {
      const rec = d.decode(buildOpen({ path: p }), 0);
      expect(rec).toMatchObject({ kind: "open", path: p });
    }
  });
});

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
  it("keeps a path from its second sighting on and hands that string back, from another buffer too", () => {
    const cache = new PathStrings();
    const texts = [3, 11, 20, 7].map((at) => {
      const p = placed("/etc/hostname", at);
      return cache.get(p.buf, p.start, p.end);
    });
    expect(texts).toEqual(["/etc/hostname", "/etc/hostname", "/etc/hostname", "/etc/hostname"]);
    // Decoded twice (a path met once is not kept), then answered from the cache.
    expect(cache.misses).toBe(2);
    expect(cache.hits).toBe(2);
  });

  it("does not answer from a slot whose bytes differ, even after the buffer is overwritten in place", () => {
    const cache = new PathStrings();
    const { buf, start, end } = placed("/proc/1/stat");
    expect(cache.get(buf, start, end)).toBe("/proc/1/stat");
    expect(cache.get(buf, start, end)).toBe("/proc/1/stat");
    expect(cache.get(buf, start, end)).toBe("/proc/1/stat");
    expect(cache.hits).toBe(1);
    // A reused read buffer: same place, same length, other bytes.
    buf.write("/proc/2/stat", start, "utf8");
    expect(cache.get(buf, start, end)).toBe("/proc/2/stat");
    buf.write("/proc/1/stat", start, "utf8");
    expect(cache.get(buf, start, end)).toBe("/proc/1/stat");
  });

  it("tells apart paths of one length that differ in a single byte anywhere", () => {
    // The slot comes from a few sampled bytes: paths differing in one byte often share a
    // slot and a length, and only the full comparison can tell them apart.
    const base = "/var/lib/app/cache/0123456789abcdef/data.bin";
    const cache = new PathStrings();
    for (let round = 0; round < 3; round++) {
      for (let at = 1; at < base.length; at++) {
        const text = `${base.slice(0, at)}${base[at] === "x" ? "y" : "x"}${base.slice(at + 1)}`;
        for (const t of [base, base, text, text, base]) {
          const p = placed(t);
          expect(cache.get(p.buf, p.start, p.end)).toBe(t);
        }
      }
    }
    expect(cache.hits).toBeGreaterThan(0);
  });

  it("tells apart a path from its own prefixes and extensions", () => {
    // Prefixes share their bytes up to their length: only the length check tells them apart
    // when two of them land in one slot (which, among these hundreds, some do).
    const cache = new PathStrings();
    const bases = ["/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/home/user/.config/app/settings.json"];
    const all = bases.flatMap((b) => Array.from({ length: b.length - 7 }, (_, i) => b.slice(0, i + 8)));
    for (let round = 0; round < 3; round++) {
      for (const t of all) {
        const p = placed(t);
        expect(cache.get(p.buf, p.start, p.end)).toBe(t);
      }
      for (const t of [...all].reverse()) {
        const p = placed(t);
        expect(cache.get(p.buf, p.start, p.end)).toBe(t);
      }
    }
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

/**
 * Recently decoded path strings, by their bytes. A host opens the same files
 * over and over (config, /etc/hostname, shared libraries, /proc entries), and
 * each open record carries the path's bytes again: decoding them is a call
 * into the runtime and a fresh string for the garbage collector, and every
 * later step that keys on the path (the fd table's path normalization, the
 * rules' value memos) pays again for a string it has not seen, hashing and
 * comparing it by content. The cache hands back the string decoded the last
 * time these exact bytes came by, so a repeated path costs a byte comparison
 * and is the same string object all the way down.
 *
 * Exact: a hit needs the same length and the same bytes, and the same bytes
 * decode to the same text. Direct-mapped (one entry per slot, the newest
 * wins), so it is bounded (SLOTS * MAX_BYTES of keys) and never scans.
 */

/** Entries: a power of two. Enough for the hot paths of a busy host; a miss costs one decode, as without the cache. */
const SLOTS = 512;
/** Longer paths are decoded every time (rare, and comparing them costs more). */
export const MAX_CACHED_PATH_BYTES = 128;

/**
 * Buffer#utf8Slice without toString's argument checks and encoding lookup
 * (half its cost for a short path), when Node has it (since 0.x).
 */
const utf8Slice: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as { utf8Slice?: unknown }).utf8Slice === "function"
    ? (buf, start, end) =>
        (buf as unknown as { utf8Slice(s: number, e: number): string }).utf8Slice(start, end)
    : (buf, start, end) => buf.toString("utf8", start, end);

export class PathStrings {
  /** Slot i's bytes at i * MAX_CACHED_PATH_BYTES. */
  readonly #keys = new Uint8Array(SLOTS * MAX_CACHED_PATH_BYTES);
  /** Slot i's byte length; -1 while empty. */
  readonly #lens = new Int32Array(SLOTS).fill(-1);
  readonly #strings: string[] = new Array<string>(SLOTS).fill("");
  /** Lookups answered from the cache, and decoded (tests, benches). */
  hits = 0;
  misses = 0;

  /** The UTF-8 text of buf[start, end). */
  get(buf: Uint8Array, start: number, end: number): string {
    const len = end - start;
    // Tiny ones ("/", ".") are cheap to decode, and the hash below reads three bytes from the end.
    if (len > MAX_CACHED_PATH_BYTES || len < 4) return len <= 0 ? "" : this.#decode(buf, start, end);
    // Paths differ most at their end (file names) and in length; the middle byte splits
    // siblings such as /proc/1/stat and /proc/2/stat that share both.
    const h =
      (len * 31 +
        (buf[end - 1] as number) * 7 +
        (buf[end - 2] as number) * 131 +
        (buf[start + (len >> 1)] as number) * 17 +
        (buf[end - 3] as number)) &
      (SLOTS - 1);
    const keys = this.#keys;
    if (this.#lens[h] === len) {
      const at = h * MAX_CACHED_PATH_BYTES;
      let i = 0;
      while (i < len && keys[at + i] === buf[start + i]) i++;
      if (i === len) {
        this.hits++;
        return this.#strings[h] as string;
      }
    }
    const text = this.#decode(buf, start, end);
    keys.set(buf.subarray(start, end), h * MAX_CACHED_PATH_BYTES);
    this.#lens[h] = len;
    this.#strings[h] = text;
    return text;
  }

  #decode(buf: Uint8Array, start: number, end: number): string {
    this.misses++;
    return utf8Slice(buf as Buffer, start, end);
  }
}

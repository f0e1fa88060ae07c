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
 * decode to the same text. A path is kept from its second miss in a row on
 * its slot on (see get()). Direct-mapped (one entry per slot, the newest
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
  /** Per slot, the sampled-bytes fingerprint of the last path that missed there (see get()). */
  readonly #seen = new Int32Array(SLOTS);
  /** Lookups answered from the cache, and decoded (tests, benches). */
  hits = 0;
  misses = 0;

  /** The UTF-8 text of buf[start, end). */
  get(buf: Uint8Array, start: number, end: number): string {
    const len = end - start;
    // Tiny ones ("/", "/tmp") are cheap to decode, and the hash below reads seven bytes from the end.
    if (len > MAX_CACHED_PATH_BYTES || len < 8) return len <= 0 ? "" : this.#decode(buf, start, end);
    // Sampled bytes, not all of them: a path's end (its file name, though often a shared
    // extension: hence also the bytes before one), its middle and quarters (siblings such
    // as /proc/1/stat and /proc/2/stat), and its length. A collision costs a comparison.
    let fp = len;
    fp = (Math.imul(fp, 31) + (buf[end - 1] as number)) | 0;
    fp = (Math.imul(fp, 31) + (buf[end - 2] as number)) | 0;
    fp = (Math.imul(fp, 31) + (buf[end - 5] as number)) | 0;
    fp = (Math.imul(fp, 31) + (buf[end - 6] as number)) | 0;
    fp = (Math.imul(fp, 31) + (buf[end - 7] as number)) | 0;
    fp = (Math.imul(fp, 31) + (buf[start + (len >> 1)] as number)) | 0;
    fp = (Math.imul(fp, 31) + (buf[start + (len >> 2)] as number)) | 0;
    fp = (Math.imul(fp, 31) + (buf[end - 1 - (len >> 2)] as number)) | 0;
    fp ^= fp >>> 9;
    const h = fp & (SLOTS - 1);
    const keys = this.#keys;
    const at = h * MAX_CACHED_PATH_BYTES;
    if (this.#lens[h] === len) {
      // From the end: paths sharing a slot and a length mostly differ in their last bytes.
      let i = len - 1;
      while (i >= 0 && keys[at + i] === buf[start + i]) i--;
      if (i < 0) {
        this.hits++;
        return this.#strings[h] as string;
      }
    }
    const text = this.#decode(buf, start, end);
    // A path is kept from its second miss in a row on its slot (same fingerprint) on: for a
    // path met once, copying its bytes and keeping its string (which then outlives a young
    // GC or two) would cost more than the decode, and a stream of ever-new paths (a build,
    // `find /`) would pay that for every one.
    if (this.#seen[h] !== fp) {
      this.#seen[h] = fp;
      return text;
    }
    // A byte loop, not keys.set(buf.subarray()): making the subarray costs more than a
    // short copy (a Buffer's subarray goes through its species constructor).
    for (let i = 0; i < len; i++) keys[at + i] = buf[start + i] as number;
    this.#lens[h] = len;
    this.#strings[h] = text;
    return text;
  }

  #decode(buf: Uint8Array, start: number, end: number): string {
    this.misses++;
    return utf8Slice(buf as Buffer, start, end);
  }
}

/**
 * The on-disk spool: log records waiting for a collector that is
 * down or refusing. Append-only segment files in one directory, read back
 * oldest first; it survives an agent restart and `kill -9` (every append is
 * a write(2) into the page cache before append() returns; a record cut short
 * by a crash is detected by its CRC and cut off on the next open).
 *
 * Bounded in bytes. At the bound, space is made by dropping the oldest
 * records of the lowest priority present (segment by segment: every record
 * of that priority in the oldest segment that has any), or the incoming
 * record when it is of lower priority than everything spooled. Every
 * dropped record is returned to the caller, which counts it.
 *
 * Segment file (seg-<16 digits>.v2.spool): frames of
 * [u32 payload length][u32 CRC-32 of payload][payload].
 * Payload type 0, first in every segment, names the format of the bytes
 * below: SPOOL_RECORD_FORMAT (spool-codec.ts says what they are).
 * Payload type 1 declares a resource: [u8 1][u32 id][u32 n][resource n][u32 m][scope m].
 * Payload type 2 is a record: [u8 2][u32 resource id][u8 severity][record bytes].
 * Resource ids are local to a segment, declared before first use. A segment
 * of another format (another version's) is left where it is, unread, and
 * named in `foreignSegments`; earlier versions' `seg-N.spool` files too.
 * Only one agent may use a directory: a lock file holds the owner's pid.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { SPOOL_RECORD_FORMAT, type SpoolEntry, type SpoolGroup } from "./spool-codec.js";

export type { SpoolEntry } from "./spool-codec.js";

export interface SpoolOptions {
  readonly dir: string;
  /** Bound on the bytes of all segments together. */
  readonly maxBytes: number;
  /** A segment is closed once it reaches this size (default min(1 MiB, maxBytes / 8)). */
  readonly segmentBytes?: number;
}

export interface AppendResult {
  /** Records now in the spool. */
  readonly written: number;
  /** Records lost to make room (spooled before, or the incoming ones). */
  readonly dropped: number;
}

export class SpoolLockedError extends Error {
  override readonly name = "SpoolLockedError";
}

const FRAME_HEADER = 8;
const TYPE_FORMAT = 0;
const TYPE_RESOURCE = 1;
const TYPE_RECORD = 2;
const SEGMENT_RE = /^seg-(\d{16})\.v2\.spool$/;
/** Severity numbers are 1..24; index = severity. */
const SEVERITY_SLOTS = 25;

const crc32: (data: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === "function"
    ? (data) => (zlib as unknown as { crc32(d: Uint8Array): number }).crc32(data)
    : crc32Table;

function crc32Table(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  bytes: number;
  records: number;
  /** Records by severity number. */
  readonly bySeverity: number[];
}

function newSegment(dir: string, seq: number): Segment {
  return {
    seq,
    path: join(dir, `seg-${String(seq).padStart(16, "0")}.v2.spool`),
    bytes: 0,
    records: 0,
    bySeverity: new Array<number>(SEVERITY_SLOTS).fill(0),
  };
}

function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  payload.copy(out, FRAME_HEADER);
  return out;
}

/** The first frame of every segment: what the bytes after it are. */
const FORMAT_FRAME = frame(
  Buffer.concat([Buffer.from([TYPE_FORMAT]), Buffer.from(SPOOL_RECORD_FORMAT, "utf8")]),
);

function resourcePayload(id: number, resource: SpoolGroup): Buffer {
  const p = Buffer.allocUnsafe(1 + 4 + 4 + resource.resource.length + 4 + resource.scope.length);
  let at = p.writeUInt8(TYPE_RESOURCE, 0);
  at = p.writeUInt32LE(id, at);
  at = p.writeUInt32LE(resource.resource.length, at);
  at += resource.resource.copy(p, at);
  at = p.writeUInt32LE(resource.scope.length, at);
  resource.scope.copy(p, at);
  return p;
}

function recordPayload(id: number, entry: SpoolEntry): Buffer {
  const p = Buffer.allocUnsafe(1 + 4 + 1 + entry.record.length);
  p.writeUInt8(TYPE_RECORD, 0);
  p.writeUInt32LE(id, 1);
  p.writeUInt8(Math.min(Math.max(entry.severity, 0), SEVERITY_SLOTS - 1), 5);
  entry.record.copy(p, 6);
  return p;
}

/**
 * Reads a segment's frames; returns the entries and the length of the valid
 * prefix, or `foreign` when its format frame names another format.
 */
function readSegment(path: string): { entries: SpoolEntry[]; validBytes: number; foreign?: string } {
  const data = readFileSync(path);
  const resources = new Map<number, SpoolGroup>();
  const entries: SpoolEntry[] = [];
  let at = 0;
  let formatSeen = false;
  while (at + FRAME_HEADER <= data.length) {
    const len = data.readUInt32LE(at);
    const crc = data.readUInt32LE(at + 4);
    if (at + FRAME_HEADER + len > data.length) break; // cut short by a crash
    const payload = data.subarray(at + FRAME_HEADER, at + FRAME_HEADER + len);
    if (crc32(payload) !== crc || len < 1) break;
    const type = payload[0];
    if (!formatSeen) {
      // A segment starts with its format; without one (a crash right after creating it) there is nothing to read.
      if (type !== TYPE_FORMAT) break;
      const format = payload.subarray(1).toString("utf8");
      if (format !== SPOOL_RECORD_FORMAT) return { entries: [], validBytes: at, foreign: format };
      formatSeen = true;
    } else if (type === TYPE_RESOURCE) {
      const id = payload.readUInt32LE(1);
      const n = payload.readUInt32LE(5);
      const resource = Buffer.from(payload.subarray(9, 9 + n));
      const m = payload.readUInt32LE(9 + n);
      const scope = Buffer.from(payload.subarray(13 + n, 13 + n + m));
      resources.set(id, { resource, scope });
    } else if (type === TYPE_RECORD) {
      const resource = resources.get(payload.readUInt32LE(1));
      if (resource === undefined) break; // a record before its resource: treat the rest as damaged
      entries.push({ resource, severity: payload[5] as number, record: Buffer.from(payload.subarray(6)) });
    } else {
      break;
    }
    at += FRAME_HEADER + len;
  }
  return { entries, validBytes: at };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly segmentBytes: number;
  /** Oldest first; the last one is the one being appended to (when `fd` is open). */
  private readonly segments: Segment[] = [];
  private fd: number | undefined;
  private activeIds = new Map<SpoolGroup, number>();
  private nextSeq = 0;
  private totalBytes = 0;
  private totalRecords = 0;
  /** The head segment handed out by readHead() and not yet removed: never rewritten under the reader. */
  private reading: Segment | undefined;
  private readonly lockPath: string;
  /** Segments of another format found at open (left untouched), for the agent to mention. */
  readonly foreignSegments: string[] = [];

  private constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.segmentBytes =
      options.segmentBytes ?? Math.max(4096, Math.min(1 << 20, Math.floor(options.maxBytes / 8)));
    this.lockPath = join(this.dir, "spool.lock");
  }

  /** Opens (creating) the directory, takes its lock, and indexes what an earlier run left there. */
  static open(options: SpoolOptions): Spool {
    if (!(options.maxBytes > 0))
      throw new Error(`spool size bound must be positive, got ${options.maxBytes}`);
    const spool = new Spool(options);
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    spool.lock();
    spool.scan();
    return spool;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get records(): number {
    return this.totalRecords;
  }

  private lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(this.lockPath, String(process.pid), { flag: "wx", mode: 0o600 });
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const owner = Number(readFileSync(this.lockPath, "utf8").trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
          throw new SpoolLockedError(`spool directory ${this.dir} is in use by process ${owner}`);
        }
        unlinkSync(this.lockPath); // left by a process that is gone (kill -9)
      }
    }
    throw new SpoolLockedError(`cannot lock spool directory ${this.dir}`);
  }

  private scan(): void {
    const names = readdirSync(this.dir)
      .filter((n) => SEGMENT_RE.test(n))
      .sort();
    for (const name of names) {
      const seq = Number((SEGMENT_RE.exec(name) as RegExpExecArray)[1]);
      const segment = newSegment(this.dir, seq);
      const { entries, validBytes, foreign } = readSegment(segment.path);
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      if (foreign !== undefined) {
        // Another version's records: not ours to read, cut or delete.
        this.foreignSegments.push(`${segment.path} (${foreign})`);
        continue;
      }
      const fd = openSync(segment.path, "r+");
      try {
        if (fstatSync(fd).size > validBytes) ftruncateSync(fd, validBytes);
      } finally {
        closeSync(fd);
      }
      if (entries.length === 0) {
        rmSync(segment.path, { force: true });
        this.nextSeq = Math.max(this.nextSeq, seq + 1);
        continue;
      }
      segment.bytes = validBytes;
      segment.records = entries.length;
      for (const e of entries) (segment.bySeverity[e.severity] as number)++;
      this.segments.push(segment);
      this.totalBytes += segment.bytes;
      this.totalRecords += segment.records;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
  }

  /** Appends in order, making room at the bound; returns what was written and what was dropped. */
  append(entries: readonly SpoolEntry[]): AppendResult {
    let written = 0;
    let dropped = 0;
    for (const entry of entries) {
      const need =
        FORMAT_FRAME.length + // a new segment may start here
        FRAME_HEADER * 2 +
        16 +
        entry.record.length +
        entry.resource.resource.length +
        entry.resource.scope.length;
      if (need > this.maxBytes) {
        dropped++;
        continue;
      }
      let fits = true;
      while (this.totalBytes + need > this.maxBytes) {
        const freed = this.evict(entry.severity);
        if (freed < 0) {
          fits = false;
          break;
        }
        dropped += freed;
      }
      if (!fits) {
        dropped++;
        continue;
      }
      this.write(entry);
      written++;
    }
    return { written, dropped };
  }

  private active(): Segment {
    const last = this.segments[this.segments.length - 1];
    if (this.fd !== undefined && last !== undefined && last.bytes < this.segmentBytes) return last;
    this.closeActive();
    const segment = newSegment(this.dir, this.nextSeq++);
    this.fd = openSync(segment.path, "a", 0o600);
    this.activeIds = new Map();
    this.segments.push(segment);
    for (let off = 0; off < FORMAT_FRAME.length; ) off += writeSync(this.fd, FORMAT_FRAME, off);
    segment.bytes += FORMAT_FRAME.length;
    this.totalBytes += FORMAT_FRAME.length;
    return segment;
  }

  private closeActive(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private write(entry: SpoolEntry): void {
    const segment = this.active();
    const fd = this.fd as number;
    let id = this.activeIds.get(entry.resource);
    let bytes = 0;
    const parts: Buffer[] = [];
    if (id === undefined) {
      id = this.activeIds.size + 1;
      this.activeIds.set(entry.resource, id);
      parts.push(frame(resourcePayload(id, entry.resource)));
    }
    parts.push(frame(recordPayload(id, entry)));
    const data = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
    bytes = data.length;
    segment.bytes += bytes;
    segment.records++;
    (segment.bySeverity[entry.severity] as number)++;
    this.totalBytes += bytes;
    this.totalRecords++;
  }

  /**
   * Frees space for a record of `incoming` severity: drops every record of
   * the lowest severity present in the oldest segment holding one. Returns
   * the records dropped, or -1 when nothing may go (only the segment being
   * read is left, or the incoming record is the least important).
   */
  private evict(incoming: number): number {
    let lowest = SEVERITY_SLOTS;
    for (const segment of this.segments) {
      if (segment === this.reading) continue;
      for (let s = 0; s < lowest; s++) if ((segment.bySeverity[s] as number) > 0) lowest = s;
    }
    if (lowest === SEVERITY_SLOTS || lowest > incoming) return -1;
    const victim = this.segments.find(
      (s) => s !== this.reading && (s.bySeverity[lowest] as number) > 0,
    ) as Segment;
    if (victim === this.segments[this.segments.length - 1]) this.closeActive();
    const { entries } = readSegment(victim.path);
    const keep = entries.filter((e) => e.severity !== lowest);
    const droppedHere = entries.length - keep.length;
    this.totalBytes -= victim.bytes;
    this.totalRecords -= victim.records;
    if (keep.length === 0) {
      rmSync(victim.path, { force: true });
      this.segments.splice(this.segments.indexOf(victim), 1);
      return droppedHere;
    }
    // Rewrite the survivors next to the segment, then rename over it (a crash leaves one or the other).
    const tmp = `${victim.path}.tmp`;
    const ids = new Map<SpoolGroup, number>();
    const parts: Buffer[] = [FORMAT_FRAME];
    victim.bySeverity.fill(0);
    for (const e of keep) {
      let id = ids.get(e.resource);
      if (id === undefined) {
        id = ids.size + 1;
        ids.set(e.resource, id);
        parts.push(frame(resourcePayload(id, e.resource)));
      }
      parts.push(frame(recordPayload(id, e)));
      (victim.bySeverity[e.severity] as number)++;
    }
    const data = Buffer.concat(parts);
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, victim.path);
    victim.bytes = data.length;
    victim.records = keep.length;
    this.totalBytes += victim.bytes;
    this.totalRecords += victim.records;
    return droppedHere;
  }

  /**
   * The oldest segment's records, for sending. The segment stays on disk
   * (and counted) until removeHead(); a segment still being appended to is
   * closed first, so new records go to the next one.
   */
  readHead(): { readonly entries: readonly SpoolEntry[] } | undefined {
    const head = this.segments[0];
    if (head === undefined) return undefined;
    if (head === this.segments[this.segments.length - 1]) this.closeActive();
    this.reading = head;
    return { entries: readSegment(head.path).entries };
  }

  /** The head segment was delivered: delete it. */
  removeHead(): void {
    const head = this.reading;
    if (head === undefined) return;
    this.reading = undefined;
    const i = this.segments.indexOf(head);
    if (i >= 0) this.segments.splice(i, 1);
    rmSync(head.path, { force: true });
    this.totalBytes -= head.bytes;
    this.totalRecords -= head.records;
  }

  /** Closes the segment being written and releases the lock; the files stay for the next run. */
  close(): void {
    this.closeActive();
    this.reading = undefined;
    if (existsSync(this.lockPath)) {
      try {
        if (readFileSync(this.lockPath, "utf8").trim() === String(process.pid)) unlinkSync(this.lockPath);
      } catch {
        // Another owner took it over: not ours to remove.
      }
    }
  }
}

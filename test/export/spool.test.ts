import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 as zlibCrc32 } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { Spool, SpoolLockedError } from "../../src/export/spool.js";
import { SPOOL_RECORD_FORMAT, type SpoolGroup } from "../../src/export/spool-codec.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), "pg-spool-unit-"));
  dirs.push(d);
  return d;
}

// The spool stores bytes; what they mean is spool-codec's business (see spool-codec.test.ts).
const resource: SpoolGroup = {
  resource: Buffer.from(JSON.stringify({ attributes: { "service.name": "a" } })),
  scope: Buffer.from(JSON.stringify({ name: "peregrine", version: "1" })),
};
const entry = (n: number, severity = 13) => ({
  resource,
  severity,
  record: Buffer.from(`record-${n}`.padEnd(100, ".")),
});

describe("spool", () => {
  it("keeps records across reopen, in order, and cuts a record torn by a crash", () => {
    const d = dir();
    const a = Spool.open({ dir: d, maxBytes: 1 << 20 });
    expect(a.append([entry(1), entry(2), entry(3)])).toEqual({ written: 3, dropped: 0 });
    a.close();
    // A crash in the middle of a write: a partial frame at the end.
    const [segment] = readdirSync(d).filter((n) => n.endsWith(".spool"));
    const path = join(d, segment as string);
    appendFileSync(path, Buffer.from([200, 0, 0, 0, 1, 2, 3]));
    const size = statSync(path).size;
    const b = Spool.open({ dir: d, maxBytes: 1 << 20 });
    expect(b.records).toBe(3);
    expect(statSync(path).size).toBe(size - 7);
    const head = b.readHead();
    expect(head?.entries.map((e) => e.record.toString().replace(/\.+$/, ""))).toEqual([
      "record-1",
      "record-2",
      "record-3",
    ]);
    b.removeHead();
    expect(b.records).toBe(0);
    b.close();
  });

  it("drops a record whose bytes were damaged, and everything after it in that segment", () => {
    const d = dir();
    const a = Spool.open({ dir: d, maxBytes: 1 << 20 });
    a.append([entry(1), entry(2)]);
    a.close();
    const [segment] = readdirSync(d).filter((n) => n.endsWith(".spool"));
    const path = join(d, segment as string);
    truncateSync(path, statSync(path).size - 1);
    const b = Spool.open({ dir: d, maxBytes: 1 << 20 });
    expect(b.records).toBe(1);
    b.close();
  });

  it("at the bound drops the lowest priority first, oldest first, and reports every drop", () => {
    const d = dir();
    const s = Spool.open({ dir: d, maxBytes: 8 * 1024, segmentBytes: 1024 });
    let dropped = 0;
    let written = 0;
    for (let i = 0; i < 200; i++) {
      const r = s.append([entry(i, i % 2 === 0 ? 18 : 9)]);
      dropped += r.dropped;
      written += r.written;
    }
    expect(written).toBeLessThanOrEqual(200); // a low-priority record arriving when only higher ones are left is itself the drop
    expect(s.records).toBe(200 - dropped);
    expect(s.bytes).toBeLessThanOrEqual(8 * 1024);
    const kept: number[] = [];
    for (let h = s.readHead(); h !== undefined; h = s.readHead()) {
      for (const e of h.entries) kept.push(e.severity);
      s.removeHead();
    }
    // Every severity-18 record that fit is kept over any severity-9 one.
    expect(kept.filter((x) => x === 18).length).toBeGreaterThan(kept.filter((x) => x === 9).length);
    expect(kept.length).toBe(200 - dropped);
    s.close();
  });

  it("refuses a directory another live agent holds", () => {
    const d = dir();
    const a = Spool.open({ dir: d, maxBytes: 1 << 20 });
    // Same process: the lock names our pid, so pretend another by writing pid 1 (init, alive).
    a.close();
    appendFileSync(join(d, "spool.lock"), "1");
    expect(() => Spool.open({ dir: d, maxBytes: 1 << 20 })).toThrow(SpoolLockedError);
  });

  it("names its format at the head of every segment and leaves another format's segments alone", () => {
    const d = dir();
    const a = Spool.open({ dir: d, maxBytes: 1 << 20 });
    a.append([entry(1)]);
    a.close();
    const [mine] = readdirSync(d).filter((n) => n.endsWith(".spool"));
    expect(mine).toMatch(/^seg-\d{16}\.v2\.spool$/);
    expect(
      readFileSync(join(d, mine as string))
        .subarray(9)
        .toString("latin1"),
    ).toContain(SPOOL_RECORD_FORMAT);
    // A later version's segment (same naming, another format frame) and an earlier version's file.
    const later = join(d, "seg-0000000000000099.v2.spool");
    const payload = Buffer.from("\u0000peregrine-spool/3 something-else", "latin1");
    const header = Buffer.alloc(8);
    header.writeUInt32LE(payload.length, 0);
    header.writeUInt32LE(zlibCrc32(payload), 4);
    writeFileSync(later, Buffer.concat([header, payload, Buffer.from("more bytes")]));
    writeFileSync(join(d, "seg-0000000000000001.spool"), "v1 bytes");
    const b = Spool.open({ dir: d, maxBytes: 1 << 20 });
    expect(b.records).toBe(1);
    expect(b.foreignSegments).toEqual([`${later} (peregrine-spool/3 something-else)`]);
    b.append([entry(2)]); // a new segment numbered after the foreign one
    const h = b.readHead();
    expect(h?.entries).toHaveLength(1);
    b.removeHead();
    expect(b.readHead()?.entries.map((e) => e.record.toString().replace(/\.+$/, ""))).toEqual(["record-2"]);
    b.removeHead();
    b.close();
    expect(statSync(later).size).toBe(8 + payload.length + 10); // untouched
    expect(readdirSync(d).filter((n) => n.startsWith("seg-0000000000000100"))).toEqual([]); // the head was delivered
  });
});

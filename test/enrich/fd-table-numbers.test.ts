/**
 * The fd table keeps numbers below 64 in array slots and the rest in a Map
 * (fd-table.ts, FdMap). Both must behave as one map: same answers, same
 * counts, insertion order in list(), copy-on-write across fork.
 */
import { describe, expect, it } from "vitest";
import { AT_FDCWD, FdTable, O_CLOEXEC } from "../../src/enrich/fd-table.js";
import { NO_PROC } from "../../src/enrich/proc-source.js";

const O_RDONLY = 0;

function table(): FdTable {
  return new FdTable({ source: NO_PROC });
}

describe("FdTable: low and high descriptor numbers", () => {
  it("stores, answers and closes numbers on both sides of 64", () => {
    const t = table();
    for (const fd of [0, 3, 63, 64, 5000, 70000]) t.onOpen(10, fd, `/f${fd}`, AT_FDCWD, O_RDONLY, "/");
    expect(t.size).toBe(6);
    for (const fd of [0, 3, 63, 64, 5000, 70000]) expect(t.get(10, fd)?.name).toBe(`/f${fd}`);
    expect(t.get(10, 62)).toBeUndefined();
    expect(t.get(10, -1)).toBeUndefined();
    t.onClose(10, 63);
    t.onClose(10, 64);
    t.onClose(10, 4); // not open: nothing changes
    t.onClose(10, -1);
    expect(t.size).toBe(4);
    expect(t.get(10, 63)).toBeUndefined();
    expect(t.get(10, 64)).toBeUndefined();
    expect(t.list(10).map((f) => f.num)).toEqual([0, 3, 5000, 70000]);
  });

  it("lists in the order descriptors were added, a reused number at the end", () => {
    const t = table();
    for (const fd of [2000, 3, 1500, 5]) t.onOpen(10, fd, `/f${fd}`, AT_FDCWD, O_RDONLY, "/");
    expect(t.list(10).map((f) => f.num)).toEqual([2000, 3, 1500, 5]);
    t.onClose(10, 3);
    t.onOpen(10, 3, "/again", AT_FDCWD, O_RDONLY, "/");
    // Replacing an open number in place (dup2 onto it) keeps its position, as a Map would.
    t.onOpen(10, 2000, "/replaced", AT_FDCWD, O_RDONLY, "/");
    expect(t.list(10).map((f) => f.name)).toEqual(["/replaced", "/f1500", "/f5", "/again"]);
    expect(t.size).toBe(4);
  });

  it("a forked child shares the parent's low and high descriptors copy-on-write", () => {
    const t = table();
    t.onOpen(10, 3, "/low", AT_FDCWD, O_RDONLY, "/");
    t.onOpen(10, 3000, "/high", AT_FDCWD, O_RDONLY, "/");
    t.onFork(10, 11);
    expect(t.size).toBe(2); // shared: counted once
    t.onClose(11, 3);
    t.onClose(11, 3000);
    t.onOpen(11, 4000, "/child", AT_FDCWD, O_RDONLY, "/");
    expect(t.list(10).map((f) => f.name)).toEqual(["/low", "/high"]);
    expect(t.list(11).map((f) => f.name)).toEqual(["/child"]);
    expect(t.size).toBe(3);
    t.onOpen(10, 3001, "/parent-later", AT_FDCWD, O_RDONLY, "/");
    expect(t.get(11, 3001)).toBeUndefined();
    t.onExit(11);
    expect(t.size).toBe(3);
  });

  it("exec drops close-on-exec descriptors on both sides of 64", () => {
    const t = table();
    t.onOpen(10, 3, "/keep", AT_FDCWD, O_RDONLY, "/");
    t.onOpen(10, 4, "/drop", AT_FDCWD, O_CLOEXEC, "/");
    t.onOpen(10, 2048, "/drop-high", AT_FDCWD, O_CLOEXEC, "/");
    t.onOpen(10, 2049, "/keep-high", AT_FDCWD, O_RDONLY, "/");
    t.onExec(10);
    expect(t.list(10).map((f) => f.name)).toEqual(["/keep", "/keep-high"]);
    expect(t.size).toBe(2);
  });

  it("an open+close loop on the same number leaves the table as it was", () => {
    const t = table();
    t.onOpen(10, 0, "/dev/null", AT_FDCWD, O_RDONLY, "/");
    for (let i = 0; i < 10_000; i++) {
      t.onOpen(10, 3, "/etc/hostname", AT_FDCWD, O_RDONLY, "/");
      t.onClose(10, 3);
    }
    expect(t.size).toBe(1);
    expect(t.list(10).map((f) => f.num)).toEqual([0]);
  });
});

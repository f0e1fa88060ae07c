/**
 * The fd table over the descriptor-making syscalls, with no close of a file
 * ever applied (the kernel no longer sends them without a rule on close):
 * whatever reuses a number replaces the closed file's entry.
 */
import { describe, expect, it } from "vitest";
import { blankFd, type FdInfo } from "../../src/enrich/fd-info.js";
import {
  AT_FDCWD,
  CLOSE_RANGE_CLOEXEC,
  CLOSE_RANGE_UNSHARE,
  FdTable,
  O_CLOEXEC,
} from "../../src/enrich/fd-table.js";
import { NO_PROC, type ProcSource } from "../../src/enrich/proc-source.js";

/** A /proc that describes the given descriptors of pid 10 only. */
function procWith(fds: FdInfo[]): ProcSource {
  return { ...NO_PROC, readFd: (pid, fd) => (pid === 10 ? fds.find((f) => f.num === fd) : undefined) };
}

describe("FdTable: numbers reused without a close", () => {
  it("a pipe replaces the closed file at its number, both ends with the inode and close-on-exec", () => {
    const t = new FdTable({ source: NO_PROC });
    t.onOpen(10, 3, "/etc/shadow", AT_FDCWD, 0, "/"); // closed, unsent
    const [read] = t.onPair(10, [3, 4], "pipe", O_CLOEXEC, 777);
    expect(read).toMatchObject({ num: 3, type: "pipe", name: "", ino: 777, openFlags: O_CLOEXEC });
    expect(t.get(10, 4)).toMatchObject({ num: 4, type: "pipe", ino: 777 });
    expect(t.size).toBe(2);
  });

  it("an anon descriptor (eventfd …) replaces it too", () => {
    const t = new FdTable({ source: NO_PROC });
    t.onOpen(10, 5, "/etc/passwd", AT_FDCWD, 0, "/");
    expect(t.onAnon(10, 5, "event", false)).toMatchObject({ num: 5, type: "event", name: "", openFlags: 0 });
    expect(t.get(10, 5)?.name).toBe("");
  });
});

describe("FdTable: close_range", () => {
  it("closes the entries in [first, last] and leaves the others", () => {
    const t = new FdTable({ source: NO_PROC });
    for (const fd of [3, 4, 5, 9]) t.onOpen(10, fd, `/f${fd}`, AT_FDCWD, 0, "/");
    t.onCloseRange(10, 4, 5, 0);
    expect(t.list(10).map((f) => f.num)).toEqual([3, 9]);
    expect(t.size).toBe(2);
  });

  it("CLOSE_RANGE_CLOEXEC only marks, without touching a forked child's shared entries", () => {
    const t = new FdTable({ source: NO_PROC });
    t.onOpen(10, 3, "/a", AT_FDCWD, 0, "/");
    t.onFork(10, 11); // copy-on-write share
    t.onCloseRange(10, 0, 0xffffffff, CLOSE_RANGE_CLOEXEC);
    expect(t.get(10, 3)?.openFlags).toBe(O_CLOEXEC);
    expect(t.get(11, 3)?.openFlags).toBe(0);
    t.onExec(10);
    expect(t.get(10, 3)).toBeUndefined();
    expect(t.get(11, 3)?.name).toBe("/a");
  });

  it("CLOSE_RANGE_UNSHARE gives a process of a CLONE_FILES pair its own table first", () => {
    const t = new FdTable({ source: NO_PROC });
    t.onOpen(10, 3, "/a", AT_FDCWD, 0, "/");
    t.onFork(10, 11, true); // truly shared
    t.onCloseRange(11, 3, 3, CLOSE_RANGE_UNSHARE);
    expect(t.get(11, 3)).toBeUndefined();
    expect(t.get(10, 3)?.name).toBe("/a");
    // No longer shared: a new descriptor of one is not the other's.
    t.onOpen(10, 4, "/b", AT_FDCWD, 0, "/");
    expect(t.get(11, 4)).toBeUndefined();
  });
});

describe("FdTable: descriptors that arrive without a name", () => {
  it("SCM_RIGHTS / pidfd_getfd: described from /proc while it has them", () => {
    const t = new FdTable({ source: procWith([{ ...blankFd(6, "file"), name: "/etc/hostname" }]) });
    t.onOpen(10, 6, "/etc/passwd", AT_FDCWD, 0, "/");
    expect(t.onAcquired(10, [6], true)).toMatchObject({
      type: "file",
      name: "/etc/hostname",
      openFlags: O_CLOEXEC,
    });
  });

  it("and type unknown when /proc cannot say (gone, or a replay): never the old file's name", () => {
    const t = new FdTable({ source: NO_PROC });
    t.onOpen(10, 6, "/etc/passwd", AT_FDCWD, 0, "/");
    t.onOpen(10, 7, "/etc/group", AT_FDCWD, 0, "/");
    expect(t.onAcquired(10, [6, 7, -1], false)).toMatchObject({ num: 6, type: "unknown", name: "" });
    expect(t.get(10, 7)).toMatchObject({ type: "unknown", name: "" });
  });

  it("open_by_handle_at: the kernel's path and mode; without a path, /proc's, or a nameless file", () => {
    const S_IFDIR = 0o040000;
    const S_IFREG = 0o100000;
    const t = new FdTable({ source: NO_PROC });
    t.onOpen(10, 8, "/etc/shadow", AT_FDCWD, 0, "/");
    expect(t.onHandleOpen(10, 8, "/srv/data", O_CLOEXEC, 42, S_IFDIR | 0o755)).toMatchObject({
      type: "directory",
      name: "/srv/data",
      ino: 42,
      openFlags: O_CLOEXEC,
    });
    const named = new FdTable({ source: procWith([{ ...blankFd(8, "directory"), name: "/srv" }]) });
    expect(named.onHandleOpen(10, 8, "", 0, 42, 0)).toMatchObject({ type: "directory", name: "/srv" });
    const unnamed = new FdTable({ source: NO_PROC });
    unnamed.onOpen(10, 8, "/etc/shadow", AT_FDCWD, 0, "/");
    expect(unnamed.onHandleOpen(10, 8, "", 0, 42, S_IFREG)).toMatchObject({
      type: "file",
      name: "",
      ino: 42,
    });
  });
});

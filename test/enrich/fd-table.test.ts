import { describe, expect, it } from "vitest";
import type { FdInfo } from "../../src/enrich/fd-info.js";
import { AT_FDCWD, FdTable, O_CLOEXEC, O_DIRECTORY } from "../../src/enrich/fd-table.js";
import { NO_PROC, type ProcSource } from "../../src/enrich/proc-source.js";
import { fileFd } from "../support/detection-fixtures.js";

const O_RDONLY = 0;
const O_WRONLY = 1;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;

/** A /proc that knows a few descriptors of a few processes, and counts how often it is asked. */
function fakeProc(fds: Record<number, FdInfo[]>, atNs = 0n): ProcSource & { reads: number; lists: number } {
  const src = {
    ...NO_PROC,
    reads: 0,
    lists: 0,
    listFds(pid: number) {
      src.lists++;
      const list = fds[pid];
      return list === undefined ? undefined : { nums: list.map((f) => f.num), atNs };
    },
    readFd(pid: number, fd: number) {
      src.reads++;
      return fds[pid]?.find((f) => f.num === fd);
    },
  };
  return src;
}

describe("FdTable: files", () => {
  it("resolves open paths against the cwd and against a directory fd", () => {
    const t = new FdTable({ source: NO_PROC });
    expect(t.onOpen(10, 3, "b/../c.txt", AT_FDCWD, O_RDONLY, "/home/a").name).toBe("/home/a/c.txt");
    const dir = t.onOpen(10, 4, "/etc", AT_FDCWD, O_DIRECTORY, "/");
    expect(dir.type).toBe("directory");
    const rel = t.onOpen(10, 5, "shadow", 4, O_RDONLY, "/home/a");
    expect(rel).toMatchObject({ num: 5, type: "file", name: "/etc/shadow" });
    expect(t.get(10, 5)).toBe(rel);
    expect(t.size).toBe(3);
  });

  it("keeps a relative path as given when neither cwd nor dirfd is known", () => {
    const t = new FdTable({ source: NO_PROC });
    expect(t.onOpen(10, 3, "x", 99, O_RDONLY, "").name).toBe("x");
    expect(t.onOpen(10, 4, "y", AT_FDCWD, O_RDONLY, "").name).toBe("y");
  });

  it("O_TMPFILE is a file, not a directory, although it carries O_DIRECTORY's bit", () => {
    const t = new FdTable({ source: NO_PROC });
    expect(t.onOpen(10, 3, "/tmp", AT_FDCWD, 0o20200000 | O_WRONLY, "/").type).toBe("file");
  });

  it("dup2 copies what the old fd named, with its own close-on-exec flag; close frees it", () => {
    const t = new FdTable({ source: NO_PROC });
    t.onOpen(10, 3, "/var/log/app.log", AT_FDCWD, O_WRONLY | O_CLOEXEC, "/");
    const dup = t.onDup(10, 3, 1, false);
    expect(dup).toMatchObject({ num: 1, name: "/var/log/app.log" });
    expect((dup?.openFlags ?? 0) & O_CLOEXEC).toBe(0);
    expect(t.onDup(10, 3, 7, true)?.openFlags).toBe(O_WRONLY | O_CLOEXEC);
    t.onClose(10, 3);
    expect(t.get(10, 3)).toBeUndefined();
    expect(t.get(10, 1)?.name).toBe("/var/log/app.log");
    // dup2 onto a number from an unknown source: the old meaning of newfd is gone.
    t.onDup(10, 42, 1, false);
    expect(t.get(10, 1)).toBeUndefined();
  });

  it("exec closes close-on-exec descriptors only", () => {
    const t = new FdTable({ source: NO_PROC });
    t.onOpen(10, 3, "/a", AT_FDCWD, O_RDONLY | O_CLOEXEC, "/");
    t.onOpen(10, 4, "/b", AT_FDCWD, O_RDONLY, "/");
    t.onExec(10);
    expect(t.get(10, 3)).toBeUndefined();
    expect(t.get(10, 4)?.name).toBe("/b");
    expect(t.size).toBe(1);
  });

  it("fork gives the child a copy: later changes on either side stay on that side", () => {
    const t = new FdTable({ source: NO_PROC });
    t.onOpen(10, 3, "/a", AT_FDCWD, O_RDONLY, "/");
    t.onFork(10, 11);
    expect(t.get(11, 3)?.name).toBe("/a");
    expect(t.size).toBe(1); // shared until written
    t.onClose(11, 3);
    t.onOpen(10, 4, "/b", AT_FDCWD, O_RDONLY, "/");
    expect(t.get(11, 3)).toBeUndefined();
    expect(t.get(10, 3)?.name).toBe("/a");
    expect(t.get(11, 4)).toBeUndefined();
    expect(t.size).toBe(2);
    t.onExit(10);
    t.onExit(11);
    expect(t.size).toBe(0);
    expect(t.processes).toBe(0);
  });
});

describe("FdTable: sockets", () => {
  it("socket then connect: client tuple, client end first in fd.name", () => {
    const t = new FdTable({ source: NO_PROC });
    expect(t.onSocket(10, 3, AF_INET, SOCK_STREAM, 0)).toMatchObject({ type: "ipv4", l4proto: "tcp" });
    const fd = t.onConnect(10, 3, 0, {
      family: AF_INET,
      localAddr: "10.0.0.5",
      localPort: 40000,
      remoteAddr: "93.184.216.34",
      remotePort: 443,
      sockType: SOCK_STREAM,
      protocol: 6,
    });
    expect(fd).toMatchObject({
      type: "ipv4",
      name: "10.0.0.5:40000->93.184.216.34:443",
      role: "client",
      connected: true,
      l4proto: "tcp",
    });
  });

  it("a refused connect names the peer but is not connected; EINPROGRESS is", () => {
    const t = new FdTable({ source: NO_PROC });
    const ends = {
      family: AF_INET,
      localAddr: "",
      localPort: 0,
      remoteAddr: "127.0.0.1",
      remotePort: 9,
      sockType: SOCK_STREAM,
      protocol: 6,
    };
    expect(t.onConnect(10, 3, -111, ends)).toMatchObject({
      connected: false,
      name: "0.0.0.0:0->127.0.0.1:9",
    });
    expect(t.onConnect(10, 4, -115, ends)?.connected).toBe(true);
  });

  it("IPv4-mapped IPv6 peers are reported as IPv4, like libsinsp", () => {
    const t = new FdTable({ source: NO_PROC });
    const fd = t.onConnect(10, 3, 0, {
      family: AF_INET6,
      localAddr: "::ffff:127.0.0.1",
      localPort: 5000,
      remoteAddr: "::ffff:127.0.0.1",
      remotePort: 80,
      sockType: SOCK_STREAM,
      protocol: 6,
    });
    expect(fd).toMatchObject({ type: "ipv4", name: "127.0.0.1:5000->127.0.0.1:80", localAddr: "127.0.0.1" });
  });

  it("accept: server role, client end first; bind fills the local end", () => {
    const t = new FdTable({ source: NO_PROC });
    t.onSocket(10, 3, AF_INET6, SOCK_STREAM, 0);
    t.onBind(10, 3, {
      family: AF_INET6,
      localAddr: "::",
      localPort: 8080,
      remoteAddr: "",
      remotePort: 0,
      sockType: 0,
      protocol: 0,
    });
    expect(t.get(10, 3)).toMatchObject({
      localPort: 8080,
      name: ":::8080",
      connected: false,
      l4proto: "tcp",
    });
    const conn = t.onAccept(
      10,
      5,
      {
        family: AF_INET6,
        localAddr: "::1",
        localPort: 8080,
        remoteAddr: "::1",
        remotePort: 51000,
        sockType: 0,
        protocol: 0,
      },
      3,
      O_CLOEXEC,
    );
    expect(conn).toMatchObject({
      type: "ipv6",
      role: "server",
      connected: true,
      name: "::1:51000->::1:8080",
      l4proto: "tcp",
      openFlags: O_CLOEXEC,
    });
  });

  it("unix sockets are named by their path; socketpair and pipe make connected pairs", () => {
    const t = new FdTable({ source: NO_PROC });
    const fd = t.onConnect(10, 3, 0, {
      family: AF_UNIX,
      localAddr: "",
      localPort: 0,
      remoteAddr: "/run/docker.sock",
      remotePort: 0,
      sockType: SOCK_STREAM,
      protocol: 0,
    });
    expect(fd).toMatchObject({ type: "unix", name: "/run/docker.sock", l4proto: "" });
    const pair = t.onPair(10, [6, 7], "unix", 0);
    expect(pair.map((f) => [f.num, f.type, f.connected])).toEqual([
      [6, "unix", true],
      [7, "unix", true],
    ]);
    expect(t.onPair(10, [8, 9], "pipe", O_CLOEXEC)[1]).toMatchObject({ type: "pipe", openFlags: O_CLOEXEC });
    expect(t.onSocket(10, 12, AF_INET, SOCK_DGRAM, 17).l4proto).toBe("udp");
    expect(t.onSocket(10, 13, 16, 3, 0).type).toBe("netlink");
  });
});

describe("FdTable: processes older than the agent", () => {
  it("reads a process's descriptors from /proc once, on first need; then answers from the table", () => {
    const src = fakeProc({ 20: [fileFd(0, "/dev/null"), fileFd(5, "/etc/passwd")] });
    const t = new FdTable({ source: src });
    expect(t.get(20, 5)?.name).toBe("/etc/passwd");
    expect(t.isComplete(20)).toBe(true);
    expect(t.get(20, 9)).toBeUndefined(); // complete: no further /proc read
    expect(src.lists).toBe(1);
    expect(src.reads).toBe(2);
    expect(t.misses).toBe(1);
    expect(t.lateFills).toBe(2);
    // A child forked later is whole too.
    t.onFork(20, 21);
    expect(t.get(21, 0)?.name).toBe("/dev/null");
    expect(src.lists).toBe(1);
  });

  it("children of a parent older than the agent share one /proc read of the parent", () => {
    const src = fakeProc({ 40: [fileFd(0, "/dev/null"), fileFd(7, "/var/log/shell.log")] });
    const t = new FdTable({ source: src });
    for (const child of [41, 42, 43]) t.onFork(40, child);
    expect(src.lists).toBe(1);
    expect(t.get(43, 7)?.name).toBe("/var/log/shell.log");
    expect(t.isComplete(42)).toBe(true);
    expect(t.size).toBe(2);
  });

  it("does not replay onto a /proc listing the events that happened before it", () => {
    // What a forked child did between fork and exec (close, dup2 onto stdin), processed
    // after its exec when /proc already shows the result: applying them again would undo it.
    const src = fakeProc({ 50: [fileFd(0, "/dev/pts/1"), fileFd(3, "/etc/hosts")] }, 1000n);
    const t = new FdTable({ source: src });
    t.eventNs = 900n;
    t.onDup(50, 22, 0, false); // 22 unknown: would drop 0
    t.onClose(50, 3);
    t.onOpen(50, 4, "/tmp/old", AT_FDCWD, O_RDONLY, "/");
    expect(t.get(50, 0)?.name).toBe("/dev/pts/1");
    expect(t.get(50, 3)?.name).toBe("/etc/hosts");
    expect(t.list(50).map((f) => f.num)).toEqual([0, 3]);
    // After the listing, events apply again.
    t.eventNs = 1100n;
    t.onClose(50, 3);
    expect(t.get(50, 3)).toBeUndefined();
    // A fork older than the parent's listing does not hand the listing to the child.
    t.eventNs = 950n;
    t.onFork(50, 51);
    expect(t.processes).toBe(1);
  });

  it("an open by an unseen process first loads what it already had", () => {
    const src = fakeProc({ 20: [fileFd(4, "/var/lib/db")] });
    const t = new FdTable({ source: src });
    t.onOpen(20, 6, "x", AT_FDCWD, O_RDONLY, "/tmp");
    expect(t.get(20, 4)?.name).toBe("/var/lib/db");
    expect(t.get(20, 6)?.name).toBe("/tmp/x");
  });

  it("past its bounds it stops adding and asks /proc for what it could not keep", () => {
    const src = fakeProc({ 30: [fileFd(100, "/big")] });
    const t = new FdTable({ source: src, maxPerProcess: 2 });
    t.onOpen(30, 3, "/a", AT_FDCWD, O_RDONLY, "/");
    t.onOpen(30, 4, "/b", AT_FDCWD, O_RDONLY, "/");
    t.onOpen(30, 5, "/c", AT_FDCWD, O_RDONLY, "/");
    expect(t.overflows).toBeGreaterThan(0);
    expect(t.isComplete(30)).toBe(false);
    expect(t.list(30).map((f) => f.name)).toEqual(["/big", "/a"]);
    const readsBefore = src.reads;
    // Not whole any more: a number it does not hold is asked of /proc rather than answered "none".
    expect(t.get(30, 5)).toBeUndefined();
    expect(src.reads).toBe(readsBefore + 1);
  });
});

describe("FdTable: the remembered last pid", () => {
  it("answers from the current set when a pid exits, is reused, forks or copies on write between lookups", () => {
    const t = new FdTable({ source: NO_PROC });
    const a = t.onOpen(10, 3, "/a", AT_FDCWD, O_RDONLY, "/");
    expect(t.get(10, 3)).toBe(a);
    // Exit, then the same pid again: its old descriptors are gone.
    t.onExit(10);
    expect(t.get(10, 3)).toBeUndefined();
    const b = t.onOpen(10, 3, "/b", AT_FDCWD, O_RDONLY, "/");
    expect(t.get(10, 3)).toBe(b);
    // A child shares the parent's set until one writes; looked up right before and after.
    t.onFork(10, 11);
    expect(t.get(11, 3)).toBe(b);
    t.onClose(11, 3);
    expect(t.get(11, 3)).toBeUndefined();
    expect(t.get(10, 3)).toBe(b);
    const c = t.onOpen(10, 4, "/c", AT_FDCWD, O_RDONLY, "/");
    expect(t.get(11, 4)).toBeUndefined();
    expect(t.get(10, 4)).toBe(c);
    // A pid reused by fork (release of its old table), looked up just before.
    expect(t.get(11, 3)).toBeUndefined();
    t.onFork(10, 11);
    expect(t.get(11, 4)).toBe(c);
    expect(t.list(11)).toEqual(t.list(10));
    t.onExit(11);
    expect(t.list(11)).toEqual([]);
    expect(t.get(10, 4)).toBe(c);
  });

  it("gives what a fresh table replaying the same events gives, for random event sequences on few pids", () => {
    // Same events into two tables; the second is asked about every pid after every event,
    // the first only at the end: remembered answers must never go stale.
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let run = 0; run < 50; run++) {
      const probed = new FdTable({ source: NO_PROC });
      const quiet = new FdTable({ source: NO_PROC });
      for (let i = 0; i < 200; i++) {
        const pid = 20 + rand(3);
        const other = 20 + rand(3);
        const fd = 3 + rand(4);
        const op = rand(5);
        const newFd = 3 + rand(4);
        for (const t of [probed, quiet]) {
          if (op === 0) t.onOpen(pid, fd, `/f${fd}`, AT_FDCWD, O_RDONLY, "/");
          else if (op === 1) t.onClose(pid, fd);
          else if (op === 2 && pid !== other) t.onFork(pid, other);
          else if (op === 3) t.onExit(pid);
          else t.onDup(pid, fd, newFd, false);
        }
        for (let p = 20; p < 23; p++) for (let f = 3; f < 7; f++) probed.get(p, f);
      }
      for (let p = 20; p < 23; p++) expect(probed.list(p)).toEqual(quiet.list(p));
      expect(probed.size).toBe(quiet.size);
    }
  });
});

import { describe, expect, it } from "vitest";
import type {
  ConnectEvent,
  ExecEvent,
  ExitEvent,
  ForkEvent,
  OpenEvent,
  SocketTuple,
  SyscallArgs,
  SyscallEvent,
} from "../../src/decode/events.js";
import { Enricher } from "../../src/enrich/enricher.js";
import { ProcessTable } from "../../src/enrich/process-table.js";
import { reportStateMetrics } from "../../src/enrich/state-metrics.js";
import { fakeUsers } from "../support/detection-fixtures.js";

const T = 1_700_000_000_000_000_000n;
const base = { recordFlags: 0, tsNs: T } as const;

function exec(pid: number, ppid: number, path: string): ExecEvent {
  return {
    ...base,
    kind: "exec",
    evtType: "execve",
    tgid: pid,
    tid: pid,
    ppid,
    uid: 1000,
    gid: 1000,
    euid: 1000,
    egid: 1000,
    loginuid: 1000,
    cgroupId: 0n,
    startNs: T,
    comm: path.split("/").pop() ?? "",
    filename: path,
    argv: [path],
  };
}

function open(pid: number, ret: number, path: string, dirfd = -100, openFlags = 0): OpenEvent {
  return {
    ...base,
    kind: "open",
    evtType: "openat",
    tgid: pid,
    tid: pid,
    ret,
    openFlags,
    mode: 0,
    dirfd,
    path,
  };
}

function fork(parent: number, child: number): ForkEvent {
  return {
    ...base,
    kind: "fork",
    evtType: "clone",
    tgid: parent,
    tid: parent,
    childTgid: child,
    childTid: child,
    childStartNs: T,
    isThread: false,
  };
}

function connect(pid: number, fd: number): ConnectEvent {
  return {
    ...base,
    kind: "connect",
    evtType: "connect",
    tgid: pid,
    tid: pid,
    ret: 0,
    fd,
    family: 2,
    daddr: "10.1.2.3",
    dport: 5432,
    saddr: "10.0.0.9",
    sport: 41000,
    sockType: 1,
    protocol: 6,
  };
}

const exit = (pid: number): ExitEvent => ({
  ...base,
  kind: "exit",
  evtType: "procexit",
  tgid: pid,
  tid: pid,
  exitCode: 0,
});

function sys(
  pid: number,
  evtType: SyscallEvent["evtType"],
  ret: number,
  args: SyscallArgs,
  tuple?: SocketTuple,
): SyscallEvent {
  return {
    ...base,
    kind: "syscall",
    evtType,
    tgid: pid,
    tid: pid,
    ret,
    args,
    tuple,
    uid: 0,
    gid: 0,
    euid: 0,
    egid: 0,
  };
}

function enricher(): Enricher {
  return new Enricher(new ProcessTable({ bootTimeNs: 0n, readProc: false }), fakeUsers(), "host1");
}

describe("Enricher", () => {
  it("gives an open its new descriptor, resolved against the process's cwd", () => {
    const en = enricher();
    en.enrich(exec(100, 1, "/usr/bin/app"));
    en.processes.onChdir(100, "/srv/app");
    const e = en.enrich(open(100, 5, "conf/app.yaml"));
    expect(e.fd).toMatchObject({ num: 5, type: "file", name: "/srv/app/conf/app.yaml" });
    expect(e.fds.get(100, 5)).toBe(e.fd);
    expect(e.process?.exePath).toBe("/usr/bin/app");
    expect(en.enrich(open(100, -2, "/missing")).fd).toBeUndefined();
  });

  it("gives a connect its socket, client end first, and the fd survives a fork into the child", () => {
    const en = enricher();
    en.enrich(exec(100, 1, "/usr/bin/app"));
    const e = en.enrich(connect(100, 7));
    expect(e.fd).toMatchObject({
      name: "10.0.0.9:41000->10.1.2.3:5432",
      role: "client",
      connected: true,
      l4proto: "tcp",
    });
    en.enrich(fork(100, 101));
    expect(en.fds.get(101, 7)?.name).toBe("10.0.0.9:41000->10.1.2.3:5432");
    expect(en.processes.get(101)?.ppid).toBe(100);
  });

  it("keeps an exiting process and its fds for the rules, then drops the fds", () => {
    const en = enricher();
    en.enrich(exec(100, 1, "/usr/bin/app"));
    en.enrich(open(100, 3, "/var/log/x"));
    const e = en.enrich(exit(100));
    expect(e.process?.pid).toBe(100);
    expect(e.fds.get(100, 3)?.name).toBe("/var/log/x");
    en.afterRules(exit(100));
    expect(en.fds.get(100, 3)).toBeUndefined();
  });

  it("counts misses by kind and reports them as increments", () => {
    const en = enricher();
    const added: [string, number][] = [];
    let fdSize: () => number = () => -1;
    const flush = reportStateMetrics(en, {
      processTableSize: () => {},
      fdTableSize: (read) => {
        fdSize = read;
      },
      enrichmentMiss: (kind, n) => added.push([kind, n]),
    });
    en.enrich(open(555, 3, "/x")); // unknown process (no /proc here)
    en.users.userName(4242); // no such user
    en.fds.get(555, 9); // the table has 555 but not fd 9 (and no /proc to ask)
    flush();
    expect(added).toEqual(
      expect.arrayContaining([
        ["process", expect.any(Number)],
        ["fd", 1],
        ["user", 1],
      ]),
    );
    expect(fdSize()).toBe(1);
    added.length = 0;
    flush();
    expect(added).toEqual([]);
  });

  it("follows dup2, close and fork-then-dup: e.fd is the new fd, a close's e.fd the old one", () => {
    const en = enricher();
    en.enrich(exec(100, 1, "/usr/bin/app"));
    en.enrich(open(100, 3, "/var/log/app.log", -100, 0o2000001)); // O_WRONLY|O_CLOEXEC
    const dup = en.enrich(sys(100, "dup2", 1, { oldfd: 3, newfd: 1 }));
    expect(dup.fd).toMatchObject({ num: 1, name: "/var/log/app.log", openFlags: 1 });
    const close = en.enrich(sys(100, "close", 0, { fd: 3 }));
    expect(close.fd?.name).toBe("/var/log/app.log"); // as it was, for the rules
    en.afterRules(close.event);
    expect(en.fds.get(100, 3)).toBeUndefined();
    en.enrich(fork(100, 101));
    en.enrich(exec(101, 100, "/bin/sh"));
    expect(en.fds.get(101, 1)?.name).toBe("/var/log/app.log"); // survived fork and exec (no O_CLOEXEC on the dup)
    const dup3 = en.enrich(sys(101, "dup3", 9, { oldfd: 1, newfd: 9, flags: 0o2000000 }));
    expect(dup3.fd?.openFlags).toBe(0o2000001);
    en.enrich(exec(101, 100, "/bin/true"));
    expect(en.fds.get(101, 9)).toBeUndefined();
  });

  it("clone(CLONE_FILES) shares one table; a plain fork copies", () => {
    const en = enricher();
    en.enrich(exec(100, 1, "/usr/bin/app"));
    en.enrich(open(100, 3, "/a"));
    en.enrich({ ...fork(100, 102), cloneFlags: 0x400 | 17 });
    en.enrich(sys(102, "close", 0, { fd: 3 }));
    en.afterRules(sys(102, "close", 0, { fd: 3 }));
    expect(en.fds.get(100, 3)).toBeUndefined();
    en.enrich(open(100, 4, "/b"));
    expect(en.fds.get(102, 4)?.name).toBe("/b");
  });

  it("builds sockets from socket, bind, listen, accept, sendto and socketpair", () => {
    const en = enricher();
    en.enrich(exec(200, 1, "/usr/sbin/server"));
    expect(en.enrich(sys(200, "socket", 3, { domain: 2, type: 1, proto: 0 })).fd).toMatchObject({
      type: "ipv4",
      l4proto: "tcp",
    });
    const tuple = (l: string, lp: number, r: string, rp: number): SocketTuple => ({
      family: 2,
      sockType: 1,
      protocol: 6,
      localAddr: l,
      localPort: lp,
      remoteAddr: r,
      remotePort: rp,
    });
    const bind = en.enrich(
      sys(
        200,
        "bind",
        0,
        { fd: 3, addr: { family: 2, addr: "0.0.0.0", port: 8080, path: "" } },
        tuple("0.0.0.0", 8080, "", 0),
      ),
    );
    expect(bind.fd).toMatchObject({ localPort: 8080, name: "0.0.0.0:8080", connected: false });
    expect(en.enrich(sys(200, "listen", 0, { fd: 3, backlog: 128 })).fd?.localPort).toBe(8080);
    const acc = en.enrich(
      sys(200, "accept4", 5, { fd: 3, flags: 0 }, tuple("10.0.0.1", 8080, "10.0.0.77", 50123)),
    );
    expect(acc.fd).toMatchObject({
      num: 5,
      role: "server",
      connected: true,
      name: "10.0.0.77:50123->10.0.0.1:8080",
      l4proto: "tcp",
    });
    // An unconnected UDP socket: the first datagram's destination names the peer.
    en.enrich(sys(200, "socket", 6, { domain: 2, type: 2, proto: 17 }));
    const sent = en.enrich(
      sys(
        200,
        "sendto",
        12,
        { fd: 6, addr: { family: 2, addr: "8.8.8.8", port: 53, path: "" } },
        { ...tuple("10.0.0.1", 40000, "", 0), sockType: 2, protocol: 17 },
      ),
    );
    expect(sent.fd).toMatchObject({ name: "10.0.0.1:40000->8.8.8.8:53", l4proto: "udp", role: "client" });
    const pair = en.enrich(sys(200, "socketpair", 0, { domain: 1, type: 1, fd1: 7, fd2: 8 }));
    expect(pair.fd).toMatchObject({ num: 7, type: "unix", connected: true });
    expect(en.fds.get(200, 8)?.type).toBe("unix");
    expect(en.enrich(sys(200, "memfd_create", 9, { name: "jit", flags: 1 })).fd).toMatchObject({
      type: "memfd",
      name: "memfd:jit",
    });
    expect(en.enrich(sys(200, "socket", -97, { domain: 99, type: 1, proto: 0 })).fd).toBeUndefined();
  });

  it("applies chdir, fchdir and set*id to the process", () => {
    const en = enricher();
    en.enrich(exec(300, 1, "/bin/sh"));
    en.enrich(sys(300, "chdir", 0, { path: "/srv" }));
    expect(en.processes.get(300)?.cwd).toBe("/srv");
    en.enrich(open(300, 4, "/var/lib", -100, 0o200000));
    en.enrich(sys(300, "fchdir", 0, { fd: 4 }));
    expect(en.processes.get(300)?.cwd).toBe("/var/lib");
    expect(en.enrich(open(300, 5, "db.sqlite")).fd?.name).toBe("/var/lib/db.sqlite");
    en.enrich({ ...sys(300, "setuid", 0, { uid: 1000 }), uid: 1000, euid: 1000 });
    expect(en.processes.get(300)).toMatchObject({ uid: 1000, euid: 1000 });
    en.enrich(sys(300, "capset", 0, { cap_effective: 0n, cap_permitted: 0n, cap_inheritable: 0n }));
    expect(en.processes.get(300)?.capEffective).toBe(0n);
  });
});

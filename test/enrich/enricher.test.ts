import { describe, expect, it } from "vitest";
import type { ConnectEvent, ExecEvent, ExitEvent, ForkEvent, OpenEvent } from "../../src/decode/events.js";
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
});

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ExecEvent, ExitEvent, ForkEvent } from "../../src/decode/events.js";
import { envOfInterest, parseStat, readProcess } from "../../src/enrich/proc-reader.js";
import { ProcessTable } from "../../src/enrich/process-table.js";

const BOOT = 1_700_000_000_000_000_000n;

/** Writes a fake /proc/<pid> the way the kernel lays it out. */
function fakeProc(
  root: string,
  pid: number,
  o: { comm: string; ppid: number; argv: string[]; exe: string; cwd: string; env?: string[]; uid?: number },
) {
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  // Field 22 (starttime) is 12345 ticks.
  const tail = ["S", String(o.ppid), ...Array.from({ length: 17 }, () => "0"), "12345", "0"].join(" ");
  writeFileSync(join(dir, "stat"), `${pid} (${o.comm}) ${tail}\n`);
  const uid = o.uid ?? 1000;
  writeFileSync(
    join(dir, "status"),
    `Name:\t${o.comm}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t100\t100\t100\t100\n`,
  );
  writeFileSync(join(dir, "cmdline"), `${o.argv.join("\0")}\0`);
  writeFileSync(join(dir, "comm"), `${o.comm}\n`);
  writeFileSync(join(dir, "environ"), `${(o.env ?? []).join("\0")}\0`);
  writeFileSync(join(dir, "loginuid"), "1000");
  symlinkSync(o.exe, join(dir, "exe"));
  symlinkSync(o.cwd, join(dir, "cwd"));
}

const common = { recordFlags: 0 } as const;

function exec(pid: number, ppid: number, filename: string, argv: string[], tsNs = BOOT + 1n): ExecEvent {
  return {
    ...common,
    kind: "exec",
    evtType: "execve",
    tsNs,
    tgid: pid,
    tid: pid,
    ppid,
    uid: 0,
    gid: 0,
    euid: 0,
    egid: 0,
    loginuid: 4294967295,
    cgroupId: 7n,
    startNs: tsNs,
    comm: filename.split("/").pop() ?? "",
    filename,
    argv,
  };
}

function fork(parent: number, child: number, isThread = false, tsNs = BOOT + 2n): ForkEvent {
  return {
    ...common,
    kind: "fork",
    evtType: "clone",
    tsNs,
    tgid: parent,
    tid: parent,
    childTgid: isThread ? parent : child,
    childTid: child,
    childStartNs: tsNs,
    isThread,
  };
}

function exit(pid: number, tsNs: bigint): ExitEvent {
  return { ...common, kind: "exit", evtType: "procexit", tsNs, tgid: pid, tid: pid, exitCode: 0 };
}

describe("proc-reader", () => {
  it("parses stat lines whose comm holds spaces and parentheses", () => {
    // state ppid pgrp session tty_nr, then 14 more fields up to starttime.
    const tail = ["S", "42", "40", "39", "34816", ...Array.from({ length: 14 }, () => "0"), "999", "0"].join(
      " ",
    );
    expect(parseStat(`7 (a (b) c) ${tail}`)).toEqual({
      comm: "a (b) c",
      ppid: 42,
      pgrp: 40,
      session: 39,
      ttyNr: 34816,
      startTicks: 999n,
    });
    expect(parseStat("garbage")).toBeUndefined();
  });

  it("keeps only the environment variables of interest", () => {
    const env = envOfInterest(
      "PATH=/bin\0OTEL_SERVICE_NAME=checkout\0SECRET=x\0OTEL_RESOURCE_ATTRIBUTES=a=b,c=d\0",
    );
    expect([...env]).toEqual([
      ["OTEL_SERVICE_NAME", "checkout"],
      ["OTEL_RESOURCE_ATTRIBUTES", "a=b,c=d"],
    ]);
  });
});

describe("ProcessTable", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "pg-proc-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("seeds from /proc with exe, argv, cwd, ids, start time and env", () => {
    fakeProc(root, 10, {
      comm: "nginx",
      ppid: 1,
      argv: ["nginx", "-g", "daemon off;"],
      exe: "/usr/sbin/nginx",
      cwd: "/srv",
      env: ["OTEL_SERVICE_NAME=web"],
    });
    const table = new ProcessTable({ bootTimeNs: BOOT, procRoot: root });
    expect(table.seedFromProc()).toBe(1);
    const p = table.get(10);
    expect(p).toMatchObject({
      pid: 10,
      ppid: 1,
      name: "nginx",
      exePath: "/usr/sbin/nginx",
      argv: ["nginx", "-g", "daemon off;"],
      cwd: "/srv",
      uid: 1000,
      gid: 100,
      loginuid: 1000,
      source: "proc",
    });
    expect(p?.startNs).toBe(BOOT + 12345n * 10_000_000n);
    expect(p?.env.get("OTEL_SERVICE_NAME")).toBe("web");
  });

  it("forks copy the parent, exec replaces the image, threads add no entry", () => {
    fakeProc(root, 10, { comm: "nginx", ppid: 1, argv: ["nginx"], exe: "/usr/sbin/nginx", cwd: "/srv" });
    const table = new ProcessTable({ bootTimeNs: BOOT, procRoot: root, readProc: true });
    table.seedFromProc();
    table.onFork(fork(10, 11));
    expect(table.get(11)).toMatchObject({ pid: 11, ppid: 10, name: "nginx", cwd: "/srv", source: "fork" });
    table.onFork(fork(10, 12, true));
    expect(table.size).toBe(2);
    // pid 11 has no /proc entry: exec falls back to the filename, resolved against the inherited cwd.
    table.onExec(exec(11, 10, "./sh", ["sh", "-c", "id"]));
    expect(table.get(11)).toMatchObject({
      name: "sh",
      exePath: "/srv/sh",
      argv: ["sh", "-c", "id"],
      ppid: 10,
      cwd: "/srv",
      source: "exec",
    });
  });

  it("fills a process first seen through an event from /proc, once", () => {
    const table = new ProcessTable({ bootTimeNs: BOOT, procRoot: root });
    expect(table.get(20)).toBeUndefined();
    fakeProc(root, 20, { comm: "late", ppid: 1, argv: ["late"], exe: "/bin/late", cwd: "/" });
    expect(table.get(20)).toBeUndefined(); // remembered as missing
    expect(table.misses).toBe(2);
    const t2 = new ProcessTable({ bootTimeNs: BOOT, procRoot: root });
    expect(t2.get(20)?.name).toBe("late");
    expect(t2.lateFills).toBe(1);
  });

  it("keeps exited processes answerable for the retention time, then reaps them", () => {
    const table = new ProcessTable({
      bootTimeNs: BOOT,
      procRoot: root,
      readProc: false,
      exitedRetentionNs: 100n,
    });
    table.onExec(exec(30, 1, "/bin/a", ["a"]));
    table.onExit(exit(30, BOOT + 10n));
    expect(table.get(30)?.name).toBe("a");
    table.reap(BOOT + 200n);
    expect(table.get(30)).toBeUndefined();
  });

  it("does not reap a newer process that reused an exited pid", () => {
    const table = new ProcessTable({
      bootTimeNs: BOOT,
      procRoot: root,
      readProc: false,
      exitedRetentionNs: 100n,
    });
    table.onExec(exec(30, 1, "/bin/a", ["a"]));
    table.onExit(exit(30, BOOT + 10n));
    table.onExec(exec(30, 1, "/bin/b", ["b"], BOOT + 20n));
    table.reap(BOOT + 500n);
    expect(table.get(30)?.name).toBe("b");
  });

  it("bounds its size, evicting exited entries first", () => {
    const table = new ProcessTable({
      bootTimeNs: BOOT,
      procRoot: root,
      readProc: false,
      maxEntries: 3,
      exitedRetentionNs: 10n ** 18n,
    });
    table.onExec(exec(1, 0, "/sbin/init", ["init"]));
    table.onExec(exec(2, 1, "/bin/a", ["a"]));
    table.onExit(exit(2, BOOT + 3n));
    table.onExec(exec(3, 1, "/bin/b", ["b"]));
    table.onExec(exec(4, 1, "/bin/c", ["c"]));
    expect(table.size).toBe(3);
    expect(table.get(2)).toBeUndefined();
    expect(table.get(1)?.name).toBe("init");
  });

  it("answers a thread id with its process, from clone events and from /proc", () => {
    fakeProc(root, 40, { comm: "java", ppid: 1, argv: ["java"], exe: "/usr/bin/java", cwd: "/" });
    // /proc/<tid> of a thread: its status names the thread group.
    mkdirSync(join(root, "41"));
    writeFileSync(join(root, "41", "status"), "Name:\tGC\nTgid:\t40\nPid:\t41\n");
    const table = new ProcessTable({ bootTimeNs: BOOT, procRoot: root });
    expect(table.get(41)?.pid).toBe(40);
    table.onFork(fork(40, 42, true));
    expect(table.get(42)?.name).toBe("java");
    expect(table.size).toBe(1);
  });

  it("fills the whole ancestry of a process first heard of late", () => {
    fakeProc(root, 50, { comm: "sshd", ppid: 1, argv: ["sshd"], exe: "/usr/sbin/sshd", cwd: "/" });
    fakeProc(root, 51, { comm: "bash", ppid: 50, argv: ["-bash"], exe: "/usr/bin/bash", cwd: "/root" });
    fakeProc(root, 52, { comm: "vim", ppid: 51, argv: ["vim"], exe: "/usr/bin/vim", cwd: "/root" });
    const table = new ProcessTable({ bootTimeNs: BOOT, procRoot: root });
    expect(table.get(52)?.name).toBe("vim");
    expect(table.size).toBe(3);
    expect(table.ancestors(52).map((p) => p.name)).toEqual(["bash", "sshd"]);
  });

  it("takes the exec record's own facts over /proc's (they hold after the process is gone)", () => {
    fakeProc(root, 70, { comm: "app", ppid: 1, argv: ["app"], exe: "/usr/bin/app", cwd: "/srv" });
    const table = new ProcessTable({ bootTimeNs: BOOT, procRoot: root });
    const info = table.onExec({
      ...exec(70, 1, "/usr/bin/app", ["app"]),
      comm: "app",
      tty: 34816,
      sid: 70,
      pgid: 70,
      vpid: 1,
      capEffective: 0x20n,
      capPermitted: 0x20n,
      capInheritable: 0n,
      exeIno: 4242,
      exeCtimeNs: 5n,
      exeMtimeNs: 6n,
      exeUpperLayer: true,
      exeFromMemfd: false,
    });
    expect(info).toMatchObject({
      tty: 34816,
      sid: 70,
      vpid: 1,
      capEffective: 0x20n,
      exeIno: 4242,
      exeCtimeNs: 5n,
      exeMtimeNs: 6n,
      exeUpperLayer: true,
    });
    // What only /proc has: the exe path with links resolved and the cwd.
    expect(info).toMatchObject({ exePath: "/usr/bin/app", cwd: "/srv" });
  });

  it("follows chdir and credential changes", () => {
    const table = new ProcessTable({ bootTimeNs: BOOT, readProc: false });
    table.onExec(exec(60, 1, "/bin/sh", ["sh"]));
    table.onChdir(60, "/tmp");
    table.onChdir(60, "../var/./log");
    expect(table.get(60)?.cwd).toBe("/var/log");
    table.onCredentials(60, { uid: 1000, euid: 1000 });
    expect(table.get(60)).toMatchObject({ uid: 1000, euid: 1000, gid: 0 });
  });

  it("reads the real /proc for this test process", () => {
    const me = readProcess(process.pid, BOOT);
    expect(me?.pid).toBe(process.pid);
    expect(me?.ppid).toBe(process.ppid);
    expect(me?.exePath).toBe(process.execPath);
    expect(me?.exeIno).toBe(statSync(process.execPath).ino);
    // The session id is whatever the kernel reports for us: 0 when our session leader lives
    // outside this PID namespace (CI runs the suite that way), so compare with /proc, not > 0.
    const stat = readFileSync(`/proc/${process.pid}/stat`, "utf8");
    const afterComm = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    expect(me?.sid).toBe(Number(afterComm[3]));
    expect(me?.vpid).toBe(process.pid);
  });
});

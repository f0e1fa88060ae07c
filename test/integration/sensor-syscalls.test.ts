/**
 * Live, per syscall family: test/integration/sensor-helper.c (built here
 * with cc) performs file, process and network syscalls; every record of its
 * pid is checked for the decoded arguments, the return value (failures
 * included) and the process identity. Needs root, kernel BTF, `make -C bpf`
 * and cc; skipped with the reason otherwise.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  DecodedRecord,
  ExecEvent,
  ExitEvent,
  ForkEvent,
  GenericSyscallName,
  OpenEvent,
  SensorEvent,
  SyscallEvent,
} from "../../src/decode/events.js";
import { type Sensor, startSensor } from "../../src/sensor/loader-process.js";
import { liveCSkipReason, RecordLog } from "./live-support.js";

const HELPER_SRC = fileURLToPath(new URL("./sensor-helper.c", import.meta.url));
const skipReason = liveCSkipReason();
if (skipReason) console.warn(`test/integration/sensor-syscalls.test.ts skipped: ${skipReason}`);

const ENOENT = -2;
const EBADF = -9;
const ENOSYS = -38;
const AT_FDCWD = -100;
const AT_REMOVEDIR = 0x200;
const SIGCHLD = 17;
const CLONE_VM = 0x100;
const CLONE_VFORK = 0x4000;
const CLONE_PARENT_SETTID = 0x100000;

interface HelperRun {
  readonly pid: number;
  readonly out: Readonly<Record<string, number>>;
  readonly events: readonly SensorEvent[];
}

describe.skipIf(skipReason !== undefined)("sensor: every syscall family (live)", () => {
  let dir: string;
  let helper: string;
  let sensor: Sensor;
  const log = new RecordLog();

  /** Runs the helper in `cwd`, waits for its exit record, returns its own events in order. */
  async function runHelper(args: string[], cwd: string): Promise<HelperRun> {
    const child = spawn(helper, args, { cwd, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      stdout += t;
    });
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(code).toBe(0);
    const pid = child.pid ?? -1;
    await log.waitFor((r): r is ExitEvent => r.kind === "exit" && r.tgid === pid, `exit of helper ${pid}`);
    const out: Record<string, number> = {};
    for (const line of stdout.trim().split("\n")) {
      const [k, v] = line.split("=");
      if (k !== undefined && v !== undefined) out[k] = Number(v);
    }
    // From the helper's own exec on: before it, the forked child is still Node's (spawn's chdir, dup2 …).
    const all = log.events().filter((e) => e.tgid === pid);
    const start = all.findIndex((e) => e.kind === "exec");
    return { pid, out, events: all.slice(Math.max(start, 0)) };
  }

  function syscalls(run: HelperRun, type: GenericSyscallName): SyscallEvent[] {
    return run.events.filter((e): e is SyscallEvent => e.kind === "syscall" && e.evtType === type);
  }
  function one(run: HelperRun, type: GenericSyscallName): SyscallEvent {
    const found = syscalls(run, type);
    expect(found, type).toHaveLength(1);
    return found[0] as SyscallEvent;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pg-sensor-syscalls-"));
    helper = join(dir, "sensor-helper");
    execFileSync("cc", ["-O2", "-o", helper, HELPER_SRC]);
    sensor = await startSensor({ statsIntervalMs: 200, onRecord: log.push });
  }, 60_000);

  afterAll(async () => {
    await sensor?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("files: paths as passed, dirfds, modes, owners, and failures with -errno", async () => {
    const work = mkdtempSync(join(dir, "files-"));
    const r = await runHelper(["files"], work);
    const { dirfd, fd } = r.out as { dirfd: number; fd: number };
    for (const e of r.events) expect(e.tid).toBe(r.pid);
    const creds = { uid: 0, gid: 0, euid: 0, egid: 0 };
    expect(one(r, "mkdir")).toMatchObject({ ret: 0, args: { path: "d1", mode: 0o750 }, ...creds });
    expect(one(r, "mkdirat")).toMatchObject({ ret: 0, args: { dirfd, path: "d2", mode: 0o700 } });
    expect(one(r, "symlink")).toMatchObject({ ret: 0, args: { target: "f", linkpath: "l1" } });
    expect(one(r, "symlinkat")).toMatchObject({
      ret: 0,
      args: { target: "f", linkdirfd: dirfd, linkpath: "l2" },
    });
    expect(one(r, "link")).toMatchObject({ ret: 0, args: { oldpath: "f", newpath: "h1" } });
    expect(one(r, "linkat")).toMatchObject({
      ret: 0,
      args: { olddirfd: dirfd, oldpath: "f", newdirfd: dirfd, newpath: "h2", flags: 0 },
    });
    expect(one(r, "rename")).toMatchObject({ ret: 0, args: { oldpath: "h1", newpath: "h3" } });
    expect(one(r, "renameat")).toMatchObject({
      ret: 0,
      args: { olddirfd: dirfd, oldpath: "h2", newpath: "h4" },
    });
    expect(one(r, "renameat2")).toMatchObject({ ret: 0, args: { oldpath: "h3", newpath: "h5", flags: 1 } });
    expect(one(r, "chmod")).toMatchObject({ ret: 0, args: { filename: "f", mode: 0o640 } });
    expect(one(r, "fchmod")).toMatchObject({ ret: 0, args: { fd, mode: 0o600 } });
    expect(one(r, "fchmodat")).toMatchObject({ ret: 0, args: { dirfd, filename: "f", mode: 0o644 } });
    expect(one(r, "chown")).toMatchObject({ ret: 0, args: { path: "f", uid: 1234, gid: 5678 } });
    expect(one(r, "fchown")).toMatchObject({ ret: 0, args: { fd, uid: 1, gid: 1 } });
    expect(one(r, "fchownat")).toMatchObject({
      ret: 0,
      args: { dirfd, pathname: "f", uid: 2, gid: 2, flags: 0 },
    });
    expect(one(r, "lchown")).toMatchObject({ ret: 0, args: { path: "l1", uid: 3, gid: 3 } });
    expect(syscalls(r, "unlink").map((e) => [e.args.path, e.ret])).toEqual([
      ["h4", 0],
      ["missing", ENOENT],
    ]);
    expect(syscalls(r, "unlinkat").map((e) => e.args)).toEqual([
      { dirfd, name: "h5", flags: 0 },
      { dirfd, name: "d2", flags: AT_REMOVEDIR },
    ]);
    expect(one(r, "rmdir")).toMatchObject({ ret: 0, args: { path: "d1" } });
    expect(one(r, "chdir")).toMatchObject({ ret: 0, args: { path: "/" } });
    expect(one(r, "fchdir")).toMatchObject({ ret: 0, args: { fd: dirfd } });
    const opens = r.events.filter((e): e is OpenEvent => e.kind === "open");
    expect(opens.find((o) => o.path === "missing")).toMatchObject({ ret: ENOENT, dirfd: AT_FDCWD });
    expect(syscalls(r, "close").map((e) => e.args.fd)).toEqual(expect.arrayContaining([fd, dirfd]));
  });

  it("processes: set*id, capset, prctl, namespaces, modules, bpf, mount, failed exec, kill, children", async () => {
    const r = await runHelper(["process"], dir);
    const o = r.out as Record<string, number>;
    expect(one(r, "setgid")).toMatchObject({ ret: 0, args: { gid: 0 }, gid: 0 });
    expect(one(r, "setuid")).toMatchObject({ ret: 0, args: { uid: 0 }, uid: 0, euid: 0 });
    expect(one(r, "setresgid")).toMatchObject({
      ret: 0,
      args: { rgid: 0xffffffff, egid: 0xffffffff, sgid: 0xffffffff },
    });
    expect(one(r, "setresuid")).toMatchObject({ ret: 0, args: { ruid: 0xffffffff } });
    expect(one(r, "setregid")).toMatchObject({ ret: 0 });
    expect(one(r, "setreuid")).toMatchObject({ ret: 0 });
    const capset = one(r, "capset");
    expect(capset.ret).toBe(0);
    expect(capset.args.cap_effective).toBeGreaterThan(0n);
    expect(one(r, "prctl")).toMatchObject({ ret: 0, args: { option: 15 /* PR_SET_NAME */ } });
    expect(one(r, "unshare")).toMatchObject({ ret: 0, args: { flags: 0 } });
    expect(one(r, "setns")).toMatchObject({ ret: EBADF, args: { fd: -1, nstype: 0 } });
    expect(one(r, "memfd_create")).toMatchObject({ ret: o.memfd, args: { name: "pg-memfd", flags: 1 } });
    expect(one(r, "init_module").ret).toBeLessThan(0);
    // EBADF, or ENOSYS on a kernel built without module support.
    expect(one(r, "finit_module")).toMatchObject({ args: { fd: -1 } });
    expect([EBADF, ENOSYS]).toContain(one(r, "finit_module").ret);
    expect(one(r, "delete_module")).toMatchObject({ args: { name: "pg_no_such_module", flags: 0o4000 } });
    expect([ENOENT, ENOSYS]).toContain(one(r, "delete_module").ret);
    expect(one(r, "bpf")).toMatchObject({ args: { cmd: 5 /* BPF_PROG_LOAD */ } });
    expect(one(r, "bpf").ret).toBeLessThan(0);
    expect(one(r, "userfaultfd").args).toEqual({ flags: 0o2000000 });
    expect(one(r, "mount")).toMatchObject({
      ret: ENOENT,
      args: { dev: "none", dir: "/nonexistent-pg", type: "tmpfs", flags: 2 /* MS_NOSUID */ },
    });
    expect(one(r, "umount2")).toMatchObject({ ret: ENOENT, args: { name: "/nonexistent-pg", flags: 2 } });
    // Failed execs come as syscall records; the helper's image never changed.
    expect(one(r, "execve")).toMatchObject({ ret: ENOENT, args: { filename: "/nonexistent/pg-exe" } });
    expect(one(r, "execveat")).toMatchObject({
      ret: ENOENT,
      args: { dirfd: AT_FDCWD, pathname: "nonexistent-pg-exe", flags: 0 },
    });
    expect(r.events.filter((e) => e.kind === "exec")).toHaveLength(1); // its own start only
    expect(syscalls(r, "kill").map((e) => e.args)).toEqual([
      { pid: r.pid, sig: 0 },
      { pid: o.killed_child, sig: 9 },
    ]);
    expect(one(r, "tkill")).toMatchObject({ ret: 0, args: { tid: r.pid, sig: 0 } });
    expect(one(r, "tgkill")).toMatchObject({ ret: 0, args: { pid: r.pid, tid: r.pid, sig: 0 } });
    expect(one(r, "ptrace")).toMatchObject({
      ret: 0,
      args: { request: 16 /* PTRACE_ATTACH */, pid: o.killed_child },
    });

    // Children: the syscall that made each one, its flags, and how it ended.
    const forks = r.events.filter((e): e is ForkEvent => e.kind === "fork");
    const byChild = new Map(forks.map((f) => [f.childTgid, f]));
    // glibc's fork() is clone(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD).
    expect(byChild.get(o.fork_child as number)).toMatchObject({ evtType: "clone", isThread: false });
    expect((byChild.get(o.fork_child as number)?.cloneFlags ?? 0) & 0xff).toBe(SIGCHLD);
    expect(byChild.get(o.vfork_child as number)).toMatchObject({
      evtType: "vfork",
      cloneFlags: CLONE_VM | CLONE_VFORK | SIGCHLD,
    });
    expect(byChild.get(o.clone3_child as number)).toMatchObject({
      evtType: "clone3",
      cloneFlags: CLONE_PARENT_SETTID,
    });
    const exitOf = async (pid: number) =>
      (await log.waitFor((x): x is ExitEvent => x.kind === "exit" && x.tgid === pid, `exit of ${pid}`))
        .exitCode;
    expect(await exitOf(o.fork_child as number)).toBe(5 << 8);
    expect(await exitOf(o.vfork_child as number)).toBe(6 << 8);
    expect(await exitOf(o.clone3_child as number)).toBe(7 << 8);
    expect(await exitOf(o.killed_child as number)).toBe(9);
  });

  it("exec: identity, credentials, capabilities and the executed file", async () => {
    const r = await runHelper(["files"], mkdtempSync(join(dir, "exec-")));
    const exec = (await log.waitFor(
      (x): x is ExecEvent => x.kind === "exec" && x.tgid === r.pid,
      "the helper's exec",
    )) as ExecEvent;
    const stat = execFileSync("stat", ["-L", "-c", "%i %Z %Y", helper], { encoding: "utf8" })
      .trim()
      .split(" ");
    expect(exec).toMatchObject({
      evtType: "execve",
      comm: "sensor-helper",
      filename: helper,
      argv: [helper, "files"],
      ppid: process.pid,
      vpid: r.pid,
      exeIno: Number(stat[0]),
      exeUpperLayer: false,
      exeFromMemfd: false,
    });
    expect(exec.exeCtimeNs !== undefined && exec.exeCtimeNs / 1_000_000_000n).toBe(BigInt(stat[1] ?? 0));
    expect(exec.exeMtimeNs !== undefined && exec.exeMtimeNs / 1_000_000_000n).toBe(BigInt(stat[2] ?? 0));
    // Root: the full bounding set is effective and permitted.
    expect(exec.capEffective).toBeGreaterThan(0n);
    expect(exec.capPermitted).toBe(exec.capEffective);
    // The test runner's session and process group are inherited.
    const stat0 = readFileSync(`/proc/${process.pid}/stat`, "utf8");
    // Fields after "(comm) ": state ppid pgrp session.
    const [, , pgrp, session] = stat0.slice(stat0.lastIndexOf(")") + 2).split(" ");
    expect(exec.pgid).toBe(Number(pgrp));
    expect(exec.sid).toBe(Number(session));
  });

  it("exec from a memfd (execveat with AT_EMPTY_PATH) is flagged", async () => {
    const child = spawn(helper, ["memfd-exec"], { stdio: "ignore" });
    const code = await new Promise((resolve) => child.once("close", resolve));
    expect(code).toBe(0);
    const exec = await log.waitFor(
      (x): x is ExecEvent => x.kind === "exec" && x.tgid === child.pid && x.argv[0] === "pg-memfd-true",
      "the memfd exec",
    );
    expect(exec).toMatchObject({
      evtType: "execveat",
      exeFromMemfd: true,
      exeUpperLayer: false,
      comm: "memfd:pg-exe",
      filename: expect.stringMatching(/^\/dev\/fd\/\d+$/),
    });
  });

  it("network: both tuple ends for IPv4/IPv6, sockaddrs, unix paths, socketpair, dup*, close", async () => {
    const r = await runHelper(["net", dir], dir);
    const o = r.out as Record<string, number>;
    const sockets = syscalls(r, "socket");
    expect(sockets.map((s) => [s.args.domain, s.args.type])).toEqual([
      [2, 1],
      [2, 1],
      [2, 2],
      [2, 2],
      [10, 1],
      [10, 1],
      [1, 1],
      [1, 1],
    ]);
    expect(sockets[0]?.ret).toBe(o.tcp_listen_fd);
    const binds = syscalls(r, "bind");
    expect(binds[0]).toMatchObject({
      ret: 0,
      args: { fd: o.tcp_listen_fd, addr: { family: 2, addr: "127.0.0.1", port: 0 } },
      tuple: { family: 2, sockType: 1, protocol: 6, localAddr: "127.0.0.1", localPort: o.tcp_port },
    });
    expect(syscalls(r, "listen")[0]).toMatchObject({ ret: 0, args: { fd: o.tcp_listen_fd, backlog: 7 } });
    expect(one(r, "accept4")).toMatchObject({
      ret: o.tcp_accepted_fd,
      args: { fd: o.tcp_listen_fd, flags: 0o2000000, addr: { addr: "127.0.0.1", port: o.tcp_client_port } },
      tuple: {
        localAddr: "127.0.0.1",
        localPort: o.tcp_port,
        remoteAddr: "127.0.0.1",
        remotePort: o.tcp_client_port,
      },
    });
    expect(one(r, "sendto")).toMatchObject({
      ret: 4,
      args: { addr: { addr: "127.0.0.1", port: o.udp_port } },
      tuple: { sockType: 2, protocol: 17 },
    });
    expect(one(r, "recvfrom")).toMatchObject({
      ret: 4,
      args: { fd: o.udp_fd, addr: { addr: "127.0.0.1", port: o.udp_sender_port } },
      tuple: { localPort: o.udp_port },
    });
    expect(one(r, "sendmsg")).toMatchObject({ ret: 4, args: { addr: { port: o.udp_port } } });
    expect(one(r, "recvmsg")).toMatchObject({ ret: 4, args: { addr: { port: o.udp_sender_port } } });
    expect(one(r, "accept")).toMatchObject({
      ret: o.tcp6_accepted_fd,
      tuple: { family: 10, localAddr: "::1", localPort: o.tcp6_port, remoteAddr: "::1" },
    });
    expect(binds[2]).toMatchObject({ ret: 0, args: { addr: { family: 10, addr: "::1" } } });
    expect(one(r, "socketpair")).toMatchObject({
      ret: 0,
      args: { domain: 1, type: 1, proto: 0, fd1: o.pair0, fd2: o.pair1 },
    });
    expect(binds[3]).toMatchObject({ ret: 0, args: { addr: { family: 1, path: join(dir, "pg.sock") } } });
    expect(one(r, "dup")).toMatchObject({ ret: o.dup, args: { oldfd: o.tcp_accepted_fd } });
    expect(one(r, "dup2")).toMatchObject({ ret: 100, args: { oldfd: o.tcp_accepted_fd, newfd: 100 } });
    expect(one(r, "dup3")).toMatchObject({ ret: 101, args: { newfd: 101, flags: 0o2000000 } });
    expect(syscalls(r, "close").map((c) => [c.args.fd, c.ret])).toEqual(
      expect.arrayContaining([
        [100, 0],
        [9999, EBADF],
      ]),
    );
  });

  it("drops in the kernel what the filter does not ask for, and counts it", async () => {
    // Rules that need only unlink: neither openat nor close is asked for (close is not a state
    // event: the fd table replaces an entry when a watched syscall reuses its number).
    const filter = sensor.setEventTypes(new Set(["unlink"]));
    expect(filter.eventTypes.has("openat")).toBe(false);
    expect(filter.eventTypes.has("close")).toBe(false);
    // The loader applies the update when it reads its stdin: give it a moment, then mark the time.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const since = lastTs(log.records);
    const before = await log.waitFor(
      (x): x is Extract<DecodedRecord, { kind: "stats" }> => x.kind === "stats" && x.tsNs > since,
      "a fresh stats record",
    );
    const r = await runHelper(["open-loop", "2000"], dir);
    expect(r.events.filter((e) => e.kind === "open")).toEqual([]);
    // No close is sent without a rule on close; the raw program (the default) drops each one.
    expect(syscalls(r, "close")).toEqual([]);
    const after = await log.waitFor(
      (x): x is Extract<DecodedRecord, { kind: "stats" }> =>
        x.kind === "stats" && x.tsNs > (r.events.at(-1)?.tsNs ?? 0n),
      "stats after the loop",
    );
    expect((after.filtered ?? 0) - (before.filtered ?? 0)).toBeGreaterThanOrEqual(4000);
    expect(after.ringbufFull).toBe(0);
    sensor.setEventTypes(new Set(["openat", "open"]));
  }, 20_000);
});

function lastTs(records: readonly DecodedRecord[]): bigint {
  return records.at(-1)?.tsNs ?? 0n;
}

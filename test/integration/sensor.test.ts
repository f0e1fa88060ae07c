/**
 * Live: loads the real programs into this kernel and checks the records of
 * processes the test spawns (the machine has other activity, so everything is
 * matched by pid). Needs root, kernel BTF and `make -C bpf`; skipped otherwise.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  ConnectEvent,
  DecodedRecord,
  ExecEvent,
  ExitEvent,
  ForkEvent,
  KernelStats,
  OpenEvent,
} from "../../src/decode/events.js";
import { PG_RECORD_FLAGS, PG_SCHEMA } from "../../src/decode/layout.generated.js";
import { StreamDecoder } from "../../src/decode/stream-decoder.js";
import { defaultLoaderPath, type Sensor, startSensor } from "../../src/sensor/loader-process.js";
import { liveSkipReason, RecordLog, run } from "./live-support.js";

const skipReason = liveSkipReason();
if (skipReason) console.warn(`test/integration/sensor.test.ts skipped: ${skipReason}`);

const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const ENOENT = 2;
const ENAMETOOLONG = 36;

/* Syscalls that libc wrappers do not issue any more (open, creat) or that
 * nothing common uses (openat2), plus a path longer than PATH_MAX. */
const HELPER_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char p[8192];

	if (argc == 3 && strcmp(argv[1], "burst") == 0) {
		for (int i = 0, n = atoi(argv[2]); i < n; i++)
			close(syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY));
		return 0;
	}
	struct open_how how = { .flags = O_WRONLY | O_CREAT | O_EXCL, .mode = 0600 };
	snprintf(p, sizeof(p), "%s/openat2.txt", argv[1]);
	printf("%ld\n", syscall(SYS_openat2, AT_FDCWD, p, &how, sizeof(how)));
	snprintf(p, sizeof(p), "%s/creat.txt", argv[1]);
	printf("%ld\n", syscall(SYS_creat, p, 0640));
	snprintf(p, sizeof(p), "%s/open.txt", argv[1]);
	printf("%ld\n", syscall(SYS_open, p, O_RDWR | O_CREAT, 0604));
	memset(p, 'a', 5000);
	p[0] = '/';
	p[5000] = 0;
	printf("%ld\n", syscall(SYS_open, p, O_RDONLY));
	return 0;
}
`;

const isExec =
  (pid: number) =>
  (r: DecodedRecord): r is ExecEvent =>
    r.kind === "exec" && r.tgid === pid;
const isExit =
  (pid: number) =>
  (r: DecodedRecord): r is ExitEvent =>
    r.kind === "exit" && r.tgid === pid;
const isOpen =
  (pid: number, path: string) =>
  (r: DecodedRecord): r is OpenEvent =>
    r.kind === "open" && r.tgid === pid && r.path === path;

describe.skipIf(skipReason !== undefined)("live sensor", () => {
  const log = new RecordLog();
  let sensor: Sensor;
  let dir = "";
  let helper: string | undefined;
  const exits: { code: number | null; signal: string | null }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "peregrine-live-"));
    try {
      writeFileSync(join(dir, "helper.c"), HELPER_C);
      execFileSync("cc", ["-O1", "-o", join(dir, "helper"), join(dir, "helper.c")], { stdio: "pipe" });
      helper = join(dir, "helper");
    } catch (err) {
      console.warn(`no C helper (openat2/open/creat tests skip): ${(err as Error).message}`);
    }
    sensor = await startSensor({
      statsIntervalMs: 200,
      onRecord: log.push,
      onLoaderExit: (code, signal) => exits.push({ code, signal }),
    });
  });

  afterAll(async () => {
    await sensor?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reports the stream header once attached", () => {
    expect(sensor.header.loaderPid).toBe(sensor.pid);
    expect(sensor.header.schemaVersion).toBe(PG_SCHEMA.PG_SCHEMA_VERSION);
    // Boot time is in the past and at most a few years back.
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    expect(sensor.header.bootTimeNs < nowNs).toBe(true);
  });

  it("sees exec, fork and exit of a spawned shell and its child", async () => {
    const sh = await run("/bin/sh", ["-c", "/bin/true; exit 3"]);
    const exec = await log.waitFor(isExec(sh.pid), "exec of sh");
    expect(exec).toMatchObject({
      tid: sh.pid,
      ppid: process.pid,
      uid: process.getuid?.(),
      euid: process.geteuid?.(),
      comm: "sh",
      filename: "/bin/sh",
      argv: ["/bin/sh", "-c", "/bin/true; exit 3"],
      recordFlags: 0,
    });
    expect(exec.startNs <= exec.tsNs).toBe(true);
    expect(exec.cgroupId > 0n).toBe(true);

    const fork = await log.waitFor(
      (r): r is ForkEvent => r.kind === "fork" && r.tgid === sh.pid,
      "fork by sh",
    );
    expect(fork.isThread).toBe(false);
    expect(fork.childTid).toBe(fork.childTgid);
    const trueExec = await log.waitFor(isExec(fork.childTgid), "exec of /bin/true");
    expect(trueExec).toMatchObject({
      ppid: sh.pid,
      filename: "/bin/true",
      argv: ["/bin/true"],
      comm: "true",
    });
    expect(trueExec.startNs).toBe(fork.childStartNs);
    expect(await log.waitFor(isExit(fork.childTgid), "exit of true")).toMatchObject({ exitCode: 0 });
    expect(await log.waitFor(isExit(sh.pid), "exit of sh")).toMatchObject({ exitCode: 3 << 8 });
  });

  it("marks a new thread's fork with PG_F_THREAD", async (ctx) => {
    if (!existsSync("/usr/bin/python3")) ctx.skip("no /usr/bin/python3 to start a thread");
    const script = "import threading; t = threading.Thread(target=lambda: None); t.start(); t.join()";
    const py = await run("/usr/bin/python3", ["-c", script]);
    expect(py.code).toBe(0);
    const fork = await log.waitFor(
      (r): r is ForkEvent => r.kind === "fork" && r.tgid === py.pid && r.isThread,
      "thread fork in python",
    );
    expect(fork.childTgid).toBe(py.pid);
    expect(fork.childTid).not.toBe(py.pid);
    expect(fork.recordFlags & PG_RECORD_FLAGS.PG_F_THREAD).toBe(PG_RECORD_FLAGS.PG_F_THREAD);
  });

  it("sees openat of an existing and of a missing file", async () => {
    const missing = join(dir, "does-not-exist");
    const cat = await run("/bin/cat", ["/etc/hostname", missing]);
    expect(cat.code).toBe(1);
    const found = await log.waitFor(isOpen(cat.pid, "/etc/hostname"), "openat /etc/hostname");
    expect(found).toMatchObject({ evtType: "openat", dirfd: -100, openFlags: 0, mode: 0 });
    expect(found.ret).toBeGreaterThanOrEqual(0);
    const absent = await log.waitFor(isOpen(cat.pid, missing), "openat of a missing file");
    expect(absent).toMatchObject({ evtType: "openat", ret: -ENOENT, openFlags: 0 });
  });

  it("sees a write open with O_CREAT, its flags and mode", async () => {
    const target = join(dir, "redirect.txt");
    const sh = await run("/bin/sh", ["-c", `echo hi > ${target}`]);
    const open = await log.waitFor(isOpen(sh.pid, target), "openat with O_CREAT");
    expect(open).toMatchObject({
      evtType: "openat",
      openFlags: O_WRONLY | O_CREAT | O_TRUNC,
      mode: 0o666,
      dirfd: -100,
    });
    expect(open.ret).toBeGreaterThanOrEqual(0);
  });

  it("sees openat2, creat and open, and flags a path cut at PATH_MAX", async (ctx) => {
    if (!helper) ctx.skip("no C compiler to build the helper");
    const h = await run(helper ?? "", [dir]);
    expect(
      h.stdout
        .trim()
        .split("\n")
        .map(Number)
        .slice(0, 3)
        .every((fd) => fd >= 0),
    ).toBe(true);
    expect(await log.waitFor(isOpen(h.pid, join(dir, "openat2.txt")), "openat2")).toMatchObject({
      evtType: "openat2",
      openFlags: O_WRONLY | O_CREAT | O_EXCL,
      mode: 0o600,
      dirfd: -100,
      recordFlags: 0,
    });
    expect(await log.waitFor(isOpen(h.pid, join(dir, "creat.txt")), "creat")).toMatchObject({
      evtType: "creat",
      openFlags: O_WRONLY | O_CREAT | O_TRUNC,
      mode: 0o640,
      dirfd: -100,
    });
    expect(await log.waitFor(isOpen(h.pid, join(dir, "open.txt")), "open")).toMatchObject({
      evtType: "open",
      openFlags: O_RDWR | O_CREAT,
      mode: 0o604,
      dirfd: -100,
    });
    const long = await log.waitFor(
      (r): r is OpenEvent => r.kind === "open" && r.tgid === h.pid && r.path.startsWith("/aaaa"),
      "open of a 5000-byte path",
    );
    expect(long).toMatchObject({
      evtType: "open",
      ret: -ENAMETOOLONG,
      recordFlags: PG_RECORD_FLAGS.PG_F_TRUNCATED,
    });
    expect(long.path.length).toBe(4095);
  });

  it("flags an exec whose arguments exceed PG_ARGS_MAX", async () => {
    const big = "x".repeat(5000);
    const t = await run("/bin/true", [big]);
    const exec = await log.waitFor(isExec(t.pid), "exec with a 5000-byte argument");
    expect(exec.recordFlags & PG_RECORD_FLAGS.PG_F_TRUNCATED).toBe(PG_RECORD_FLAGS.PG_F_TRUNCATED);
    expect(exec.argv[0]).toBe("/bin/true");
    // 4096 bytes in all: "/bin/true\0" then the start of the argument, without its NUL.
    expect(exec.argv[1]).toBe(big.slice(0, 4096 - "/bin/true\0".length));
  });

  async function listen(
    host: string,
  ): Promise<{ server: Server; port: number; remotePort: Promise<number> }> {
    const server = createServer();
    const remotePort = new Promise<number>((resolve) => {
      server.once("connection", (sock) => {
        resolve(sock.remotePort ?? -1);
        sock.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const addr = server.address();
    if (addr === null || typeof addr === "string") throw new Error("no port");
    return { server, port: addr.port, remotePort };
  }

  for (const [family, host, familyNo] of [
    ["IPv4", "127.0.0.1", 2],
    ["IPv6", "::1", 10],
  ] as const) {
    it(`sees a TCP connect to ${host} (${family}) with both ends`, async () => {
      const { server, port, remotePort } = await listen(host);
      try {
        const bash = await run("/bin/bash", ["-c", `exec 3<>/dev/tcp/${host}/${port}`]);
        expect(bash.code).toBe(0);
        const conn = await log.waitFor(
          (r): r is ConnectEvent => r.kind === "connect" && r.tgid === bash.pid && r.family === familyNo,
          `connect to ${host}`,
        );
        expect(conn).toMatchObject({
          evtType: "connect",
          ret: 0,
          daddr: host,
          dport: port,
          saddr: host,
          sport: await remotePort,
          sockType: 1,
          protocol: 6,
        });
        expect(conn.fd).toBeGreaterThanOrEqual(0);
      } finally {
        server.close();
      }
    });
  }

  it("does not deliver the agent's own events, nor the loader's", async () => {
    const mine = join(dir, "agent-own-file");
    closeSync(openSync(mine, "w"));
    // A later marker from another process: once it is seen, ours would have been too.
    const marker = join(dir, "marker");
    const cat = await run("/bin/cat", [marker]);
    await log.waitFor(isOpen(cat.pid, marker), "marker open");
    expect(log.events().filter((r) => r.kind === "open" && r.path === mine)).toEqual([]);
    expect(log.events().filter((r) => r.tgid === process.pid || r.tgid === sensor.pid)).toEqual([]);
  });

  it("writes stats records with counters", async () => {
    // Counters written after every event seen so far (same boot clock).
    let since = 0n;
    for (const r of log.events()) if (r.tsNs > since) since = r.tsNs;
    const stats = await log.waitFor(
      (r): r is KernelStats => r.kind === "stats" && r.tsNs > since,
      "stats after the events above",
    );
    expect(stats.eventsEmitted).toBeGreaterThanOrEqual(log.events().length);
    expect(stats.eventsSeen).toBeGreaterThanOrEqual(stats.eventsEmitted);
    expect(stats.ringbufFull).toBeGreaterThanOrEqual(0);
    expect(stats.readFailed).toBeGreaterThanOrEqual(0);
    // The 5000-byte path and the 5000-byte argument above, one count per record.
    expect(stats.truncated).toBeGreaterThanOrEqual(helper ? 2 : 1);
    expect(sensor.decoderStats).toMatchObject({ framingErrors: 0, unknownKinds: 0 });
    expect(Object.values(sensor.decoderStats.malformed).every((n) => n === 0)).toBe(true);
  });

  it("counts ring buffer overflow in a one-page ring buffer", async (ctx) => {
    if (!helper) ctx.skip("no C compiler to build the helper");
    const small = new RecordLog();
    const tiny = await startSensor({ ringbufBytes: 4096, statsIntervalMs: 60_000, onRecord: small.push });
    const burst = await run(helper ?? "", ["burst", "20000"]);
    expect(burst.code).toBe(0);
    await tiny.stop();
    const last = small.records.filter((r): r is KernelStats => r.kind === "stats").at(-1);
    expect(last).toBeDefined();
    expect(last?.eventsSeen).toBeGreaterThanOrEqual(20000);
    expect(last?.ringbufFull).toBeGreaterThan(0);
    expect(last?.eventsEmitted).toBeLessThan(last?.eventsSeen ?? 0);
    const delivered = small.events().filter((r) => r.tgid === burst.pid).length;
    expect(delivered).toBeLessThan(20000);
    // The burst is openat + close: file and network families lose records, and the families add up.
    const fam = last?.ringbufFullByFamily;
    expect(fam?.file).toBeGreaterThan(0);
    expect((fam?.file ?? 0) + (fam?.process ?? 0) + (fam?.network ?? 0) + (fam?.other ?? 0)).toBe(
      last?.ringbufFull,
    );
  });

  it("stop() ends the loader cleanly, after a final stats record", async () => {
    const before = log.records.length;
    await sensor.stop();
    expect(exits).toEqual([{ code: 0, signal: null }]);
    expect(log.records.slice(before).some((r) => r.kind === "stats")).toBe(true);
  });
});

describe.skipIf(skipReason !== undefined)("loader process contract", () => {
  /** Spawns the loader directly; resolves with it once the header is in. */
  function spawnLoader(): Promise<ReturnType<typeof spawn>> {
    const child = spawn(defaultLoaderPath(), ["--ignore-pid", String(process.pid)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    return new Promise((resolve, reject) => {
      const decoder = new StreamDecoder({ onHeader: () => resolve(child), onRecord: () => {} });
      child.stdout?.on("data", (c: Buffer) => decoder.push(c));
      child.once("exit", (code) => reject(new Error(`loader exited early with ${code}`)));
    });
  }
  const exitOf = (child: ReturnType<typeof spawn>): Promise<number | null> =>
    new Promise((resolve) => child.once("exit", (code) => resolve(code)));

  it("exits 0 when its stdin reaches EOF (the agent is gone)", async () => {
    const child = await spawnLoader();
    const exit = exitOf(child);
    child.stdin?.end();
    expect(await exit).toBe(0);
  });

  it("reports a bad stdin command on stderr and keeps running, then applies a good one", async () => {
    const child = await spawnLoader();
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (t: string) => {
      stderr += t;
    });
    child.stdin?.write("bogus 1\nsyscalls 2,x\nsyscalls 2,69\n");
    const deadline = Date.now() + 3000;
    while (!stderr.includes("'x' is not a syscall id") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(stderr).toContain("peregrine-loader: stdin: unknown command 'bogus 1'");
    expect(stderr).toContain("peregrine-loader: stdin: syscalls: 'x' is not a syscall id (1..127)");
    expect(child.exitCode).toBeNull();
    const exit = exitOf(child);
    child.stdin?.end();
    expect(await exit).toBe(0);
  });

  it("exits 0 when its stdout is closed", async () => {
    const child = await spawnLoader();
    const exit = exitOf(child);
    child.stdout?.destroy();
    expect(await exit).toBe(0);
  });

  it("rejects a bad option with a clear message and exit code 2", async () => {
    await expect(startSensor({ ringbufBytes: 1000, onRecord: () => {} })).rejects.toThrow(
      /exited with code 2 before attaching: peregrine-loader: --ringbuf-bytes: '1000' is not a power of two/,
    );
  });

  it("rejects a syscall id outside enum pg_syscall", () => {
    expect(() => execFileSync(defaultLoaderPath(), ["--syscalls", "2,999"], { stdio: "pipe" })).toThrow(
      /--syscalls: '999' is not a syscall id \(1\.\.127\)/,
    );
  });

  it("documents its options and exit codes in --help", () => {
    const help = execFileSync(defaultLoaderPath(), ["--help"], { encoding: "utf8" });
    for (const word of [
      "--ignore-pid",
      "--ringbuf-bytes",
      "--stats-interval-ms",
      "--syscalls",
      "Exit status",
    ]) {
      expect(help).toContain(word);
    }
    expect(existsSync(defaultLoaderPath())).toBe(true);
  });
});

/**
 * Live: how the loader attaches its syscall exit program (--attach, the
 * `sensor.attach` setting; docs/sensor.md). With per-syscall tracepoints
 * only the syscalls the filter needs have a program, as the kernel itself
 * reports (`bpftool perf list`), and a rules reload attaches and detaches
 * them without missing a syscall wanted before and after; the raw tp_btf
 * program (the default) sees everything the filter wants; and without
 * tracefs the loader falls back to it and says so. Needs root, kernel BTF, `make -C bpf`, cc and bpftool;
 * skipped with the reason otherwise.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecodedRecord, ExitEvent, SyscallEvent } from "../../src/decode/events.js";
import { defaultLoaderPath, type Sensor, startSensor } from "../../src/sensor/loader-process.js";
import {
  attachedTracepoints,
  compileC,
  hasExitTracepoint,
  liveCSkipReason,
  RecordLog,
  waitUntil,
} from "./live-support.js";

const skipReason = liveCSkipReason();
if (skipReason) console.warn(`test/integration/sensor-attach.test.ts skipped: ${skipReason}`);

const ENOSYS = -38;
const RAW_EXIT = "raw_tracepoint:sys_exit";

/*
 * paced: unlink("u<i>") and mkdir+rmdir("m<i>") for i = 0, 1, … every 200 µs
 * until stdin has data, then prints how many rounds ran. A syscall that
 * fails (ENOENT) is a record all the same.
 * opens N: init_module (ENOSYS where the kernel has no module support), N
 * open+close pairs of /dev/null, then unlink("u-end").
 */
const HELPER = `
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char name[32];
  if (argc > 1 && strcmp(argv[1], "paced") == 0) {
    struct pollfd in = { .fd = 0, .events = POLLIN };
    long i = 0;
    for (; poll(&in, 1, 0) == 0; i++) {
      snprintf(name, sizeof(name), "u%ld", i);
      unlink(name);
      snprintf(name, sizeof(name), "m%ld", i);
      mkdir(name, 0700);
      rmdir(name);
      usleep(200);
    }
    printf("%ld\\n", i);
    return 0;
  }
  if (argc > 2 && strcmp(argv[1], "opens") == 0) {
    syscall(SYS_init_module, NULL, 0, "");
    for (int i = atoi(argv[2]); i > 0; i--) close(open("/dev/null", O_RDONLY));
    unlink("u-end");
    return 0;
  }
  return 2;
}
`;

type Stats = Extract<DecodedRecord, { kind: "stats" }>;

/** The syscall exit programs among attachedTracepoints(pid). */
function exitPrograms(pid: number): string[] {
  return [...attachedTracepoints(pid)].filter((t) => t.includes(":sys_exit")).sort();
}

function syscallsOf(log: RecordLog, pid: number, type: string): SyscallEvent[] {
  return log
    .events()
    .filter((e): e is SyscallEvent => e.kind === "syscall" && e.tgid === pid && e.evtType === type);
}

/** The round numbers in the paths "<prefix><n>" of these records, in order. */
function rounds(records: readonly SyscallEvent[]): number[] {
  return records.map((e) => Number(String(e.args.path).slice(1))).sort((a, b) => a - b);
}

/** The first stats record written after every record seen so far. */
function statsAfter(log: RecordLog, what: string): Promise<Stats> {
  const since = log.records.at(-1)?.tsNs ?? 0n;
  return log.waitFor((r): r is Stats => r.kind === "stats" && r.tsNs > since, what);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe.skipIf(skipReason !== undefined)("sensor: how the syscall exit program is attached (live)", () => {
  let dir: string;
  let helper: string;
  let sensor: Sensor | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pg-sensor-attach-"));
    helper = compileC(dir, "attach-helper", HELPER);
  });

  afterAll(async () => {
    await sensor?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the helper to its exit record; returns its pid and stdout. */
  async function runHelper(log: RecordLog, args: string[]): Promise<{ pid: number; stdout: string }> {
    const child = spawn(helper, args, { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      stdout += t;
    });
    expect(await new Promise((resolve) => child.once("close", resolve))).toBe(0);
    const pid = child.pid ?? -1;
    await log.waitFor((r): r is ExitEvent => r.kind === "exit" && r.tgid === pid, `exit of helper ${pid}`);
    return { pid, stdout };
  }

  it("tracepoints: a program only on the syscalls the filter needs; a reload attaches and detaches one, missing nothing wanted before and after", async () => {
    const log = new RecordLog();
    const s = await startSensor({
      attach: "tracepoints",
      eventTypes: new Set(["unlink"]),
      statsIntervalMs: 200,
      onRecord: log.push,
    });
    sensor = s;
    const attached = (): string[] => exitPrograms(s.pid);
    // unlink for the rules; socket, execve (failures) for the state tables. Not openat, close (no
    // rule on it: the fd table needs none) or mkdir, and not the raw program that would run for
    // every syscall.
    expect(attached()).toEqual(
      expect.arrayContaining([
        "tracepoint:sys_exit_unlink",
        "tracepoint:sys_exit_socket",
        "tracepoint:sys_exit_execve",
      ]),
    );
    for (const absent of [
      "tracepoint:sys_exit_openat",
      "tracepoint:sys_exit_close",
      "tracepoint:sys_exit_mkdir",
      RAW_EXIT,
    ])
      expect(attached()).not.toContain(absent);

    const child = spawn(helper, ["paced"], { cwd: dir, stdio: ["pipe", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      stdout += t;
    });
    const exited = new Promise((resolve) => child.once("close", resolve));
    const pid = child.pid ?? -1;
    const unlinks = (): number => syscallsOf(log, pid, "unlink").length;
    const mkdirs = (): number => syscallsOf(log, pid, "mkdir").length;
    const atLeast = (n: () => number, min: number, what: string): Promise<true> =>
      waitUntil(() => (n() >= min ? true : undefined), what);

    await atLeast(unlinks, 50, "unlinks before the reload");
    s.setEventTypes(new Set(["unlink", "mkdir"]));
    await waitUntil(
      () => (attached().includes("tracepoint:sys_exit_mkdir") ? true : undefined),
      "mkdir attached",
    );
    await atLeast(mkdirs, 50, "mkdirs once attached");
    s.setEventTypes(new Set(["unlink"]));
    await waitUntil(
      () => (attached().includes("tracepoint:sys_exit_mkdir") ? undefined : true),
      "mkdir detached",
    );
    await atLeast(unlinks, unlinks() + 50, "unlinks after the second reload");
    child.stdin.end("stop\n");
    expect(await exited).toBe(0);
    await log.waitFor((r): r is ExitEvent => r.kind === "exit" && r.tgid === pid, "the helper's exit");
    const total = Number(stdout.trim());

    // Every unlink: before, across and after both reloads (its tracepoint stayed attached).
    expect(rounds(syscallsOf(log, pid, "unlink"))).toEqual(range(0, total - 1));
    // mkdir: from its attach to its detach, every one and nothing outside that run.
    const made = rounds(syscallsOf(log, pid, "mkdir"));
    const first = made[0] ?? -1;
    const last = made.at(-1) ?? -1;
    expect(first).toBeGreaterThan(0);
    expect(last).toBeLessThan(total - 1);
    expect(made).toEqual(range(first, last));
    await s.stop();
    sensor = undefined;
  }, 30_000);

  it("tracepoints: an unwanted openat or close runs no program (neither seen nor filtered), a syscall the kernel lacks is not seen", async () => {
    const log = new RecordLog();
    const s = await startSensor({
      attach: "tracepoints",
      eventTypes: new Set(["unlink", "init_module"]),
      statsIntervalMs: 200,
      onRecord: log.push,
    });
    sensor = s;
    expect(exitPrograms(s.pid)).not.toContain("tracepoint:sys_exit_openat");
    expect(exitPrograms(s.pid)).not.toContain("tracepoint:sys_exit_close");
    expect(exitPrograms(s.pid)).toContain("tracepoint:sys_exit_unlink");
    const before = await statsAfter(log, "a stats record before the helper");
    const { pid } = await runHelper(log, ["opens", "2000"]);
    const after = await statsAfter(log, "stats after the helper");
    expect(syscallsOf(log, pid, "unlink").map((e) => e.args.path)).toEqual(["u-end"]);
    expect(log.events().some((e) => e.kind === "open" && e.tgid === pid)).toBe(false);
    // Nor do the 2000 closes (close is not state, and no rule wants it): nothing to filter. Other
    // processes' fcntl calls other than F_DUPFD* may still be filtered meanwhile, a handful.
    expect(log.events().some((e) => e.kind === "syscall" && e.evtType === "close" && e.tgid === pid)).toBe(
      false,
    );
    expect((after.filtered ?? 0) - (before.filtered ?? 0)).toBeLessThan(2000);
    if (!hasExitTracepoint("init_module")) expect(syscallsOf(log, pid, "init_module")).toEqual([]);
    await s.stop();
    sensor = undefined;
  }, 30_000);

  it("raw (the default): one tp_btf/sys_exit program and no per-syscall tracepoint; it sees calls of syscalls the kernel lacks and counts every unwanted syscall as filtered", async () => {
    const log = new RecordLog();
    const s = await startSensor({
      eventTypes: new Set(["unlink", "init_module"]),
      statsIntervalMs: 200,
      onRecord: log.push,
    });
    sensor = s;
    expect(exitPrograms(s.pid)).toEqual([RAW_EXIT]);
    const before = await statsAfter(log, "a stats record before the helper");
    const { pid } = await runHelper(log, ["opens", "2000"]);
    const after = await statsAfter(log, "stats after the helper");
    expect(syscallsOf(log, pid, "unlink").map((e) => e.args.path)).toEqual(["u-end"]);
    const modules = syscallsOf(log, pid, "init_module");
    expect(modules).toHaveLength(1);
    if (!hasExitTracepoint("init_module")) expect(modules[0]?.ret).toBe(ENOSYS);
    // Every program run is counted: the 2000 openat and the 2000 closes of files, dropped.
    expect(log.events().some((e) => e.kind === "open" && e.tgid === pid)).toBe(false);
    expect((after.filtered ?? 0) - (before.filtered ?? 0)).toBeGreaterThanOrEqual(4000);
    await s.stop();
    sensor = undefined;
  }, 30_000);

  it("falls back to the raw program, saying why, when the syscall tracepoints are missing (tracefs hidden)", async () => {
    // The loader in a mount namespace of its own where an empty tmpfs covers tracefs, as on a
    // host that never mounted it; `unshare` and `sh` exec, so the pid stays the loader's.
    const wrapper = join(dir, "loader-without-tracefs");
    writeFileSync(
      wrapper,
      [
        "#!/bin/sh",
        `exec unshare --mount --propagation private sh -c 'mount -t tmpfs none /sys/kernel/tracing && exec "$0" "$@"' ${defaultLoaderPath()} "$@"`,
        "",
      ].join("\n"),
    );
    chmodSync(wrapper, 0o755);
    const log = new RecordLog();
    const stderr: string[] = [];
    const s = await startSensor({
      loaderPath: wrapper,
      attach: "tracepoints",
      eventTypes: new Set(["unlink"]),
      onRecord: log.push,
      onLoaderStderr: (line) => stderr.push(line),
    });
    sensor = s;
    expect(stderr.join("\n")).toContain("no syscall tracepoints");
    expect(stderr.join("\n")).toContain("falling back to --attach raw");
    expect(exitPrograms(s.pid)).toEqual([RAW_EXIT]);
    const { pid } = await runHelper(log, ["opens", "1"]);
    expect(syscallsOf(log, pid, "unlink").map((e) => e.args.path)).toEqual(["u-end"]);
    await s.stop();
    sensor = undefined;
  }, 30_000);
});

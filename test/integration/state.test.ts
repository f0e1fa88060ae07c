/**
 * Live: the state tables over the real sensor. A helper program opens
 * directories (one close-on-exec), forks, and its child execs and opens
 * files relative to the inherited directory fd: the fd table must follow
 * across fork and exec. A process tree started before the sensor must be
 * known with its whole ancestry, both from the start-up seed and, for an
 * agent that did not seed, from /proc on first sight.
 * Needs root, kernel BTF and the loader; skipped with the reason otherwise.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecodedRecord, SensorEvent } from "../../src/decode/events.js";
import { Enricher } from "../../src/enrich/enricher.js";
import type { FdInfo } from "../../src/enrich/fd-info.js";
import { procBootTimeNs } from "../../src/enrich/proc-reader.js";
import type { ProcessInfo } from "../../src/enrich/process-info.js";
import { ProcessTable } from "../../src/enrich/process-table.js";
import { UserDb } from "../../src/enrich/user-db.js";
import { type Sensor, startSensor } from "../../src/sensor/loader-process.js";
import { liveSkipReason, waitUntil } from "./live-support.js";

const skipReason = liveSkipReason();
if (skipReason) console.warn(`test/integration/state.test.ts skipped: ${skipReason}`);

/*
 * parent: open /etc twice (the second O_CLOEXEC), print both numbers, wait
 * for a line on stdin (so the test can look at the table before going on),
 * fork; the child execs this program again in "child" mode, which opens
 * "hostname" relative to each inherited number (the close-on-exec one is
 * gone by then: EBADF) and prints the results.
 */
const HELPER_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[64], a_s[16], b_s[16];

	if (argc == 4 && strcmp(argv[1], "child") == 0) {
		/* The close-on-exec number first: once the other open took the lowest free number, it would be reused. */
		int r2 = openat(atoi(argv[3]), "hostname", O_RDONLY);
		int r1 = openat(atoi(argv[2]), "hostname", O_RDONLY);
		printf("child %d %d\n", r1, r2);
		return 0;
	}
	int a = open("/etc", O_RDONLY | O_DIRECTORY);
	int b = open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	printf("opened %d %d\n", a, b);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		snprintf(a_s, sizeof(a_s), "%d", a);
		snprintf(b_s, sizeof(b_s), "%d", b);
		execl(argv[0], "fdstate", "child", a_s, b_s, (char *)0);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("done %d\n", pid);
	fflush(stdout);
	return 0;
}
`;

interface Seen {
  readonly event: SensorEvent;
  readonly process: ProcessInfo | undefined;
  readonly fd: FdInfo | undefined;
  /** The process's fds right after the event was applied. */
  readonly fds: FdInfo[];
  readonly ancestors: ProcessInfo[];
}

describe.skipIf(skipReason !== undefined)("fd and process state over the live sensor", () => {
  let work: string;
  let helper: string;
  let sensor: Sensor;
  let seeded: Enricher;
  let unseeded: Enricher;
  const seen: Seen[] = [];
  const seenUnseeded: Seen[] = [];
  let tree: ChildProcessWithoutNullStreams | undefined;

  const record = (enricher: Enricher, log: Seen[]) => (rec: DecodedRecord) => {
    if (rec.kind === "stats") return;
    const e = enricher.enrich(rec);
    log.push({
      event: rec,
      process: e.process,
      fd: e.fd,
      fds: enricher.fds.list(rec.tgid),
      ancestors: rec.kind === "exec" ? enricher.processes.ancestors(rec.tgid) : [],
    });
    enricher.afterRules(rec);
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-state-"));
    writeFileSync(join(work, "fdstate.c"), HELPER_C);
    helper = join(work, "fdstate");
    execFileSync("cc", ["-O1", "-o", helper, join(work, "fdstate.c")]);

    // A process tree older than the sensor: outer-sh → inner-sh, which waits for a file, then runs cat.
    copyFileSync("/bin/sh", join(work, "outer-sh"));
    copyFileSync("/bin/sh", join(work, "inner-sh"));
    const go = join(work, "go");
    tree = spawn(join(work, "outer-sh"), [
      "-c",
      `"${join(work, "inner-sh")}" -c 'while [ ! -e "${go}" ]; do sleep 0.05; done; cat /etc/hostname; exit 0'; exit 0`,
    ]);
    await new Promise((r) => setTimeout(r, 300));

    const bootTimeNs = procBootTimeNs();
    const table = new ProcessTable({ bootTimeNs });
    table.seedFromProc();
    seeded = new Enricher(table, new UserDb(), "test");
    unseeded = new Enricher(new ProcessTable({ bootTimeNs }), new UserDb(), "test");
    const a = record(seeded, seen);
    const b = record(unseeded, seenUnseeded);
    sensor = await startSensor({
      onRecord: (rec) => {
        a(rec);
        b(rec);
      },
    });
  }, 30_000);

  afterAll(async () => {
    tree?.kill("SIGKILL");
    await sensor?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("follows descriptors across open, fork and exec (close-on-exec dropped, dirfd paths resolved)", async () => {
    const child = spawn(helper, [], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      out += t;
    });
    const opened = await waitUntil(() => /opened (\d+) (\d+)/.exec(out) ?? undefined, "the helper's opens");
    const [a, b] = [Number(opened[1]), Number(opened[2])];
    const pid = child.pid ?? -1;

    // The opens' e.fd is the new descriptor, a directory named by its absolute path.
    const openA = await waitUntil(
      () =>
        seen.find(
          (s) =>
            s.event.kind === "open" && s.event.tgid === pid && s.event.ret === a && s.event.path === "/etc",
        ),
      "open of fd a",
    );
    expect(openA.fd).toMatchObject({ num: a, type: "directory", name: "/etc" });
    const openB = await waitUntil(
      () =>
        seen.find(
          (s) =>
            s.event.kind === "open" && s.event.tgid === pid && s.event.ret === b && s.event.path === "/etc",
        ),
      "open of fd b",
    );
    expect(openB.fd).toMatchObject({ num: b, type: "directory", name: "/etc" });
    // Seeded from /proc on first sight, then kept: stdin is the socketpair libuv made for the pipe.
    expect(seeded.fds.get(pid, 0)).toMatchObject({ num: 0, type: "unix", connected: true });

    child.stdin.write("go\n");
    const done = await waitUntil(() => /done (\d+)/.exec(out) ?? undefined, "the helper to finish");
    const childPid = Number(done[1]);
    expect(out).toMatch(/child \d+ -1\n/); // libc: -1 (EBADF) for the close-on-exec number

    // fork: the child starts with the parent's table.
    const fork = await waitUntil(
      () =>
        seen.find((s) => s.event.kind === "fork" && s.event.tgid === pid && s.event.childTgid === childPid),
      "the fork",
    );
    expect(fork.event.kind).toBe("fork");
    // exec: the close-on-exec descriptor is gone, the other stays.
    const exec = await waitUntil(
      () => seen.find((s) => s.event.kind === "exec" && s.event.tgid === childPid),
      "the child's exec",
    );
    expect(exec.fds.map((f) => f.num)).toContain(a);
    expect(exec.fds.map((f) => f.num)).not.toContain(b);
    expect(exec.process).toMatchObject({
      pid: childPid,
      ppid: pid,
      name: "fdstate",
      argv: ["fdstate", "child", String(a), String(b)],
    });

    // openat(a, "hostname") in the exec'd child: resolved through the inherited descriptor.
    const rel = await waitUntil(
      () =>
        seen.find(
          (s) =>
            s.event.kind === "open" &&
            s.event.tgid === childPid &&
            s.event.path === "hostname" &&
            s.event.ret >= 0,
        ),
      "the child's openat",
    );
    expect(rel.fd).toMatchObject({ type: "file", name: "/etc/hostname" });
    const bad = await waitUntil(
      () =>
        seen.find(
          (s) =>
            s.event.kind === "open" &&
            s.event.tgid === childPid &&
            s.event.path === "hostname" &&
            s.event.ret < 0,
        ),
      "the child's failed openat",
    );
    expect(bad.event.kind === "open" && bad.event.ret).toBe(-9);
    expect(bad.fd).toBeUndefined();

    // exit: the tables let go of both processes.
    await waitUntil(
      () => seen.find((s) => s.event.kind === "exit" && s.event.tgid === pid),
      "the helper's exit",
    );
    expect(seeded.fds.list(pid)).toEqual([]);
    expect(seeded.fds.list(childPid)).toEqual([]);
  });

  it("knows a process started before the sensor, with its whole ancestry", async () => {
    writeFileSync(join(work, "go"), "");
    const exec = await waitUntil(
      () =>
        seen.find(
          (s) => s.event.kind === "exec" && s.process?.name === "cat" && s.ancestors[0]?.name === "inner-sh",
        ),
      "cat's exec",
    );
    const names = exec.ancestors.map((p) => p.name);
    expect(names.slice(0, 2)).toEqual(["inner-sh", "outer-sh"]);
    expect(exec.ancestors[1]?.pid).toBe(tree?.pid);
    // outer-sh's parent is this test process; the chain ends at pid 1.
    expect(exec.ancestors[2]?.pid).toBe(process.pid);
    expect(exec.ancestors.at(-1)?.pid).toBe(1);
    expect(exec.ancestors[0]?.source).toBe("proc");
    expect(exec.ancestors[0]?.exePath).toBe(join(work, "inner-sh"));

    // The same chain for an agent that never seeded: filled from /proc when cat first named its parent.
    const late = await waitUntil(
      () => seenUnseeded.find((s) => s.event.kind === "exec" && s.event.tgid === exec.event.tgid),
      "cat's exec (unseeded agent)",
    );
    expect(late.ancestors.map((p) => p.pid)).toEqual(exec.ancestors.map((p) => p.pid));
    expect(unseeded.processes.lateFills).toBeGreaterThanOrEqual(exec.ancestors.length);

    // cat's open of /etc/hostname carries its fd.
    const open = await waitUntil(
      () =>
        seen.find(
          (s) =>
            s.event.kind === "open" && s.event.tgid === exec.event.tgid && s.fd?.name === "/etc/hostname",
        ),
      "cat's open",
    );
    expect(open.fd?.type).toBe("file");
  });

  it("puts a process that joined a container's cgroup before exec in that container", async () => {
    const cg2 = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].find((r) =>
      existsSync(join(r, "cgroup.controllers")),
    );
    expect(cg2, "a cgroup v2 hierarchy").toBeDefined();
    const id = "c0ffee".repeat(10) + "c0ff";
    const scope = join(cg2 ?? "", `peregrine-state-${process.pid}.slice`);
    const dir = join(scope, `docker-${id}.scope`);
    mkdirSync(dir, { recursive: true });
    try {
      // What a runtime does: the child moves into the container's cgroup, then execs the workload.
      const sh = spawn("/bin/sh", [
        "-c",
        `echo $$ > "${join(dir, "cgroup.procs")}" && exec cat /etc/hostname`,
      ]);
      const pid = sh.pid ?? -1;
      await new Promise((r) => sh.once("exit", r));
      const exec = await waitUntil(
        () => seen.find((s) => s.event.kind === "exec" && s.event.tgid === pid && s.process?.name === "cat"),
        "cat's exec",
      );
      expect(exec.process?.container).toMatchObject({ id: id.slice(0, 12), fullId: id, runtime: "docker" });
      // The shell before the exec was on the host.
      expect(seeded.processes.ancestors(pid)[0]?.container.id).toBe("host");
    } finally {
      rmdirSync(dir);
      rmdirSync(scope);
    }
  });
});

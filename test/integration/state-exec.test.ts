/**
 * Live: what the process table knows about an exec'd file for processes too
 * short-lived for /proc to be read (they exit before the agent processes
 * their exec): a fileless program run from a memfd, and a program written
 * into an overlay mount's upper layer (the way a file dropped into a running
 * container is). proc.is_exe_from_memfd, proc.is_exe_upper_layer and
 * proc.exe_ino must still answer, from the exec record.
 * Needs root, kernel BTF, the loader and mount(8); skipped otherwise.
 */
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecEvent } from "../../src/decode/events.js";
import { Enricher } from "../../src/enrich/enricher.js";
import { procBootTimeNs } from "../../src/enrich/proc-reader.js";
import type { ProcessInfo } from "../../src/enrich/process-info.js";
import { ProcessTable } from "../../src/enrich/process-table.js";
import { UserDb } from "../../src/enrich/user-db.js";
import { type Sensor, startSensor } from "../../src/sensor/loader-process.js";
import { liveSkipReason, waitUntil } from "./live-support.js";

const skipReason = liveSkipReason();
if (skipReason) console.warn(`test/integration/state-exec.test.ts skipped: ${skipReason}`);

const MEMFD_EXEC_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void)
{
	int in = open("/bin/true", O_RDONLY);
	struct stat st;
	fstat(in, &st);
	int fd = memfd_create("payload", 0);
	off_t off = 0;
	sendfile(fd, in, &off, st.st_size);
	char *argv[] = { "payload", 0 };
	char *envp[] = { 0 };
	fexecve(fd, argv, envp);
	return 1;
}
`;

function run(file: string, args: string[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", () => resolve(child.pid ?? -1));
  });
}

describe.skipIf(skipReason !== undefined)("exec facts of short-lived processes (live)", () => {
  let work: string;
  let sensor: Sensor;
  let mounted = false;
  const execs: { event: ExecEvent; process: ProcessInfo | undefined }[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-state-exec-"));
    writeFileSync(join(work, "memfd-exec.c"), MEMFD_EXEC_C);
    execFileSync("cc", ["-O1", "-o", join(work, "memfd-exec"), join(work, "memfd-exec.c")]);
    for (const d of ["lower", "upper", "work", "merged"]) mkdirSync(join(work, d));
    copyFileSync("/bin/true", join(work, "lower", "lower-true"));
    execFileSync("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${join(work, "lower")},upperdir=${join(work, "upper")},workdir=${join(work, "work")}`,
      join(work, "merged"),
    ]);
    mounted = true;
    copyFileSync("/bin/true", join(work, "merged", "upper-true"));
    const enricher = new Enricher(new ProcessTable({ bootTimeNs: procBootTimeNs() }), new UserDb(), "test");
    sensor = await startSensor({
      onRecord: (rec) => {
        if (rec.kind === "stats") return;
        const e = enricher.enrich(rec);
        if (rec.kind === "exec") execs.push({ event: rec, process: e.process });
        enricher.afterRules(rec);
      },
    });
  }, 30_000);

  afterAll(async () => {
    await sensor?.stop();
    if (mounted) execFileSync("umount", ["-l", join(work, "merged")]);
    rmSync(work, { recursive: true, force: true });
  });

  it("a program run from a memfd is from a memfd", async () => {
    const pid = await run(join(work, "memfd-exec"));
    const exec = await waitUntil(
      () => execs.find((x) => x.event.tgid === pid && x.event.comm !== "memfd-exec"),
      "the fexecve",
    );
    expect(exec.process?.exeFromMemfd).toBe(true);
    expect(exec.process?.exeUpperLayer).toBe(false);
    expect(exec.process?.exeIno).toBeGreaterThan(0);
  });

  it("a program written into an overlay's upper layer is from the upper layer; one from a lower layer is not", async () => {
    const upperPid = await run(join(work, "merged", "upper-true"));
    const lowerPid = await run(join(work, "merged", "lower-true"));
    const upper = await waitUntil(() => execs.find((x) => x.event.tgid === upperPid), "upper-true's exec");
    const lower = await waitUntil(() => execs.find((x) => x.event.tgid === lowerPid), "lower-true's exec");
    expect(upper.process?.exeUpperLayer).toBe(true);
    expect(lower.process?.exeUpperLayer).toBe(false);
    expect(upper.process?.exeIno).toBe(statSync(join(work, "merged", "upper-true")).ino);
    expect(upper.process?.exeFromMemfd).toBe(false);
    expect(upper.process?.exeMtimeNs).toBe(
      statSync(join(work, "merged", "upper-true"), { bigint: true }).mtimeNs,
    );
  });
});

/**
 * Loader supervision and the kernel filter, without a kernel: stand-in
 * loaders are shell scripts that replay the fixture capture, record their
 * arguments and stdin, and die when told. The real loader's restart is
 * covered by test/integration/sensor-restart.test.ts.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { PG_SYSCALL } from "../../src/decode/layout.generated.js";
import { filterCommand, kernelFilter, STATE_EVENT_TYPES } from "../../src/sensor/event-filter.js";
import { loaderArgs } from "../../src/sensor/loader-process.js";
import { startSupervisedSensor } from "../../src/sensor/supervisor.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/true-and-cat.pgcap", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "peregrine-supervisor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe("kernelFilter", () => {
  it("adds the state tables' needs to the rules' and maps names to enum pg_syscall ids", () => {
    const f = kernelFilter(new Set(["openat", "unlink", "read", "bogus"]));
    expect(f.ids).toContain(PG_SYSCALL.PG_SYS_OPENAT);
    expect(f.ids).toContain(PG_SYSCALL.PG_SYS_UNLINK);
    for (const t of STATE_EVENT_TYPES) expect(f.eventTypes.has(t), t).toBe(true);
    expect([...f.unknown].sort()).toEqual(["bogus", "read"]);
    expect([...f.ids]).toEqual([...f.ids].sort((a, b) => a - b));
    expect(filterCommand(f)).toBe(`syscalls ${f.ids.join(",")}\n`);
  });

  it("can leave the state set out, and never asks for opens on the state's behalf", () => {
    expect(kernelFilter(new Set(["openat"]), false).ids).toEqual([PG_SYSCALL.PG_SYS_OPENAT]);
    expect(kernelFilter(new Set()).eventTypes.has("openat")).toBe(false);
  });

  it("asks for close only when a requested type is close, and for every fcntl only for fcntl", () => {
    const S = PG_SYSCALL;
    const stateOnly = kernelFilter(new Set(["openat"]));
    // The state wants no close at all (a reused number is always replaced), fcntl in part
    // (F_DUPFD*) and recvmsg that received fds.
    expect(STATE_EVENT_TYPES.has("close")).toBe(false);
    expect(stateOnly.eventTypes.has("close")).toBe(false);
    expect(stateOnly.ids).not.toContain(S.PG_SYS_CLOSE);
    expect(stateOnly.ids).toContain(S.PG_SYS_FCNTL);
    expect(stateOnly.ids).toContain(S.PG_FILTER_RECEIVED_FDS);
    expect(stateOnly.ids).not.toContain(S.PG_FILTER_ALL_FCNTL);
    expect(stateOnly.ids).not.toContain(S.PG_SYS_RECVMSG);
    for (const t of ["pipe", "pipe2", "eventfd2", "close_range", "pidfd_getfd", "open_by_handle_at"]) {
      expect(stateOnly.ids, t).toContain(S[`PG_SYS_${t.toUpperCase()}` as keyof typeof S]);
    }
    const withClose = kernelFilter(new Set(["close", "fcntl"]));
    expect(withClose.ids).toContain(S.PG_SYS_CLOSE);
    expect(withClose.ids).toContain(S.PG_FILTER_ALL_FCNTL);
    // Exact sets (captures): the slots follow the request; no state, no received fds.
    expect(kernelFilter(new Set(["close"]), false).ids).toEqual([S.PG_SYS_CLOSE]);
    // No slot past the syscalls for close: it is sent whole or not at all.
    expect(withClose.ids.filter((id) => id >= S.PG_FILTER_RECEIVED_FDS)).toEqual([
      S.PG_FILTER_RECEIVED_FDS,
      S.PG_FILTER_ALL_FCNTL,
    ]);
  });

  it("becomes --syscalls on the loader's command line", () => {
    expect(loaderArgs({ eventTypes: new Set(["openat"]), exactEventTypes: true })).toEqual([
      "--ignore-pid",
      String(process.pid),
      "--syscalls",
      String(PG_SYSCALL.PG_SYS_OPENAT),
    ]);
  });
});

describe("startSupervisedSensor", () => {
  it("restarts a loader that dies, with the last event types, and counts it", async () => {
    const starts = join(dir, "starts");
    const stdin = join(dir, "stdin");
    // Each start appends its args; the first one dies right after replaying, the next ones stay.
    const loaderPath = join(dir, "loader.sh");
    writeFileSync(
      loaderPath,
      `#!/bin/sh
# Like the real loader, read stdin until EOF; SIGTERM is ignored from the first
# line, so a stop() that lands before the exec below cannot lose the last line
# (the pipe keeps it until cat reads it).
trap '' TERM
echo "$@" >> ${starts}
cat ${FIXTURE}
if [ "$(wc -l < ${starts})" -eq 1 ]; then sleep 0.2; exit 1; fi
exec cat > ${stdin}
`,
    );
    chmodSync(loaderPath, 0o755);
    let records = 0;
    const restarts: number[] = [];
    const exits: (number | null)[] = [];
    const sensor = await startSupervisedSensor({
      loaderPath,
      eventTypes: new Set(["unlink"]),
      exactEventTypes: true,
      initialBackoffMs: 20,
      onRecord: () => {
        records++;
      },
      onLoaderExit: (code) => exits.push(code),
      onRestart: (_s, n) => restarts.push(n),
    });
    const firstPid = sensor.pid;
    // Changed while the first loader is still alive: the replacement must get it too.
    sensor.setEventTypes(new Set(["openat"]));
    await until(() => restarts.length === 1);
    expect(exits[0]).toBe(1);
    expect(sensor.restarts).toBe(1);
    expect(sensor.pid).not.toBe(firstPid);
    const lines = readFileSync(starts, "utf8").trim().split("\n");
    expect(lines[0]).toContain(`--syscalls ${PG_SYSCALL.PG_SYS_UNLINK}`);
    expect(lines[1]).toContain(`--syscalls ${PG_SYSCALL.PG_SYS_OPENAT}`);
    // Decoder totals carry over the restart: two replays of the fixture.
    await until(() => records === 74);
    expect(sensor.decoderStats.records).toBe(74);
    // A filter update reaches the running loader's stdin as one line.
    sensor.setEventTypes(new Set(["close"]));
    await sensor.stop();
    await until(() => existsSync(stdin));
    // A rule on close asks for close, which the kernel then sends whole.
    expect(readFileSync(stdin, "utf8")).toBe(`syscalls ${PG_SYSCALL.PG_SYS_CLOSE}\n`);
    expect(restarts).toEqual([1]);
  });

  it("backs off while a replacement cannot start, and stops cleanly meanwhile", async () => {
    const marker = join(dir, "alive-once");
    const loaderPath = join(dir, "flaky.sh");
    writeFileSync(
      loaderPath,
      `#!/bin/sh
if [ -e ${marker} ]; then echo "peregrine-loader: failed to load BPF object" >&2; exit 3; fi
touch ${marker}
cat ${FIXTURE}
exit 1
`,
    );
    chmodSync(loaderPath, 0o755);
    const failures: number[] = [];
    const sensor = await startSupervisedSensor({
      loaderPath,
      initialBackoffMs: 10,
      maxBackoffMs: 40,
      onRecord: () => {},
      onRestartFailed: (_err, retryInMs) => failures.push(retryInMs),
    });
    await until(() => failures.length >= 4);
    // Doubling up to the cap.
    expect(failures.slice(0, 4)).toEqual([20, 40, 40, 40]);
    await sensor.stop();
    const n = failures.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(failures.length).toBe(n);
    expect(sensor.restarts).toBe(0);
  });
});

/**
 * Live: close is not a state event. The fd table replaces an entry whenever
 * its number is reused (every syscall that makes a descriptor is watched),
 * so without a loaded rule on `close` no close is sent at all, a socket's no
 * more than a file's: with --attach tracepoints close has no program
 * attached; with --attach raw (the default) its exits are dropped and counted as
 * filtered. A socket closed unseen and its number reused by open, pipe,
 * socket or accept is described as the new descriptor by the next event
 * naming that number. With a rule on close every close is sent (files' and
 * sockets'), with what the number was; a rules reload switches them on and
 * off. Needs root, kernel BTF, `make -C bpf`, cc and bpftool; skipped with
 * the reason otherwise.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  DecodedRecord,
  ExitEvent,
  KernelStats,
  SensorEvent,
  SyscallEvent,
} from "../../src/decode/events.js";
import type { Enricher } from "../../src/enrich/enricher.js";
import type { FdInfo } from "../../src/enrich/fd-info.js";
import { type Sensor, startSensor } from "../../src/sensor/loader-process.js";
import { attachedTracepoints, compileC, liveCSkipReason, seededEnricher, waitUntil } from "./live-support.js";

const skipReason = liveCSkipReason();
if (skipReason) console.warn(`test/integration/sensor-close-filter.test.ts skipped: ${skipReason}`);

/*
 * Modes (argv[1]), each after a "go" line on stdin, starting with an
 * unlink of a file that does not exist (a marker: closes before it are the
 * dynamic loader's):
 *  reuse: a socket closed, its number taken by an open (then fchmod'd); a
 *         unix socket closed, its number taken by a pipe (fchmod'd); a
 *         socket closed, its number taken by an IPv6 socket (dup'd); a
 *         socket closed, its number taken by an accepted connection.
 *  mixed: opens a file, an IPv4 and a unix socket and a pipe, closes them.
 *  churn N: N closes of a file, then 100 of sockets.
 * Prints "name=value" lines, then "done", and waits for stdin to end.
 */
const HELPER_C = String.raw`
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void kv(const char *k, long v) { printf("%s=%ld\n", k, v); }

int main(int argc, char **argv)
{
	char line[16];

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	unlink("no-such-marker");
	if (strcmp(argv[1], "reuse") == 0) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		kv("sock_open", s);
		close(s);
		int f = open("reuse-file", O_CREAT | O_WRONLY, 0600);
		kv("open", f);
		fchmod(f, 0640);

		int u = socket(AF_UNIX, SOCK_STREAM, 0);
		kv("sock_pipe", u);
		close(u);
		int p[2];
		if (pipe(p))
			return 3;
		kv("pipe0", p[0]);
		fchmod(p[0], 0600);

		int a = socket(AF_INET, SOCK_DGRAM, 0);
		kv("sock_sock", a);
		close(a);
		int b = socket(AF_INET6, SOCK_STREAM, 0);
		kv("sock6", b);
		kv("dup", dup(b));

		struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(addr);
		int l = socket(AF_INET, SOCK_STREAM, 0);
		if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) || listen(l, 1) ||
		    getsockname(l, (struct sockaddr *)&addr, &len))
			return 4;
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&addr, sizeof(addr)))
			return 5;
		int x = socket(AF_UNIX, SOCK_DGRAM, 0);
		kv("sock_accept", x);
		close(x);
		kv("accepted", accept(l, NULL, NULL));
		kv("port", ntohs(addr.sin_port));
	} else if (strcmp(argv[1], "mixed") == 0) {
		int f = open("mixed-file", O_CREAT | O_WRONLY, 0600);
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		int u = socket(AF_UNIX, SOCK_STREAM, 0);
		int p[2];
		if (pipe(p))
			return 3;
		kv("file", f);
		kv("inet", s);
		kv("unix", u);
		kv("pipe0", p[0]);
		kv("pipe1", p[1]);
		close(f);
		close(s);
		close(u);
		close(p[0]);
		close(p[1]);
	} else {
		int n = atoi(argv[2]);
		for (int i = 0; i < n; i++)
			close(open("/etc/hostname", O_RDONLY));
		for (int i = 0; i < 100; i++)
			close(socket(AF_INET, SOCK_DGRAM, 0));
	}
	printf("done\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}
`;

const AF_INET6 = 10;

interface Seen {
  readonly event: SensorEvent;
  /** e.fd as the enricher gave it, copied (later events may change the entry). */
  readonly fd: FdInfo | undefined;
}

/** A sensor with an enricher in front of everything it decodes, as the agent runs it. */
class Watch {
  readonly seen: Seen[] = [];
  readonly stats: KernelStats[] = [];
  readonly enricher: Enricher = seededEnricher();
  readonly onRecord = (rec: DecodedRecord): void => {
    if (rec.kind === "stats") {
      this.stats.push(rec);
      return;
    }
    const e = this.enricher.enrich(rec);
    this.seen.push({ event: rec, fd: e.fd === undefined ? undefined : { ...e.fd } });
    this.enricher.afterRules(rec);
  };

  /** What pid did after its marker unlink (earlier events are the dynamic loader's). */
  after(pid: number): Seen[] {
    const mine = this.seen.filter((s) => s.event.tgid === pid);
    const marker = mine.findIndex((s) => s.event.kind === "syscall" && s.event.evtType === "unlink");
    expect(marker, `the marker unlink of ${pid}`).toBeGreaterThanOrEqual(0);
    return mine.slice(marker);
  }

  /** pid's syscalls of one type after its marker. */
  syscalls(pid: number, type: SyscallEvent["evtType"]): { event: SyscallEvent; fd: FdInfo | undefined }[] {
    return this.after(pid)
      .filter((s) => s.event.kind === "syscall" && s.event.evtType === type)
      .map((s) => ({ event: s.event as SyscallEvent, fd: s.fd }));
  }

  /** e.fd of the first of pid's syscalls of this type that matches. */
  fdOf(pid: number, type: SyscallEvent["evtType"], match: (e: SyscallEvent) => boolean): FdInfo | undefined {
    const s = this.syscalls(pid, type).find((x) => match(x.event));
    expect(s, `${type} of ${pid}`).toBeDefined();
    return s?.fd;
  }
}

interface Run {
  readonly pid: number;
  readonly v: Record<string, number>;
}

/** Runs the helper in `mode` to its end (its exit seen by the sensor). */
async function runHelper(program: string, cwd: string, watch: Watch, args: string[]): Promise<Run> {
  const child: ChildProcessByStdio<Writable, Readable, null> = spawn(program, args, {
    cwd,
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (t: string) => {
    out += t;
  });
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  await waitUntil(() => (out.includes("ready") ? true : undefined), `the helper (${args.join(" ")})`);
  // Its exec seen before it works: the agent reads the new process's cwd from /proc at exec, which
  // only works while the process lives (a lagging agent would otherwise keep relative paths as given).
  await waitUntil(
    () => (watch.seen.some((s) => s.event.kind === "exec" && s.event.tgid === child.pid) ? true : undefined),
    `the helper's exec (${args.join(" ")})`,
  );
  child.stdin.write("go\n");
  await waitUntil(() => (out.includes("done") ? true : undefined), `the helper's work (${args.join(" ")})`);
  child.stdin.end();
  expect(await exited).toBe(0);
  const pid = child.pid ?? -1;
  await waitUntil(
    () =>
      watch.seen.some((s) => s.event.kind === "exit" && (s.event as ExitEvent).tgid === pid)
        ? true
        : undefined,
    "the helper's exit",
  );
  const v: Record<string, number> = {};
  for (const m of out.matchAll(/^(\w+)=(-?\d+)$/gm)) v[m[1] ?? ""] = Number(m[2]);
  return { pid, v };
}

describe.skipIf(skipReason !== undefined)("sensor: closes only for a rule on close (live)", () => {
  let work: string;
  let program: string;
  const sensors: Sensor[] = [];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "pg-close-filter-"));
    program = compileC(work, "closes", HELPER_C);
  });

  afterAll(async () => {
    for (const s of sensors) await s.stop();
    rmSync(work, { recursive: true, force: true });
  });

  // Per-syscall tracepoints unless a test asks for raw (the default mode): the kernel's list of
  // attached tracepoints then shows whether close has a program at all.
  async function start(
    watch: Watch,
    eventTypes: string[],
    attach: "raw" | "tracepoints" = "tracepoints",
  ): Promise<Sensor> {
    const s = await startSensor({
      eventTypes: new Set(eventTypes),
      statsIntervalMs: 200,
      onRecord: watch.onRecord,
      attach,
    });
    sensors.push(s);
    return s;
  }

  it("without a rule on close: none is sent, close has no program, and a socket's reused number is the new descriptor", async () => {
    const watch = new Watch();
    // Like the default rules: opens and fchmod wanted (unlink: the helper's marker), nothing on close.
    const sensor = await start(watch, ["openat", "fchmod", "unlink"]);
    expect(sensor.filter?.eventTypes.has("close")).toBe(false);
    expect(attachedTracepoints(sensor.pid)).not.toContain("tracepoint:sys_exit_close");
    expect(attachedTracepoints(sensor.pid)).toContain("tracepoint:sys_exit_socket");

    const { pid, v } = await runHelper(program, work, watch, ["reuse"]);
    expect(watch.syscalls(pid, "close")).toEqual([]);

    // Each socket's number was reused (Linux hands out the lowest free one) …
    expect(v.open).toBe(v.sock_open);
    expect(v.pipe0).toBe(v.sock_pipe);
    expect(v.sock6).toBe(v.sock_sock);
    expect(v.accepted).toBe(v.sock_accept);
    // … and the socket's entry, never closed in the table, was replaced by what took the number.
    const open = watch.after(pid).find((s) => s.event.kind === "open" && s.event.ret === v.open);
    expect(open?.fd).toMatchObject({ num: v.open, type: "file", name: join(work, "reuse-file") });
    expect(watch.fdOf(pid, "fchmod", (e) => e.args.fd === v.open)).toMatchObject({
      type: "file",
      name: join(work, "reuse-file"),
    });
    expect(watch.fdOf(pid, "fchmod", (e) => e.args.fd === v.pipe0)).toMatchObject({
      num: v.pipe0,
      type: "pipe",
    });
    expect(watch.fdOf(pid, "socket", (e) => e.ret === v.sock6 && e.args.domain === AF_INET6)).toMatchObject({
      num: v.sock6,
      type: "ipv6",
    });
    // dup copies what the number is now: the IPv6 socket, not the IPv4 one closed there.
    expect(watch.fdOf(pid, "dup", (e) => e.ret === v.dup)).toMatchObject({ num: v.dup, type: "ipv6" });
    expect(watch.fdOf(pid, "accept", (e) => e.ret === v.accepted)).toMatchObject({
      num: v.accepted,
      type: "ipv4",
      role: "server",
      name: expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${v.port}$`)),
    });
  }, 60_000);

  it("--attach raw: closes of files and sockets run the program and are counted as filtered, none sent", async () => {
    const watch = new Watch();
    const sensor = await start(watch, ["unlink"], "raw");
    const before = await waitUntil(() => watch.stats.at(-1), "a stats record");
    const n = 2000;
    const { pid } = await runHelper(program, work, watch, ["churn", String(n)]);
    expect(watch.syscalls(pid, "socket")).toHaveLength(100); // sent: state
    expect(watch.syscalls(pid, "close")).toEqual([]);
    const after = await waitUntil(
      () => watch.stats.find((s) => s.tsNs > (watch.seen.at(-1)?.event.tsNs ?? 0n)),
      "stats after the helper",
    );
    // n opens (not wanted) and n + 100 closes: all dropped in the kernel and counted.
    expect((after.filtered ?? 0) - (before.filtered ?? 0)).toBeGreaterThanOrEqual(2 * n + 100);
    expect(sensor.filter?.eventTypes.has("close")).toBe(false);
  }, 60_000);

  it("a rule on close: every close is sent, files' and sockets', with what the number was; a reload switches them on and off", async () => {
    const watch = new Watch();
    const sensor = await start(watch, ["openat", "unlink"]);
    const closeAttached = (): boolean => attachedTracepoints(sensor.pid).has("tracepoint:sys_exit_close");
    expect(closeAttached()).toBe(false);

    sensor.setEventTypes(new Set(["openat", "unlink", "close"]));
    await waitUntil(() => (closeAttached() ? true : undefined), "close's tracepoint attached");
    const on = await runHelper(program, work, watch, ["mixed"]);
    const closes = watch
      .syscalls(on.pid, "close")
      .map((c) => ({ fd: c.event.args.fd, ret: c.event.ret, info: c.fd }));
    expect(closes.map((c) => [c.fd, c.ret])).toEqual([
      [on.v.file, 0],
      [on.v.inet, 0],
      [on.v.unix, 0],
      [on.v.pipe0, 0],
      [on.v.pipe1, 0],
    ]);
    expect(closes.map((c) => [c.info?.type, c.info?.name])).toEqual([
      ["file", join(work, "mixed-file")],
      ["ipv4", expect.any(String)],
      ["unix", expect.any(String)],
      ["pipe", ""],
      ["pipe", ""],
    ]);

    sensor.setEventTypes(new Set(["openat", "unlink"]));
    await waitUntil(() => (closeAttached() ? undefined : true), "close's tracepoint detached");
    const off = await runHelper(program, work, watch, ["mixed"]);
    expect(watch.syscalls(off.pid, "close")).toEqual([]);
    // Still watched: its open (the rules' openat).
    expect(watch.after(off.pid).some((s) => s.event.kind === "open" && s.event.ret === off.v.file)).toBe(
      true,
    );
  }, 60_000);
});

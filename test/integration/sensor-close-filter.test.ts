/**
 * Live: when no rule can match close (whether or not the rules need opens:
 * test/integration/state-descriptors.test.ts has opens on), the kernel
 * sends the closes of sockets only (the fd table needs those) and drops
 * the closes of files,
 * deciding at sys_exit from its own map of socket descriptors
 * (pg_sock_fds in bpf/peregrine.bpf.c), with no sys_enter program. A helper
 * program makes every kind of socket descriptor that map must follow and
 * closes them among closes of files; the test checks that exactly the
 * sockets' closes arrive: one made before the sensor started (found by the
 * load-time iterator), made after, copied by dup2/fcntl(F_DUPFD),
 * inherited by a forked child, received with SCM_RIGHTS, and a socket fd
 * number that dup2 turned into a file. Needs root, kernel BTF, `make -C bpf`
 * and cc; skipped with the reason otherwise.
 */
import { type ChildProcessByStdio, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExitEvent, SyscallEvent } from "../../src/decode/events.js";
import { type Sensor, startSensor } from "../../src/sensor/loader-process.js";
import { liveCSkipReason, RecordLog, waitUntil } from "./live-support.js";

const skipReason = liveCSkipReason();
if (skipReason) console.warn(`test/integration/sensor-close-filter.test.ts skipped: ${skipReason}`);

/*
 * Makes s0 (a UDP socket) and prints "ready s0", then waits for a line on
 * stdin (the sensor starts in between), then closes, in this order: a file;
 * a new socket s1; s0; fcntl(s2, F_DUPFD, 200); dup2(s2, 201); a file
 * dup2'd to 202; socket s3 after a file was dup2'd over it; in a forked
 * child, the inherited s2 and its copy at 700; s4 after sending it over a
 * socketpair; the descriptor r it arrived as.
 */
const HELPER_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int send_fd(int via, int fd)
{
	char byte = 'x', ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(ctl, 0, sizeof(ctl));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(via, &msg, 0);
}

static int recv_fd(int via)
{
	char byte, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	int fd = -1;

	if (recvmsg(via, &msg, 0) < 0 || !CMSG_FIRSTHDR(&msg))
		return -1;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
	return fd;
}

int main(void)
{
	char line[16];
	int s0 = socket(AF_INET, SOCK_DGRAM, 0);

	printf("ready %d\n", s0);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	close(open("/etc/hostname", O_RDONLY));
	int s1 = socket(AF_UNIX, SOCK_DGRAM, 0);
	close(s1);
	close(s0);
	int s2 = socket(AF_INET, SOCK_STREAM, 0);
	close(fcntl(s2, F_DUPFD, 200));
	close(dup2(s2, 201));
	int f = open("/etc/hostname", O_RDONLY);
	close(dup2(f, 202));
	int s3 = socket(AF_INET, SOCK_DGRAM, 0);
	dup2(f, s3);
	close(s3);
	close(f);
	dup2(s2, 700); /* past the first 64 slots: the child's walk reads more bitmap words */
	pid_t child = fork();
	if (child == 0) {
		close(s2);
		close(700);
		_exit(0);
	}
	waitpid(child, NULL, 0);
	int sp[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
	int s4 = socket(AF_INET6, SOCK_DGRAM, 0);
	send_fd(sp[0], s4);
	close(s4);
	int r = recv_fd(sp[1]);
	close(r);
	printf("s1=%d s0=%d s2=%d s3=%d s4=%d r=%d child=%d\n", s1, s0, s2, s3, s4, r, child);
	fflush(stdout);
	return 0;
}
`;

// The default (the kernel's socket-fd map, at sys_exit), and the sys_enter marker it replaced.
/*
 * A socket made (and dup2'd to 77, a number nothing else uses) while every
 * close is sent; after the switch to sockets' closes only, 77 is closed,
 * then a file.
 */
const SWITCH_C = String.raw`
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	char line[16];
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	dup2(s, 77);
	printf("ready %d\n", s);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	close(77);
	close(open("/etc/hostname", O_RDONLY));
	return 0;
}
`;

/*
 * Churn through the numbers the socket-fd map's counting filter
 * (sock_hint) hashes: 100 files open at once (3..102) and closed, then 100
 * sockets at those same numbers, each closed after a file's close; a socket
 * noted twice at one number (dup2 onto it twice) and closed once; then a
 * file dup2'd onto that number and closed; last a socket at 3 again, after
 * 2,000 closes of files there. Prints the socket numbers it closed.
 */
const CHURN_C = String.raw`
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	char line[16];
	int f[100], s[100];

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	for (int i = 0; i < 100; i++)
		f[i] = open("/etc/hostname", O_RDONLY);
	for (int i = 0; i < 100; i++)
		close(f[i]);
	for (int i = 0; i < 100; i++)
		s[i] = socket(AF_INET, SOCK_DGRAM, 0);
	for (int i = 99; i >= 0; i--) {
		close(open("/etc/hostname", O_RDONLY));
		close(s[i]);
		printf("%d ", s[i]);
	}
	int t = socket(AF_INET, SOCK_DGRAM, 0);
	dup2(t, 500);
	dup2(t, 500);
	close(500);
	printf("%d ", 500);
	int g = open("/etc/hostname", O_RDONLY);
	dup2(g, 500);
	close(500);
	close(g);
	close(t);
	printf("%d ", t);
	for (int i = 0; i < 2000; i++)
		close(open("/etc/hostname", O_RDONLY));
	int u = socket(AF_INET6, SOCK_STREAM, 0);
	close(u);
	printf("%d\n", u);
	fflush(stdout);
	return 0;
}
`;

/*
 * A socket at 300 in a table shared with a child (clone CLONE_FILES): the
 * child's exec gives it its own copy of the table (at a new address, never
 * walked at fork), and the new image closes a file, then 300.
 */
const EXEC_SHARED_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char stack[65536];
static char *self;

static int child(void *arg)
{
	execl(self, self, "closer", "300", (char *)NULL);
	_exit(127);
}

int main(int argc, char **argv)
{
	char line[16];

	if (argc == 3) {
		close(open("/etc/hostname", O_RDONLY));
		close(atoi(argv[2]));
		return 0;
	}
	self = argv[0];
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	dup2(socket(AF_INET, SOCK_DGRAM, 0), 300);
	pid_t pid = clone(child, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL);
	waitpid(pid, NULL, 0);
	printf("child %d\n", pid);
	fflush(stdout);
	return 0;
}
`;

describe.skipIf(skipReason !== undefined).each([
  { how: "decided at sys_exit", closeAtEnter: false },
  { how: "marked at sys_enter (--close-at-enter)", closeAtEnter: true },
])("sensor: closes of sockets only, $how (live)", ({ closeAtEnter }) => {
  let work: string;
  let helper: ChildProcessByStdio<Writable, Readable, null>;
  let sensor: Sensor;
  let out = "";
  const log = new RecordLog();

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-close-filter-"));
    writeFileSync(join(work, "closes.c"), HELPER_C);
    execFileSync("cc", ["-O1", "-o", join(work, "closes"), join(work, "closes.c")]);
    writeFileSync(join(work, "switch.c"), SWITCH_C);
    execFileSync("cc", ["-O1", "-o", join(work, "switch"), join(work, "switch.c")]);
    writeFileSync(join(work, "churn.c"), CHURN_C);
    execFileSync("cc", ["-O1", "-o", join(work, "churn"), join(work, "churn.c")]);
    writeFileSync(join(work, "exec-shared.c"), EXEC_SHARED_C);
    execFileSync("cc", ["-O1", "-o", join(work, "exec-shared"), join(work, "exec-shared.c")]);
    // Its first socket exists before the sensor starts: only the load-time iterator can know it.
    helper = spawn(join(work, "closes"), [], { stdio: ["pipe", "pipe", "inherit"] });
    helper.stdout.setEncoding("utf8").on("data", (t: string) => {
      out += t;
    });
    await waitUntil(() => /ready \d+/.exec(out) ?? undefined, "the helper's first socket");
    // Rules that need unlink only: no rule on close, so file closes are not wanted (the fd table's sockets' are).
    sensor = await startSensor({ eventTypes: new Set(["unlink"]), closeAtEnter, onRecord: log.push });
    expect(sensor.filter?.eventTypes.has("openat")).toBe(false);
    expect(sensor.filter?.eventTypes.has("close")).toBe(true);
  }, 60_000);

  afterAll(async () => {
    helper?.kill();
    await sensor?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("sends the closes of sockets and drops those of files", async () => {
    const closed = new Promise<number | null>((resolve) => helper.once("close", resolve));
    helper.stdin.write("go\n");
    expect(await closed).toBe(0);
    const m = /s1=(\d+) s0=(\d+) s2=(\d+) s3=(\d+) s4=(\d+) r=(\d+) child=(\d+)/.exec(out);
    expect(m, out).not.toBeNull();
    const [s1, s0, s2, , s4, r, child] = (m ?? []).slice(1).map(Number) as number[];
    const pid = helper.pid ?? -1;
    await log.waitFor((x): x is ExitEvent => x.kind === "exit" && x.tgid === pid, "the helper's exit");
    const closes = (tgid: number) =>
      log
        .events()
        .filter((e): e is SyscallEvent => e.kind === "syscall" && e.evtType === "close" && e.tgid === tgid)
        .map((e) => [e.args.fd, e.ret]);
    // Exactly the sockets, in order: no file's close (the two opens, 202, s3 once a file), none missing.
    expect(closes(pid)).toEqual([
      [s1, 0],
      [s0, 0],
      [200, 0],
      [201, 0],
      [s4, 0],
      [r, 0],
    ]);
    expect(closes(child ?? -1)).toEqual([
      [s2, 0],
      [700, 0],
    ]);
    // What was dropped is counted as filtered.
    const stats = await log.waitFor(
      (x): x is Extract<typeof x, { kind: "stats" }> => x.kind === "stats" && (x.filtered ?? 0) > 0,
      "stats with filtered records",
    );
    expect(stats.filtered ?? 0).toBeGreaterThan(0);
    // Seen is before the filter: every hit is sent, lost, dropped by pid (ours), or filtered.
    expect(stats.eventsSeen).toBeGreaterThanOrEqual(
      stats.eventsEmitted + stats.ringbufFull + (stats.filtered ?? 0),
    );
  }, 30_000);

  it("sends every socket's close at numbers files used before and after it, and no file's", async () => {
    const child = spawn(join(work, "churn"), [], { stdio: ["pipe", "pipe", "inherit"] });
    const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
    let text = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      text += t;
    });
    await waitUntil(() => (text.includes("ready") ? true : undefined), "the churn helper");
    child.stdin.write("go\n");
    expect(await closed).toBe(0);
    const sockets = text.replace("ready", "").trim().split(/\s+/).map(Number);
    expect(sockets).toHaveLength(103);
    const pid = child.pid ?? -1;
    await log.waitFor((x): x is ExitEvent => x.kind === "exit" && x.tgid === pid, "its exit");
    const closes = log
      .events()
      .filter((e): e is SyscallEvent => e.kind === "syscall" && e.evtType === "close" && e.tgid === pid)
      .map((e) => e.args.fd);
    // Its exec's closes (before the helper's main) are files' and dropped too.
    expect(closes).toEqual(sockets);
  }, 30_000);

  it("sends the close of a socket in the table an exec copied from a shared one", async () => {
    const helper2 = spawn(join(work, "exec-shared"), [], { stdio: ["pipe", "pipe", "inherit"] });
    const closed = new Promise<number | null>((resolve) => helper2.once("close", resolve));
    let text = "";
    helper2.stdout.setEncoding("utf8").on("data", (t: string) => {
      text += t;
    });
    await waitUntil(() => (text.includes("ready") ? true : undefined), "the exec-shared helper");
    helper2.stdin.write("go\n");
    expect(await closed).toBe(0);
    const child = Number(/child (\d+)/.exec(text)?.[1]);
    await log.waitFor((x): x is ExitEvent => x.kind === "exit" && x.tgid === child, "the child's exit");
    const closes = log
      .events()
      .filter((e): e is SyscallEvent => e.kind === "syscall" && e.evtType === "close" && e.tgid === child)
      .map((e) => e.args.fd);
    expect(closes).toEqual([300]);
  }, 30_000);

  it("keeps the sockets made while every close was sent, after a switch to sockets' closes only", async () => {
    sensor.setEventTypes(new Set(["close", "unlink"])); // a rule on close: every close is sent
    await new Promise((resolve) => setTimeout(resolve, 300)); // the loader reads its stdin
    const child = spawn(join(work, "switch"), [], { stdio: ["pipe", "pipe", "inherit"] });
    const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
    let text = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      text += t;
    });
    await waitUntil(() => /ready (\d+)/.exec(text) ?? undefined, "the socket");
    sensor.setEventTypes(new Set(["unlink"]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.stdin.write("go\n");
    expect(await closed).toBe(0);
    const pid = child.pid ?? -1;
    await log.waitFor((x): x is ExitEvent => x.kind === "exit" && x.tgid === pid, "its exit");
    const closes = log
      .events()
      .filter((e): e is SyscallEvent => e.kind === "syscall" && e.evtType === "close" && e.tgid === pid);
    // Before the switch its exec closed files (sent then); after it, 77 is sent and the file's close is not.
    expect(closes.filter((c) => c.args.fd === 77)).toHaveLength(1);
    expect(closes.at(-1)?.args.fd).toBe(77);
  }, 30_000);
});

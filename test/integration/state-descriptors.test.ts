/**
 * Live: the fd table stays right without the closes of files. With rules
 * that want opens but no close (as the default rules), the kernel sends
 * the opens and drops the closes of files; the descriptor-making syscalls
 * (pipe, eventfd, signalfd, timerfd, inotify, epoll, pidfd, fcntl F_DUPFD,
 * close_range, perf_event_open, io_uring_setup, fanotify_init,
 * open_by_handle_at, memfd_secret, mq_open, fsopen, open_tree, landlock,
 * and descriptors received with SCM_RIGHTS) are sent as state, so a number
 * a closed file leaves behind is never described by that file again. A
 * helper program does each for real; the test checks the decoded
 * arguments, the return value and what the enricher then says about the
 * descriptor (fd.type / fd.typechar / fd.name). A second sensor with a rule
 * on close shows that closes of files are sent then. Needs root, kernel
 * BTF, `make -C bpf` and cc; skipped with the reason otherwise.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecodedRecord, KernelStats, SensorEvent, SyscallEvent } from "../../src/decode/events.js";
import type { Enricher } from "../../src/enrich/enricher.js";
import type { FdInfo } from "../../src/enrich/fd-info.js";
import { FD_TYPECHAR } from "../../src/rules/fd-view.js";
import { type Sensor, startSensor } from "../../src/sensor/loader-process.js";
import { attachedTracepoints, compileC, liveCSkipReason, seededEnricher, waitUntil } from "./live-support.js";

const skipReason = liveCSkipReason();
if (skipReason) console.warn(`test/integration/state-descriptors.test.ts skipped: ${skipReason}`);

const O_CLOEXEC = 0o2000000;

/*
 * Waits for "go", then makes every kind of descriptor, printing key=value
 * lines with the numbers and results, then "done"; keeps them all open
 * until "bye" (so /proc can still describe the received ones). argv[1]
 * "closes": open and close /etc/hostname once, print its number, then
 * fcntl(1, F_GETFL), and exit.
 */
const HELPER_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void kv(const char *k, long v) { printf("%s=%ld\n", k, v); }

/* Opens and closes a file: its number is free again, but the fd table was not told. */
static int stale(const char *path)
{
	int f = open(path, O_RDONLY);
	close(f);
	return f;
}

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

int main(int argc, char **argv)
{
	char line[16];
	sigset_t mask;

	if (argc == 2) {
		kv("closed", stale("/etc/hostname"));
		kv("getfl", fcntl(1, F_GETFL));
		return 0;
	}
	if (!fgets(line, sizeof(line), stdin))
		return 2;

	/* A closed file's number taken by a pipe, then by an eventfd: fchmod names each. */
	int p[2];
	kv("stale_pipe", stale("/etc/hostname"));
	kv("pipe_ret", syscall(SYS_pipe, p));
	kv("pipe0", p[0]);
	kv("pipe1", p[1]);
	fchmod(p[0], 0600);
	kv("stale_event", stale("/etc/hostname"));
	long efd = syscall(SYS_eventfd, 3);
	kv("eventfd", efd);
	fchmod(efd, 0600);

	int q[2];
	kv("pipe2_ret", syscall(SYS_pipe2, q, O_CLOEXEC | O_NONBLOCK));
	kv("pipe2_0", q[0]);
	kv("pipe2_1", q[1]);
	kv("pipe2_bad", syscall(SYS_pipe2, q, 0x7fffffff) < 0 ? -errno : 0);
	kv("eventfd2", syscall(SYS_eventfd2, 7, O_CLOEXEC));
	kv("eventfd2_bad", syscall(SYS_eventfd2, 7, 0x7fffffff) < 0 ? -errno : 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	kv("signalfd", syscall(SYS_signalfd, -1, &mask, 8));
	kv("signalfd4", syscall(SYS_signalfd4, -1, &mask, 8, O_CLOEXEC));
	kv("timerfd", syscall(SYS_timerfd_create, 1 /* CLOCK_MONOTONIC */, O_CLOEXEC));
	kv("inotify", syscall(SYS_inotify_init));
	kv("inotify1", syscall(SYS_inotify_init1, O_CLOEXEC));
	kv("epoll", syscall(SYS_epoll_create, 5));
	kv("epoll1", syscall(SYS_epoll_create1, O_CLOEXEC));
	long pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	kv("pidfd", pidfd);
	kv("pidfd_bad", syscall(SYS_pidfd_open, -1, 0) < 0 ? -errno : 0);
	kv("getfd", syscall(SYS_pidfd_getfd, pidfd, p[1], 0));
	kv("dupfd", fcntl(p[0], F_DUPFD_CLOEXEC, 300));
	fcntl(p[0], F_GETFL); /* not a descriptor: not sent without a rule on fcntl */

	/* close_range: first only marks 400..401 close-on-exec, then closes them. */
	int f = open("/etc/hostname", O_RDONLY);
	dup2(f, 400);
	dup2(f, 401);
	close(f);
	kv("cr_cloexec", syscall(SYS_close_range, 400, 401, 4 /* CLOSE_RANGE_CLOEXEC */));
	kv("cr_close", syscall(SYS_close_range, 400, 401, 0));
	kv("cr_bad", syscall(SYS_close_range, 5, 2, 0) < 0 ? -errno : 0);
	/* A socket closed by close_range, then a file at its number, closed: the kernel's socket set
	 * followed the close_range, so that close is a file's (not sent). */
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	kv("sock", s);
	kv("cr_sock", syscall(SYS_close_range, s, s, 0));
	int g = open("/etc/hostname", O_RDONLY);
	kv("after_sock", g);
	close(g);

	struct perf_event_attr pa = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(pa), .config = PERF_COUNT_SW_DUMMY, .disabled = 1 };
	kv("perf", syscall(SYS_perf_event_open, &pa, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
	struct io_uring_params ip = { 0 };
	kv("uring", syscall(SYS_io_uring_setup, 4, &ip));
	kv("uring_sq", ip.sq_entries);
	kv("uring_cq", ip.cq_entries);
	kv("uring_features", ip.features);
	kv("fanotify", fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY));

	/* open_by_handle_at of a file of the work directory (argv[0]'s), at a stale file's number. */
	struct file_handle *h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
	int mnt, dir = open(".", O_RDONLY | O_DIRECTORY);
	h->handle_bytes = MAX_HANDLE_SZ;
	close(open("handle-target", O_CREAT | O_WRONLY, 0600));
	kv("n2h", name_to_handle_at(AT_FDCWD, "handle-target", h, &mnt, 0));
	kv("dir", dir);
	kv("stale_handle", stale("/etc/hostname"));
	kv("by_handle", open_by_handle_at(dir, h, O_RDONLY | O_CLOEXEC));
	/* The same on another mount (tmpfs at /dev/shm): the kernel's path walk crosses into it. */
	char shm[64];
	snprintf(shm, sizeof(shm), "/dev/shm/pg-k5-handle-%d", getpid());
	close(open(shm, O_CREAT | O_WRONLY, 0600));
	h->handle_bytes = MAX_HANDLE_SZ;
	kv("n2h_shm", name_to_handle_at(AT_FDCWD, shm, h, &mnt, 0));
	kv("by_handle_shm", open_by_handle_at(open("/dev/shm", O_RDONLY | O_DIRECTORY), h, O_RDONLY));
	unlink(shm);
	kv("memfd_secret", syscall(SYS_memfd_secret, 0));
	kv("mq", syscall(SYS_mq_open, "pg-k5-state-mq", O_CREAT | O_RDWR, 0600, NULL));
	syscall(SYS_mq_unlink, "pg-k5-state-mq");
	kv("fsopen", syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */));
	kv("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/tmp", O_CLOEXEC));
	kv("landlock_version", syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* ..._VERSION */));

	/* A descriptor received with SCM_RIGHTS lands on a stale file's number. */
	int sp[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
	int tosend = open("/etc/hostname", O_RDONLY);
	kv("stale_recv", stale("/etc/passwd"));
	send_fd(sp[0], tosend);
	kv("received", recv_fd(sp[1]));
	printf("done\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 3;
	return 0;
}
`;

interface Seen {
  readonly event: SensorEvent;
  /** The event's fd as the rules saw it (copied: the table may replace it later). */
  readonly fd: FdInfo | undefined;
}

/** Parses the helper's key=value lines. */
function values(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+)=(-?\d+)$/gm)) out[m[1] as string] = Number(m[2]);
  return out;
}

function typechar(info: FdInfo | undefined): string | undefined {
  return info === undefined ? undefined : FD_TYPECHAR[info.type];
}

describe.skipIf(skipReason !== undefined)("fd table without closes of files (live)", () => {
  let work: string;
  let program: string;
  let sensor: Sensor;
  let enricher: Enricher;
  let helper: ChildProcessByStdio<Writable, Readable, null>;
  let out = "";
  let v: Record<string, number> = {};
  const seen: Seen[] = [];
  const stats: KernelStats[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-state-desc-"));
    program = compileC(work, "descriptors", HELPER_C);
    enricher = seededEnricher();
    // Like the default rules: opens and fchmod wanted, no rule on close (or recvmsg, or fcntl).
    sensor = await startSensor({
      eventTypes: new Set(["openat", "fchmod"]),
      onRecord: (rec: DecodedRecord) => {
        if (rec.kind === "stats") {
          stats.push(rec);
          return;
        }
        const e = enricher.enrich(rec);
        seen.push({ event: rec, fd: e.fd === undefined ? undefined : { ...e.fd } });
        enricher.afterRules(rec);
      },
    });
    expect(sensor.filter?.eventTypes.has("close")).toBe(false); // not state: no close at all
    helper = spawn(program, [], { stdio: ["pipe", "pipe", "inherit"], cwd: work });
    helper.stdout.setEncoding("utf8").on("data", (t: string) => {
      out += t;
    });
    // A process the agent did not see being born: its table comes from /proc at its first fd event.
    const pid = helper.pid ?? -1;
    await waitUntil(() => (enricher.fds.list(pid).length > 0 ? true : undefined), "the helper's table");
    helper.stdin.write("go\n");
    await waitUntil(() => (out.includes("done") ? true : undefined), "the helper's descriptors");
    v = values(out);
    // Everything up to its last syscall (the recvmsg) has come through before the assertions.
    await waitUntil(
      () => sys("recvmsg", (e) => e.ret >= 0),
      "the helper's recvmsg (sent for the fds it received)",
    );
  }, 60_000);

  afterAll(async () => {
    helper?.stdin.write("bye\n");
    await sensor?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const pidOf = (): number => helper.pid ?? -1;
  function sys(
    type: SyscallEvent["evtType"],
    match: (e: SyscallEvent) => boolean = () => true,
  ): Seen | undefined {
    return seen.find(
      (s) =>
        s.event.kind === "syscall" && s.event.evtType === type && s.event.tgid === pidOf() && match(s.event),
    );
  }
  function event(type: SyscallEvent["evtType"], match?: (e: SyscallEvent) => boolean): SyscallEvent {
    const s = sys(type, match);
    expect(s, `${type} of the helper`).toBeDefined();
    return s?.event as SyscallEvent;
  }
  const fdOf = (type: SyscallEvent["evtType"], match?: (e: SyscallEvent) => boolean) => sys(type, match)?.fd;
  const tableAt = (num: number) => enricher.fds.get(pidOf(), num);

  it("sends the opens and none of the closes of files", async () => {
    const pid = pidOf();
    const closes = seen
      .filter((s) => s.event.kind === "syscall" && s.event.evtType === "close" && s.event.tgid === pid)
      .map((s) => (s.event as SyscallEvent).args.fd);
    // No close at all without a rule on close: not the file's at the number where close_range
    // had closed a socket, nor any socket's.
    expect(v.after_sock).toBe(v.sock);
    expect(closes).toEqual([]);
    const opens = seen.filter(
      (s) => s.event.kind === "open" && s.event.tgid === pid && s.event.path === "/etc/hostname",
    );
    // stale_pipe, stale_event, the file for close_range, the file after the socket, stale_handle, tosend
    expect(opens).toHaveLength(6);
    // Not even a program runs for them: close's tracepoint is not attached (the default attach
    // mode; in raw mode they are counted as filtered: sensor-close-filter.test.ts).
    expect(attachedTracepoints(sensor.pid)).not.toContain("tracepoint:sys_exit_close");
  });

  it("a pipe at a closed file's number is a pipe, not the file", () => {
    expect(v.pipe0).toBe(v.stale_pipe);
    const pipe = event("pipe");
    expect(pipe.ret).toBe(0);
    expect(pipe.args).toMatchObject({ fd1: v.pipe0, fd2: v.pipe1 });
    expect(pipe.args.ino).toBeGreaterThan(0);
    const fchmod = fdOf("fchmod", (e) => e.args.fd === v.pipe0);
    expect(fchmod).toMatchObject({ num: v.pipe0, type: "pipe", name: "", ino: pipe.args.ino });
    expect(typechar(fchmod)).toBe("p");
  });

  it("an eventfd at a closed file's number is an event", () => {
    expect(v.eventfd).toBe(v.stale_event);
    const ev = event("eventfd");
    expect(ev.ret).toBe(v.eventfd);
    expect(ev.args).toEqual({ initval: 3, flags: 0 });
    const fchmod = fdOf("fchmod", (e) => e.args.fd === v.eventfd);
    expect(fchmod).toMatchObject({ num: v.eventfd, type: "event", name: "" });
    expect(typechar(fchmod)).toBe("e");
  });

  it("pipe2 with flags, and a failed pipe2 that changes nothing", () => {
    // (libuv's child may make a pipe2 of its own before the exec: match on the numbers.)
    const ok = event("pipe2", (e) => e.ret === 0 && e.args.fd1 === v.pipe2_0);
    expect(ok.args).toMatchObject({ fd1: v.pipe2_0, fd2: v.pipe2_1, flags: O_CLOEXEC | 0o4000 });
    for (const n of [v.pipe2_0, v.pipe2_1] as number[]) {
      expect(tableAt(n)).toMatchObject({ type: "pipe", openFlags: O_CLOEXEC, ino: ok.args.ino });
    }
    const bad = event("pipe2", (e) => e.ret < 0);
    expect(bad.ret).toBe(v.pipe2_bad);
    expect(bad.ret).toBe(-22);
    expect(sys("pipe2", (e) => e.ret < 0)?.fd).toBeUndefined();
  });

  it("eventfd2, signalfd, signalfd4, timerfd_create, inotify_init*, epoll_create*", () => {
    const cases: [
      SyscallEvent["evtType"],
      string,
      FdInfo["type"],
      string,
      boolean,
      Record<string, number>,
    ][] = [
      ["eventfd2", "eventfd2", "event", "e", true, { initval: 7, flags: O_CLOEXEC }],
      ["signalfd", "signalfd", "signalfd", "s", false, { fd: -1, mask: 1 << 9, flags: 0 }],
      ["signalfd4", "signalfd4", "signalfd", "s", true, { fd: -1, mask: 1 << 9, flags: O_CLOEXEC }],
      ["timerfd_create", "timerfd", "timerfd", "t", true, { clockid: 1, flags: O_CLOEXEC }],
      ["inotify_init", "inotify", "inotify", "i", false, { flags: 0 }],
      ["inotify_init1", "inotify1", "inotify", "i", true, { flags: O_CLOEXEC }],
      ["epoll_create", "epoll", "eventpoll", "l", false, { size: 5 }],
      ["epoll_create1", "epoll1", "eventpoll", "l", true, { flags: O_CLOEXEC }],
    ];
    for (const [type, key, fdType, char, cloexec, args] of cases) {
      const num = v[key] as number;
      expect(num, key).toBeGreaterThan(2);
      const e = event(type, (x) => x.ret === num);
      expect(e.args, type).toEqual(args);
      const info = fdOf(type, (x) => x.ret === num);
      expect(info, type).toMatchObject({ num, type: fdType, name: "" });
      expect(typechar(info), type).toBe(char);
      expect(((info?.openFlags ?? 0) & O_CLOEXEC) !== 0, `${type} close-on-exec`).toBe(cloexec);
    }
    const bad = event("eventfd2", (e) => e.ret < 0);
    expect(bad.ret).toBe(v.eventfd2_bad);
  });

  it("pidfd_open, pidfd_getfd and fcntl(F_DUPFD_CLOEXEC); fcntl(F_GETFL) is not sent", () => {
    const pidfd = event("pidfd_open", (e) => e.ret >= 0);
    expect(pidfd.args).toEqual({ pid: pidOf(), flags: 0 });
    expect(fdOf("pidfd_open", (e) => e.ret >= 0)).toMatchObject({
      num: v.pidfd,
      type: "pidfd",
      openFlags: O_CLOEXEC,
    });
    expect(typechar(tableAt(v.pidfd as number))).toBe("P");
    expect(event("pidfd_open", (e) => e.ret < 0).ret).toBe(v.pidfd_bad);
    // A copy of the pipe's write end, described from /proc (pipe:[ino]).
    const getfd = event("pidfd_getfd");
    expect(getfd.ret).toBe(v.getfd);
    expect(getfd.args).toEqual({ pid_fd: v.pidfd, target_fd: v.pipe1, flags: 0 });
    expect(fdOf("pidfd_getfd")).toMatchObject({ num: v.getfd, type: "pipe", openFlags: expect.any(Number) });
    expect((fdOf("pidfd_getfd")?.openFlags ?? 0) & O_CLOEXEC).toBe(O_CLOEXEC);
    const dup = event("fcntl");
    expect(dup).toMatchObject({ ret: v.dupfd, args: { fd: v.pipe0, cmd: 1030 } });
    expect(fdOf("fcntl")).toMatchObject({ num: v.dupfd, type: "pipe", openFlags: O_CLOEXEC });
    // Only the one fcntl that made a descriptor came (the helper's F_GETFL did not).
    expect(seen.filter((s) => s.event.evtType === "fcntl" && s.event.tgid === pidOf())).toHaveLength(1);
  });

  it("close_range marks, then closes, a range; a failed one changes nothing", () => {
    expect(v.cr_cloexec).toBe(0);
    expect(v.cr_close).toBe(0);
    const marked = event("close_range", (e) => e.args.flags === 4);
    expect(marked.args).toEqual({ first: 400, last: 401, flags: 4 });
    const closed = event("close_range", (e) => e.args.flags === 0 && e.ret === 0);
    expect(closed.args).toEqual({ first: 400, last: 401, flags: 0 });
    expect(tableAt(400)).toBeUndefined();
    expect(tableAt(401)).toBeUndefined();
    expect(event("close_range", (e) => e.ret < 0).ret).toBe(v.cr_bad);
  });

  it("perf_event_open, io_uring_setup, fanotify_init, memfd_secret, mq_open, fsopen, open_tree", () => {
    expect(fdOf("perf_event_open")).toMatchObject({ num: v.perf, type: "unknown", openFlags: O_CLOEXEC });
    expect(typechar(fdOf("perf_event_open"))).toBe("o");
    const uring = event("io_uring_setup");
    expect(uring.ret).toBe(v.uring);
    expect(uring.args).toMatchObject({
      entries: 4,
      sq_entries: v.uring_sq,
      cq_entries: v.uring_cq,
      features: v.uring_features,
    });
    expect(fdOf("io_uring_setup")).toMatchObject({ num: v.uring, type: "io_uring" });
    expect(typechar(fdOf("io_uring_setup"))).toBe("r");
    for (const [type, key] of [
      ["fanotify_init", "fanotify"],
      ["memfd_secret", "memfd_secret"],
      ["mq_open", "mq"],
      ["fsopen", "fsopen"],
      ["open_tree", "open_tree"],
    ] as const) {
      const e = event(type);
      expect(e.ret, type).toBe(v[key]);
      expect(e.ret, type).toBeGreaterThan(2);
      expect(fdOf(type), type).toMatchObject({ num: v[key], type: "unknown" });
    }
  });

  it("landlock_create_ruleset asking for the ABI version makes no descriptor", () => {
    const e = event("landlock_create_ruleset");
    expect(e.ret).toBe(v.landlock_version);
    expect(sys("landlock_create_ruleset")?.fd).toBeUndefined();
  });

  it("open_by_handle_at at a closed file's number names the opened file", () => {
    expect(v.n2h).toBe(0);
    expect(v.by_handle).toBe(v.stale_handle);
    const e = event("open_by_handle_at");
    expect(e.ret).toBe(v.by_handle);
    // The kernel read the path from the opened file's dentries (the caller gave only a handle).
    expect(e.args).toMatchObject({ mountfd: v.dir, flags: O_CLOEXEC, path: join(work, "handle-target") });
    expect(e.args.ino).toBeGreaterThan(0);
    expect(fdOf("open_by_handle_at")).toMatchObject({
      num: v.by_handle,
      type: "file",
      name: join(work, "handle-target"),
      ino: e.args.ino,
    });
    // On another mount (tmpfs at /dev/shm), unlinked before the agent could look in /proc.
    expect(v.n2h_shm).toBe(0);
    const shm = event("open_by_handle_at", (x) => x.ret === v.by_handle_shm);
    expect(shm.args.path).toBe(`/dev/shm/pg-k5-handle-${pidOf()}`);
    expect(fdOf("open_by_handle_at", (x) => x.ret === v.by_handle_shm)).toMatchObject({
      type: "file",
      name: `/dev/shm/pg-k5-handle-${pidOf()}`,
    });
  });

  it("a descriptor received with SCM_RIGHTS at a closed file's number is what was sent", () => {
    expect(v.received).toBe(v.stale_recv);
    const recv = event("recvmsg", (e) => e.ret >= 0);
    // Sent without a rule on recvmsg: it received a descriptor.
    expect(recv.args.fds).toEqual([v.received]);
    expect(tableAt(v.received as number)).toMatchObject({ type: "file", name: "/etc/hostname" });
    // The sendmsg itself was not wanted, and not sent.
    expect(sys("sendmsg")).toBeUndefined();
  });
});

describe.skipIf(skipReason !== undefined)(
  "closes of files and every fcntl, with rules on them (live)",
  () => {
    it("are sent", async () => {
      const work = mkdtempSync(join(tmpdir(), "pg-state-close-"));
      const seen: SensorEvent[] = [];
      const sensor = await startSensor({
        eventTypes: new Set(["openat", "close", "fcntl"]),
        onRecord: (rec) => {
          if (rec.kind !== "stats") seen.push(rec);
        },
      });
      try {
        const program = compileC(work, "closer", HELPER_C);
        const child = spawn(program, ["closes"], { stdio: ["ignore", "pipe", "inherit"] });
        let text = "";
        child.stdout.setEncoding("utf8").on("data", (t: string) => {
          text += t;
        });
        await new Promise((resolve) => child.once("close", resolve));
        const fd = values(text).closed;
        const pid = child.pid ?? -1;
        const close = await waitUntil(
          () =>
            seen.find(
              (e) => e.kind === "syscall" && e.evtType === "close" && e.tgid === pid && e.args.fd === fd,
            ),
          "the close of /etc/hostname",
        );
        expect(close).toMatchObject({ ret: 0 });
        // F_GETFL makes no descriptor: sent only because a rule can match fcntl.
        const getfl = await waitUntil(
          () => seen.find((e) => e.kind === "syscall" && e.evtType === "fcntl" && e.tgid === pid),
          "the fcntl(F_GETFL)",
        );
        expect(getfl).toMatchObject({ ret: values(text).getfl, args: { fd: 1, cmd: 3 } });
      } finally {
        await sensor.stop();
        rmSync(work, { recursive: true, force: true });
      }
    }, 30_000);
  },
);

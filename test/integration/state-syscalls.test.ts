/**
 * Live: the fd table over the syscalls that copy and drop descriptors and
 * make sockets (dup2, close, socket, bind, listen, connect, accept), across
 * fork and exec. A helper program does them in a fixed order and the test
 * checks what the enricher said on each event: the event's fd (the new one
 * for dup2/socket/accept, the old one for close) and the table afterwards.
 * Needs root, kernel BTF and the loader; skipped with the reason otherwise.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecodedRecord, SensorEvent, SyscallEvent } from "../../src/decode/events.js";
import type { Enricher } from "../../src/enrich/enricher.js";
import type { FdInfo } from "../../src/enrich/fd-info.js";
import { type Sensor, startSensor } from "../../src/sensor/loader-process.js";
import { compileC, liveSkipReason, seededEnricher, waitUntil } from "./live-support.js";

const skipReason = liveSkipReason();
if (skipReason) console.warn(`test/integration/state-syscalls.test.ts skipped: ${skipReason}`);

/*
 * Waits for a line on stdin, then opens /etc as a directory, dup2s it to 9, closes the original; makes a
 * TCP listener on 127.0.0.1 (ephemeral port), connects to it and accepts;
 * then forks, and the child execs this program in "child" mode, which opens
 * "hostname" relative to fd 9 (inherited through fork and exec).
 */
const HELPER_C = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[16];

	if (argc == 2 && strcmp(argv[1], "child") == 0) {
		int r = openat(9, "hostname", O_RDONLY);
		printf("child %d\n", r);
		return 0;
	}
	/* Wait until the test has seen this process (so what follows is newer than its first look). */
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	int a = open("/etc", O_RDONLY | O_DIRECTORY);
	int d = dup2(a, 9);
	close(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
	socklen_t len = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &len);
	listen(lfd, 4);
	int cfd = socket(AF_INET, SOCK_STREAM, 0);
	connect(cfd, (struct sockaddr *)&sa, sizeof(sa));
	struct sockaddr_in peer;
	len = sizeof(peer);
	int afd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	printf("fds %d %d %d %d %d sport %d cport %d\n", a, d, lfd, cfd, afd, ntohs(sa.sin_port), ntohs(peer.sin_port));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(argv[0], "sockstate", "child", (char *)0);
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
  readonly fd: FdInfo | undefined;
  /** For exec events: the process's descriptor numbers right after the exec. */
  readonly fdNums: number[];
}

describe.skipIf(skipReason !== undefined)("fd table over dup2, close and socket syscalls (live)", () => {
  let work: string;
  let helper: string;
  let sensor: Sensor;
  let enricher: Enricher;
  const seen: Seen[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-state-sys-"));
    helper = compileC(work, "sockstate", HELPER_C);
    enricher = seededEnricher();
    sensor = await startSensor({
      onRecord: (rec: DecodedRecord) => {
        if (rec.kind === "stats") return;
        const e = enricher.enrich(rec);
        seen.push({
          event: rec,
          fd: e.fd,
          fdNums: rec.kind === "exec" ? enricher.fds.list(rec.tgid).map((f) => f.num) : [],
        });
        enricher.afterRules(rec);
      },
    });
  }, 30_000);

  afterAll(async () => {
    await sensor?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("dup2 and close, then sockets, then fork and exec", async () => {
    const child = spawn(helper, [], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      out += t;
    });
    const pid = child.pid ?? -1;
    // A process the agent did not see being born (node's fork is not reported): its table is
    // read from /proc at its first fd event; go on once that happened.
    await waitUntil(() => (enricher.fds.list(pid).length > 0 ? true : undefined), "the helper's table");
    child.stdin.write("go\n");
    const done = await waitUntil(() => /done (\d+)/.exec(out) ?? undefined, "the helper to finish");
    const childPid = Number(done[1]);
    const m = /fds (\d+) (\d+) (\d+) (\d+) (\d+) sport (\d+) cport (\d+)/.exec(out);
    expect(m).not.toBeNull();
    const [a, , lfd, cfd, afd, sport, cport] = (m ?? []).slice(1).map(Number) as number[];
    // libuv's child also dup2s (its stdio, before the exec): match on the arguments.
    const sys = (type: SyscallEvent["evtType"], match: (e: SyscallEvent) => boolean) =>
      waitUntil(
        () =>
          seen.find(
            (s) =>
              s.event.kind === "syscall" &&
              s.event.evtType === type &&
              s.event.tgid === pid &&
              match(s.event),
          ),
        `${type} of ${pid}`,
      );

    const dup2 = await sys("dup2", (e) => e.args.newfd === 9);
    expect(dup2.fd).toMatchObject({ num: 9, type: "directory", name: "/etc" });
    // The close of the original right after (the loader's earlier close(3)s come before the dup2).
    const close = seen
      .slice(seen.indexOf(dup2))
      .find(
        (s) =>
          s.event.kind === "syscall" &&
          s.event.evtType === "close" &&
          s.event.tgid === pid &&
          s.event.args.fd === a,
      );
    expect(close?.fd).toMatchObject({ num: a, name: "/etc" }); // as it was, before the close
    expect((await sys("listen", (e) => e.args.fd === lfd)).fd).toMatchObject({
      num: lfd,
      type: "ipv4",
      l4proto: "tcp",
      localPort: sport,
    });
    const name = `127.0.0.1:${cport}->127.0.0.1:${sport}`;
    const connect = await waitUntil(
      () => seen.find((s) => s.event.kind === "connect" && s.event.tgid === pid),
      "the connect",
    );
    expect(connect.fd).toMatchObject({ num: cfd, role: "client", connected: true, name });
    expect((await sys("accept4", (e) => e.ret === afd)).fd).toMatchObject({
      num: afd,
      role: "server",
      connected: true,
      name,
    });

    // Through fork and exec: 9 is still /etc, so the child's openat(9, "hostname") names /etc/hostname.
    const open = await waitUntil(
      () =>
        seen.find((s) => s.event.kind === "open" && s.event.tgid === childPid && s.event.path === "hostname"),
      "the child's openat",
    );
    expect(open.fd).toMatchObject({ type: "file", name: "/etc/hostname" });
    // The accepted socket was close-on-exec (SOCK_CLOEXEC): gone in the child after exec; the others stay.
    const exec = await waitUntil(
      () => seen.find((s) => s.event.kind === "exec" && s.event.tgid === childPid),
      "the child's exec",
    );
    expect(exec.fdNums).toEqual(expect.arrayContaining([9, lfd, cfd]));
    expect(exec.fdNums).not.toContain(afd);
    // (a was closed, and the listener's socket() took its number.)
    expect(lfd).toBe(a);
  });
});

/**
 * Live: AF_UNIX sockets carry their paths. A helper program (built here
 * with cc) binds, listens, connects, accepts, sends and receives on unix
 * sockets with filesystem paths and an abstract name; the test checks the
 * decoded records (the connect destination, the paths the kernel holds for
 * both ends of the socket, the sockaddr arguments) and what the fd table
 * makes of them through the Enricher (fd.name is the path, "@name" for an
 * abstract socket, as Falco shows it). Needs root, kernel BTF, `make -C bpf`
 * and cc; skipped with the reason otherwise.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnectEvent, DecodedRecord, SensorEvent, SyscallEvent } from "../../src/decode/events.js";
import type { Enricher } from "../../src/enrich/enricher.js";
import type { FdInfo } from "../../src/enrich/fd-info.js";
import { type Sensor, startSensor } from "../../src/sensor/loader-process.js";
import { compileC, liveCSkipReason, seededEnricher, waitUntil } from "./live-support.js";

const skipReason = liveCSkipReason();
if (skipReason) console.warn(`test/integration/sensor-unix.test.ts skipped: ${skipReason}`);

/*
 * argv[1]: a directory for the socket files; argv[2]: the abstract name.
 * Waits for a line on stdin (so the test has seen the process first), then:
 * a stream listener on DIR/srv.sock; an unbound client connects, accept();
 * a client bound to DIR/cli.sock connects, accept4(), and sends on the
 * connected socket; an abstract listener "\0NAME", a client connects,
 * accept4(); a datagram socket on DIR/dgram.sock gets a sendto() and a
 * sendmsg() from an unbound one, and a recvfrom().
 */
const HELPER_C = String.raw`
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static socklen_t path_addr(struct sockaddr_un *sun, const char *dir, const char *name)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", dir, name);
	return sizeof(*sun);
}

int main(int argc, char **argv)
{
	struct sockaddr_un srv, cli, abs, dg, from;
	socklen_t abs_len, from_len;
	char line[16], buf[8] = "ping";
	struct iovec iov = { buf, 4 };
	struct msghdr msg = { 0 };

	if (argc != 3 || !fgets(line, sizeof(line), stdin))
		return 2;
	path_addr(&srv, argv[1], "srv.sock");
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(ls, (struct sockaddr *)&srv, sizeof(srv));
	listen(ls, 4);
	int c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c1, (struct sockaddr *)&srv, sizeof(srv));
	from_len = sizeof(from);
	int a1 = accept(ls, (struct sockaddr *)&from, &from_len);

	path_addr(&cli, argv[1], "cli.sock");
	int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(c2, (struct sockaddr *)&cli, sizeof(cli));
	connect(c2, (struct sockaddr *)&srv, sizeof(srv));
	int a2 = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	sendto(c2, buf, 4, 0, NULL, 0);

	memset(&abs, 0, sizeof(abs));
	abs.sun_family = AF_UNIX;
	memcpy(abs.sun_path + 1, argv[2], strlen(argv[2]));
	abs_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(argv[2]);
	int as = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(as, (struct sockaddr *)&abs, abs_len);
	listen(as, 1);
	int ac = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(ac, (struct sockaddr *)&abs, abs_len);
	int aa = accept4(as, NULL, NULL, 0);

	path_addr(&dg, argv[1], "dgram.sock");
	int ds = socket(AF_UNIX, SOCK_DGRAM, 0);
	bind(ds, (struct sockaddr *)&dg, sizeof(dg));
	int dc = socket(AF_UNIX, SOCK_DGRAM, 0);
	sendto(dc, buf, 4, 0, (struct sockaddr *)&dg, sizeof(dg));
	msg.msg_name = &dg;
	msg.msg_namelen = sizeof(dg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	sendmsg(dc, &msg, 0);
	from_len = sizeof(from);
	recvfrom(ds, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len);

	printf("ls=%d c1=%d a1=%d c2=%d a2=%d as=%d ac=%d aa=%d ds=%d dc=%d\n", ls, c1, a1, c2, a2, as, ac,
	       aa, ds, dc);
	fflush(stdout);
	return 0;
}
`;

interface Seen {
  readonly event: SensorEvent;
  readonly fd: FdInfo | undefined;
}

describe.skipIf(skipReason !== undefined)("sensor: unix socket paths (live)", () => {
  let work: string;
  let helper: string;
  let sensor: Sensor;
  let enricher: Enricher;
  const seen: Seen[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-sensor-unix-"));
    helper = compileC(work, "unixsock", HELPER_C);
    enricher = seededEnricher();
    sensor = await startSensor({
      onRecord: (rec: DecodedRecord) => {
        if (rec.kind === "stats") return;
        const e = enricher.enrich(rec);
        seen.push({ event: rec, fd: e.fd });
        enricher.afterRules(rec);
      },
    });
  }, 30_000);

  afterAll(async () => {
    await sensor?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("connect, accept, accept4, bind, sendto, sendmsg: paths decoded and in fd.name", async () => {
    const abstractName = `pg-abstract-${process.pid}`;
    const child = spawn(helper, [work, abstractName], { stdio: ["pipe", "pipe", "inherit"] });
    const closed = new Promise((resolve) => child.once("close", resolve));
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      out += t;
    });
    const pid = child.pid ?? -1;
    // Seen before it starts (its exec's opens), so what follows is newer than its /proc look.
    await waitUntil(
      () => seen.find((s) => s.event.tgid === pid && s.event.kind === "exec"),
      "the helper's exec",
    );
    child.stdin.write("go\n");
    const line = await waitUntil(() => /ls=.*\n/.exec(out)?.[0], "the helper's fds");
    const fds: Record<string, number> = {};
    for (const kv of line.trim().split(" ")) {
      const [k, v] = kv.split("=");
      if (k !== undefined && v !== undefined) fds[k] = Number(v);
    }
    const srv = join(work, "srv.sock");
    const cli = join(work, "cli.sock");
    const dgram = join(work, "dgram.sock");
    const abs = `@${abstractName}`;

    const sys = (type: SyscallEvent["evtType"], match: (e: SyscallEvent) => boolean) =>
      waitUntil(
        () =>
          seen.find(
            (s): s is Seen & { event: SyscallEvent } =>
              s.event.kind === "syscall" &&
              s.event.evtType === type &&
              s.event.tgid === pid &&
              match(s.event),
          ),
        `${type} of ${pid}`,
      );
    const connectOf = (fd: number | undefined) =>
      waitUntil(
        () =>
          seen.find(
            (s): s is Seen & { event: ConnectEvent } =>
              s.event.kind === "connect" && s.event.tgid === pid && s.event.fd === fd,
          ),
        `connect of fd ${fd}`,
      );

    // bind: the path from the sockaddr, and the kernel's copy of it in the tuple.
    const bind = await sys("bind", (e) => e.args.fd === fds.ls);
    expect(bind.event).toMatchObject({
      ret: 0,
      args: { addr: { family: 1, path: srv } },
      tuple: { family: 1, sockType: 1, localAddr: srv, remoteAddr: "" },
    });
    expect(bind.fd).toMatchObject({ num: fds.ls, type: "unix", name: srv });

    // An unbound client: connect names the destination; accept's own end is the listener's path.
    const c1 = await connectOf(fds.c1);
    expect(c1.event).toMatchObject({ ret: 0, family: 1, daddr: srv, sockType: 1 });
    expect(c1.fd).toMatchObject({ num: fds.c1, type: "unix", name: srv, role: "client", connected: true });
    const a1 = await sys("accept", (e) => e.ret === fds.a1);
    expect(a1.event.tuple).toMatchObject({ family: 1, localAddr: srv, remoteAddr: "" });
    expect(a1.fd).toMatchObject({ num: fds.a1, type: "unix", name: srv, role: "server", connected: true });

    // A client bound to its own path: the accepted socket's peer is that path.
    const a2 = await sys("accept4", (e) => e.ret === fds.a2);
    expect(a2.event.tuple).toMatchObject({ family: 1, localAddr: srv, remoteAddr: cli });
    expect(a2.fd).toMatchObject({ num: fds.a2, name: srv });
    // send on the connected client: both ends from the socket (its peer holds the listener's path).
    const send = await sys("sendto", (e) => e.args.fd === fds.c2);
    expect(send.event.tuple).toMatchObject({ family: 1, localAddr: cli, remoteAddr: srv });
    expect(send.fd).toMatchObject({ num: fds.c2, name: srv });

    // Abstract names: a leading NUL, shown with "@".
    const absBind = await sys("bind", (e) => e.args.fd === fds.as);
    expect(absBind.event).toMatchObject({ args: { addr: { path: abs } }, tuple: { localAddr: abs } });
    const ac = await connectOf(fds.ac);
    expect(ac.event).toMatchObject({ ret: 0, family: 1, daddr: abs });
    expect(ac.fd).toMatchObject({ num: fds.ac, type: "unix", name: abs });
    const aa = await sys("accept4", (e) => e.ret === fds.aa);
    expect(aa.event.tuple).toMatchObject({ localAddr: abs, remoteAddr: "" });
    expect(aa.fd).toMatchObject({ num: fds.aa, type: "unix", name: abs });

    // Datagrams from an unbound socket: the destination is in the sockaddr argument.
    const dsend = await sys("sendto", (e) => e.args.fd === fds.dc);
    expect(dsend.event).toMatchObject({
      args: { addr: { family: 1, path: dgram } },
      tuple: { family: 1, sockType: 2, localAddr: "", remoteAddr: "" },
    });
    // The fd table leaves an unconnected unix datagram socket unnamed (src/enrich/enricher.ts).
    expect(dsend.fd).toMatchObject({ num: fds.dc, type: "unix" });
    const dmsg = await sys("sendmsg", (e) => e.args.fd === fds.dc);
    expect(dmsg.event.args.addr).toMatchObject({ family: 1, path: dgram });
    const recv = await sys("recvfrom", (e) => e.args.fd === fds.ds);
    expect(recv.event.tuple).toMatchObject({ family: 1, localAddr: dgram });
    expect(recv.fd).toMatchObject({ num: fds.ds, name: dgram });
    expect(await closed).toBe(0);
  }, 30_000);
});

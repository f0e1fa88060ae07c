/**
 * What the tables learn from /proc: the socket tables, fdinfo, mountinfo
 * parsers on text laid out as the kernel writes it, then the live reader on
 * real descriptors of this process, a real overlay mount and a real
 * memfd-executed process.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcSocket } from "../../src/enrich/proc-net.js";
import { parseInetTable, parseUnixTable } from "../../src/enrich/proc-net.js";
import { isInUpperLayer, mountOf, parseMountInfo, procBootTimeNs } from "../../src/enrich/proc-reader.js";
import { LiveProcSource, parseFdInfo } from "../../src/enrich/proc-source.js";

describe("/proc/net parsers", () => {
  it("reads tcp: addresses in host order, ports in hex, LISTEN vs ESTABLISHED", () => {
    const text = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1573 1 0 100 0 0 10 0",
      "   1: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1574 1 0 20 4 30 10 -1",
    ].join("\n");
    const m = new Map<number, ProcSocket>();
    parseInetTable(text, false, "tcp", m);
    expect(m.get(1573)).toMatchObject({
      localAddr: "127.0.0.1",
      localPort: 8080,
      listening: true,
      connected: false,
    });
    expect(m.get(1574)).toMatchObject({
      localPort: 40000,
      remoteAddr: "127.0.0.1",
      remotePort: 8080,
      connected: true,
      listening: false,
      type: "ipv4",
    });
  });

  it("reads tcp6: four host-order words, RFC 5952 text", () => {
    const text = [
      "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0",
      "   1: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 98 1 0",
    ].join("\n");
    const m = new Map<number, ProcSocket>();
    parseInetTable(text, true, "tcp", m);
    expect(m.get(99)?.localAddr).toBe("::1");
    expect(m.get(98)?.localAddr).toBe("::ffff:127.0.0.1");
  });

  it("reads unix: path, listening flag, connected state", () => {
    const text = [
      "Num       RefCount Protocol Flags    Type St Inode Path",
      "0000000000000000: 00000002 00000000 00010000 0001 01 2001 /run/docker.sock",
      "0000000000000000: 00000003 00000000 00000000 0001 03 2002",
      "0000000000000000: 00000003 00000000 00000000 0001 03 2003 @abstract name",
    ].join("\n");
    const m = new Map<number, ProcSocket>();
    parseUnixTable(text, m);
    expect(m.get(2001)).toMatchObject({
      type: "unix",
      path: "/run/docker.sock",
      listening: true,
      connected: false,
    });
    expect(m.get(2002)).toMatchObject({ path: "", connected: true });
    expect(m.get(2003)?.path).toBe("@abstract name");
  });

  it("reads fdinfo flags (octal) and inode", () => {
    expect(parseFdInfo("pos:\t0\nflags:\t02100002\nmnt_id:\t24\nino:\t77\n")).toEqual({
      flags: 0o2100002,
      ino: 77,
    });
  });
});

describe("mountinfo and the overlay upper layer", () => {
  const info = [
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
    "300 22 0:50 / /var/lib/docker/overlay2/abc/merged rw,relatime - overlay overlay rw,lowerdir=/l1:/l2,upperdir=/var/lib/docker/overlay2/abc/diff,workdir=/w",
    "301 22 0:51 / /mnt/with\\040space rw - tmpfs tmpfs rw",
  ].join("\n");

  it("parses mount points, types, upperdir and octal escapes", () => {
    const mounts = parseMountInfo(info);
    expect(mounts).toHaveLength(3);
    expect(mounts[1]).toEqual({
      mountPoint: "/var/lib/docker/overlay2/abc/merged",
      fsType: "overlay",
      upperDir: "/var/lib/docker/overlay2/abc/diff",
    });
    expect(mounts[2]?.mountPoint).toBe("/mnt/with space");
    expect(mountOf(mounts, "/var/lib/docker/overlay2/abc/merged/bin/sh")?.fsType).toBe("overlay");
    expect(mountOf(mounts, "/var/lib/docker/overlay2/abc/mergedX")?.fsType).toBe("ext4");
  });
});

const root = process.getuid?.() === 0;
const skipLive = root ? undefined : "needs root (mount, reading other processes' /proc)";
if (skipLive) console.warn(`test/enrich/proc-source.test.ts (live) skipped: ${skipLive}`);

describe.skipIf(skipLive !== undefined)("LiveProcSource on real descriptors and processes", () => {
  const source = new LiveProcSource({ bootTimeNs: procBootTimeNs() });
  const work = mkdtempSync(join(tmpdir(), "peregrine-procsrc-"));
  const children: ChildProcess[] = [];
  let server: Server;
  let client: Socket;
  let accepted: Socket;
  let overlayMounted = false;

  beforeAll(async () => {
    accepted = await new Promise<Socket>((resolve) => {
      server = createServer(resolve);
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as { port: number }).port;
        client = connect(port, "127.0.0.1");
      });
    });
  });

  afterAll(() => {
    for (const c of children) c.kill("SIGKILL");
    client?.destroy();
    accepted?.destroy();
    server?.close();
    if (overlayMounted) {
      try {
        execFileSync("umount", ["-l", join(work, "merged")]);
      } catch {
        // already gone
      }
    }
    rmSync(work, { recursive: true, force: true });
  });

  /** libuv's fd of a net handle (Linux): the same number /proc/<pid>/fd lists. */
  function fdOf(s: Socket | Server): number {
    return (s as unknown as { _handle: { fd: number } })._handle.fd;
  }

  it("describes an open file with its flags and inode", () => {
    const path = join(work, "data.txt");
    writeFileSync(path, "x");
    const fd = openSync(path, "r");
    try {
      const info = source.readFd(process.pid, fd);
      expect(info).toMatchObject({ num: fd, type: "file", name: path, ino: statSync(path).ino });
      expect((info?.openFlags ?? 0) & 0o3).toBe(0); // O_RDONLY
      expect(source.listFds(process.pid)?.nums).toContain(fd);
    } finally {
      closeSync(fd);
    }
    expect(source.readFd(process.pid, fd)).toBeUndefined();
  });

  it("resolves TCP sockets through /proc/net: listening, client and server ends", () => {
    const sport = (server.address() as { port: number }).port;
    const cport = client.localPort ?? 0;
    expect(source.readFd(process.pid, fdOf(server))).toMatchObject({
      type: "ipv4",
      l4proto: "tcp",
      localPort: sport,
      connected: false,
      role: "",
    });
    expect(source.readFd(process.pid, fdOf(client))).toMatchObject({
      type: "ipv4",
      role: "client",
      connected: true,
      name: `127.0.0.1:${cport}->127.0.0.1:${sport}`,
    });
    expect(source.readFd(process.pid, fdOf(accepted))).toMatchObject({
      role: "server",
      connected: true,
      name: `127.0.0.1:${cport}->127.0.0.1:${sport}`,
    });
  });

  it("tells a thread id from a process id", () => {
    expect(source.tgidOf(process.pid)).toBe(process.pid);
    expect(source.tgidOf(2 ** 22 + 12345)).toBeUndefined();
  });

  it("knows an executable in an overlay's upper layer from one in a lower layer", async () => {
    for (const d of ["lower", "upper", "work", "merged"]) mkdirSync(join(work, d));
    copyFileSync("/bin/sleep", join(work, "lower", "lower-sleep"));
    execFileSync("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${join(work, "lower")},upperdir=${join(work, "upper")},workdir=${join(work, "work")}`,
      join(work, "merged"),
    ]);
    overlayMounted = true;
    // Written through the overlay: it lands in the upper layer, as a file dropped into a running container does.
    copyFileSync("/bin/sleep", join(work, "merged", "upper-sleep"));
    const start = async (name: string): Promise<number> => {
      const child = spawn(join(work, "merged", name), ["30"], { stdio: "ignore" });
      children.push(child);
      await new Promise((r) => child.once("spawn", r));
      return child.pid ?? -1;
    };
    const lowerPid = await start("lower-sleep");
    const upperPid = await start("upper-sleep");
    const lower = source.readProcess(lowerPid);
    const upper = source.readProcess(upperPid);
    expect(lower?.exePath).toBe(join(work, "merged", "lower-sleep"));
    expect(lower?.exeUpperLayer).toBe(false);
    expect(upper?.exeUpperLayer).toBe(true);
    expect(upper?.exeIno).toBe(statSync(join(work, "merged", "upper-sleep")).ino);
    expect(upper?.exeFromMemfd).toBe(false);
    expect(isInUpperLayer(parseMountInfo("1 0 0:1 / / rw - ext4 x rw"), "/bin/sleep")).toBe(false);
  });

  it("knows a process executed from a memfd (fileless)", async () => {
    const src = join(work, "memfd-exec.c");
    writeFileSync(
      src,
      `#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
  int in = open("/bin/sleep", O_RDONLY);
  struct stat st;
  fstat(in, &st);
  int fd = memfd_create("payload", 0);
  off_t off = 0;
  sendfile(fd, in, &off, st.st_size);
  char *argv[] = {"payload", "30", 0};
  char *envp[] = {0};
  fexecve(fd, argv, envp);
  return 1;
}
`,
    );
    execFileSync("cc", ["-O1", "-o", join(work, "memfd-exec"), src]);
    const child = spawn(join(work, "memfd-exec"), [], { stdio: "ignore" });
    children.push(child);
    const pid = child.pid ?? -1;
    // Wait for the fexecve: the comm changes to the memfd's name.
    let info = source.readProcess(pid);
    for (let i = 0; i < 100 && !info?.exeFromMemfd; i++) {
      await new Promise((r) => setTimeout(r, 20));
      info = source.readProcess(pid);
    }
    expect(info?.exeFromMemfd).toBe(true);
    expect(info?.exePath.startsWith("/memfd:payload")).toBe(true);
    expect(info?.exeUpperLayer).toBe(false);
    expect(info?.exeIno).toBeGreaterThan(0);
  });
});

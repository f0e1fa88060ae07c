/**
 * Container ids from cgroup paths: pure parsing for every runtime layout,
 * then the same layouts on real cgroups this test creates, with a real
 * process moved into each, read back through the process table.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ContainerRegistry,
  containerFromCgroupFile,
  containerFromCgroupPath,
  shortContainerId,
} from "../../src/enrich/container.js";
import { LiveProcSource } from "../../src/enrich/proc-source.js";
import { HOST_CONTAINER } from "../../src/enrich/process-info.js";
import { ProcessTable } from "../../src/enrich/process-table.js";

const ID = "3f0a9c1e5b7d2468ace013579bdf2468ace013579bdf2468ace013579bdf2468";
const POD = "6c2b8d3e-1f4a-4b5c-9d8e-7f6a5b4c3d2e";
const POD_US = POD.replaceAll("-", "_");

describe("containerFromCgroupPath", () => {
  const cases: [string, string, string | undefined, string][] = [
    ["docker, systemd driver", `/system.slice/docker-${ID}.scope`, "docker", ""],
    ["docker, cgroupfs driver", `/docker/${ID}`, "docker", ""],
    ["containerd (CRI), systemd slice", `/system.slice/cri-containerd-${ID}.scope`, "containerd", ""],
    [
      "kubepods, systemd driver, containerd",
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_US}.slice/cri-containerd-${ID}.scope`,
      "containerd",
      POD,
    ],
    [
      "kubepods, systemd driver, guaranteed QoS, CRI-O",
      `/kubepods.slice/kubepods-pod${POD_US}.slice/crio-${ID}.scope`,
      "cri-o",
      POD,
    ],
    ["kubepods, cgroupfs driver, bare id", `/kubepods/besteffort/pod${POD}/${ID}`, "", POD],
    ["kubepods, cgroupfs driver, CRI-O", `/kubepods/burstable/pod${POD}/crio-${ID}`, "cri-o", POD],
    [
      "containerd, systemd driver outside a slice",
      `/system.slice/containerd.service/kubepods-burstable-pod${POD_US}.slice:cri-containerd:${ID}`,
      "containerd",
      POD,
    ],
    ["CRI-O scope", `/machine.slice/crio-${ID}.scope`, "cri-o", ""],
    ["podman", `/machine.slice/libpod-${ID}.scope`, "podman", ""],
    ["podman, nested container cgroup", `/machine.slice/libpod-${ID}.scope/container`, "podman", ""],
    ["podman cgroupfs", `/libpod_parent/libpod-${ID}`, "podman", ""],
  ];
  for (const [what, path, runtime, podUid] of cases) {
    it(what, () => {
      expect(containerFromCgroupPath(path)).toEqual({ fullId: ID, runtime, podUid });
    });
  }

  it("answers undefined for host paths and look-alikes", () => {
    for (const path of [
      "/",
      "/user.slice/user-1000.slice/session-2.scope",
      "/system.slice/docker.service",
      `/system.slice/crio-conmon-${ID}.scope`,
      "/process_api/8eb4e089628b405a37bab088f1a28edc",
      `/docker-${ID.slice(1)}.scope`, // 63 hex
      `/${ID}`, // a bare id outside /docker and /kubepods
    ]) {
      expect(containerFromCgroupPath(path), path).toBeUndefined();
    }
  });

  it("reads a whole cgroup file, v2 line first, v1 lines as a fallback", () => {
    const hybridV1 = `4:memory:/docker/${ID}\n1:name=systemd:/docker/${ID}\n0::/\n`;
    expect(containerFromCgroupFile(hybridV1)?.fullId).toBe(ID);
    const other = "b".repeat(64);
    const both = `4:memory:/docker/${other}\n0::/system.slice/docker-${ID}.scope\n`;
    expect(containerFromCgroupFile(both)?.fullId).toBe(ID);
    expect(containerFromCgroupFile("0::/init.scope\n")).toBeUndefined();
  });

  it("shortens 64-hex ids to 12 characters, like Falco", () => {
    expect(shortContainerId(ID)).toBe("3f0a9c1e5b7d");
    expect(shortContainerId("abc")).toBe("abc");
  });
});

describe("ContainerRegistry", () => {
  it("hands out one shared object per container, with the pod UID", () => {
    const reg = new ContainerRegistry();
    const a = reg.intern({ fullId: ID, runtime: "containerd", podUid: POD });
    const b = reg.intern({ fullId: ID, runtime: "containerd", podUid: POD });
    expect(a).toBe(b);
    expect(a).toMatchObject({ id: "3f0a9c1e5b7d", fullId: ID, runtime: "containerd" });
    expect(a.k8s?.podUid).toBe(POD);
    expect(reg.intern(undefined)).toBe(HOST_CONTAINER);
    expect(reg.internInfo({ ...a })).toBe(a);
    expect(reg.internInfo({ ...HOST_CONTAINER })).toBe(HOST_CONTAINER);
  });

  it("stays within its bound", () => {
    const reg = new ContainerRegistry(2);
    for (const c of ["a", "b", "c"]) reg.intern({ fullId: c.repeat(64), runtime: "docker", podUid: "" });
    expect(reg.size).toBe(2);
  });
});

/** cgroup v2 root: the unified hierarchy of a hybrid host, or /sys/fs/cgroup itself. */
function cgroup2Root(): string | undefined {
  for (const root of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    if (existsSync(join(root, "cgroup.procs")) && existsSync(join(root, "cgroup.controllers"))) return root;
  }
  return undefined;
}

const root = cgroup2Root();
const canWrite = root !== undefined && process.getuid?.() === 0;
const skipReason = canWrite ? undefined : "needs root and a cgroup v2 hierarchy to create cgroups in";
if (skipReason) console.warn(`test/enrich/container.test.ts (real cgroups) skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("container id of a real process in a real cgroup", () => {
  const base = join(root ?? "/nonexistent", `peregrine-test-${process.pid}`);
  const created: string[] = [];
  const children: ChildProcess[] = [];

  afterAll(() => {
    for (const child of children) child.kill("SIGKILL");
    // Processes must leave a cgroup before it can be removed: move them back to the root.
    for (const dir of [...created].reverse()) {
      try {
        for (const pid of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
          writeFileSync(join(root ?? "", "cgroup.procs"), pid);
        }
        rmdirSync(dir);
      } catch {
        // already gone
      }
    }
  });

  function makeCgroup(rel: string): string {
    const parts = rel.split("/").filter(Boolean);
    let dir = base;
    for (const part of ["", ...parts]) {
      dir = part === "" ? dir : join(dir, part);
      if (!existsSync(dir)) {
        mkdirSync(dir);
        created.push(dir);
      }
    }
    return dir;
  }

  async function startIn(dir: string): Promise<number> {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", reject);
    });
    const pid = child.pid ?? -1;
    writeFileSync(join(dir, "cgroup.procs"), String(pid));
    return pid;
  }

  const layouts: [string, string, string, string][] = [
    ["docker (systemd)", `system.slice/docker-${ID}.scope`, "docker", ""],
    ["docker (cgroupfs)", `docker/${ID}`, "docker", ""],
    ["containerd (CRI)", `system.slice/cri-containerd-${ID}.scope`, "containerd", ""],
    ["CRI-O", `machine.slice/crio-${ID}.scope`, "cri-o", ""],
    ["podman", `machine.slice/libpod-${ID}.scope`, "podman", ""],
    [
      "kubepods (systemd driver)",
      `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_US}.slice/cri-containerd-${ID}.scope`,
      "containerd",
      POD,
    ],
    ["kubepods (cgroupfs driver)", `kubepods/burstable/pod${POD}/${ID}`, "", POD],
  ];

  for (const [what, rel, runtime, podUid] of layouts) {
    it(what, async () => {
      const pid = await startIn(makeCgroup(rel));
      // A fresh table reads the process from /proc on first sight, as for any process older than the agent.
      const table = new ProcessTable({ bootTimeNs: 0n });
      const info = table.get(pid);
      expect(info?.container.id).toBe("3f0a9c1e5b7d");
      expect(info?.container.fullId).toBe(ID);
      expect(info?.container.runtime).toBe(runtime);
      expect(info?.container.k8s?.podUid ?? "").toBe(podUid);
      // Seeding sees it too, and two processes of one container share one object.
      const second = await startIn(makeCgroup(rel));
      const seeded = new ProcessTable({ bootTimeNs: 0n });
      seeded.seedFromProc();
      expect(seeded.get(pid)?.container).toBe(seeded.get(second)?.container);
      expect(seeded.get(process.pid)?.container).toBe(HOST_CONTAINER);
    });
  }

  it("names the container of an exec record by its cgroup id, after the process is gone", () => {
    const rel = `system.slice/docker-${ID}.scope`;
    const dir = makeCgroup(rel);
    const id = statSync(dir, { bigint: true }).ino;
    const source = new LiveProcSource({ bootTimeNs: 0n });
    expect(source.cgroupPath(id)).toBe(`/peregrine-test-${process.pid}/${rel}`);
    expect(source.cgroupPath(0n)).toBeUndefined();
    const table = new ProcessTable({ bootTimeNs: 0n, source });
    // A pid that no longer exists: only the record's cgroup id can say where it ran.
    const info = table.onExec({
      kind: "exec",
      evtType: "execve",
      recordFlags: 0,
      tsNs: 1n,
      tgid: 4_000_000,
      tid: 4_000_000,
      ppid: 1,
      uid: 0,
      gid: 0,
      euid: 0,
      egid: 0,
      loginuid: 0,
      cgroupId: id,
      startNs: 1n,
      comm: "gone",
      filename: "/bin/true",
      argv: ["true"],
    });
    expect(info.container).toMatchObject({ id: "3f0a9c1e5b7d", runtime: "docker" });
    expect(table.containerMisses).toBe(0);
  });
});

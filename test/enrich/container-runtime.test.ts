/**
 * Runtime lookups against fake Docker and CRI-O API servers on unix sockets
 * (no runtime runs on the development machine): the shared ContainerInfo is
 * filled in place, failures are counted and leave the id-only object alone.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContainerRegistry } from "../../src/enrich/container.js";
import {
  k8sFromLabels,
  parseCrioInspect,
  parseDockerInspect,
  RuntimeLookup,
} from "../../src/enrich/container-runtime.js";

const DOCKER_ID = "a".repeat(64);
const CRIO_ID = "b".repeat(64);
const POD = "6c2b8d3e-1f4a-4b5c-9d8e-7f6a5b4c3d2e";

describe("runtime answers", () => {
  it("parses Docker's inspect and CRI-O's info, and the kubelet's labels", () => {
    expect(
      parseDockerInspect({ Name: "/web", Config: { Image: "nginx:1.27", Labels: { a: "b", n: 1 } } }),
    ).toEqual({
      name: "web",
      image: "nginx:1.27",
      labels: new Map([["a", "b"]]),
    });
    expect(parseCrioInspect({ name: "k8s_app", image: "quay.io/x/app:2", labels: {} })?.image).toBe(
      "quay.io/x/app:2",
    );
    expect(parseDockerInspect("nope")).toBeUndefined();
    expect(parseDockerInspect({ Name: "/p", HostConfig: { Privileged: false }, Mounts: [] })).toMatchObject({
      privileged: false,
      mounts: [],
    });
    expect(parseDockerInspect({ Name: "/p", HostConfig: { Privileged: "yes" } })?.privileged).toBeUndefined();
    const k8s = k8sFromLabels(
      new Map([
        ["io.kubernetes.pod.name", "api-7d9f"],
        ["io.kubernetes.pod.namespace", "prod"],
        ["io.kubernetes.container.name", "api"],
      ]),
      POD,
    );
    expect(k8s).toMatchObject({ podUid: POD, podName: "api-7d9f", namespace: "prod", containerName: "api" });
    expect(k8sFromLabels(new Map(), "")).toBeUndefined();
  });
});

describe("RuntimeLookup over unix sockets", () => {
  let dir: string;
  let docker: Server;
  let crio: Server;
  const requests: string[] = [];

  function listen(server: Server, path: string): Promise<void> {
    return new Promise((resolve) => server.listen(path, resolve));
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pg-runtime-"));
    docker = createServer((req, res) => {
      requests.push(`docker ${req.url}`);
      if (req.url === `/containers/${DOCKER_ID}/json`) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            Name: "/api",
            Config: {
              Image: "registry.example/api:3.1",
              Labels: { "io.kubernetes.pod.name": "api-0", "io.kubernetes.pod.namespace": "prod" },
            },
            HostConfig: { Privileged: true },
            Mounts: [
              {
                Type: "bind",
                Source: "/var/run/docker.sock",
                Destination: "/var/run/docker.sock",
                Mode: "",
                RW: true,
                Propagation: "rprivate",
              },
              {
                Type: "volume",
                Source: "/var/lib/docker/volumes/x/_data",
                Destination: "/data",
                Mode: "z",
                RW: false,
                Propagation: "",
              },
              { Type: "tmpfs", Destination: "" },
            ],
          }),
        );
      } else {
        res.writeHead(404);
        res.end("{}");
      }
    });
    crio = createServer((req, res) => {
      requests.push(`crio ${req.url}`);
      res.writeHead(200);
      res.end(JSON.stringify({ name: "k8s_db", image: "postgres:16", labels: { tier: "db" } }));
    });
    await listen(docker, join(dir, "docker.sock"));
    await listen(crio, join(dir, "crio.sock"));
  });

  afterAll(() => {
    docker.close();
    crio.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("fills the shared container object in the background, once per container", async () => {
    const lookup = new RuntimeLookup({
      endpoints: [
        { api: "docker", socketPath: join(dir, "docker.sock") },
        { api: "cri-o", socketPath: join(dir, "crio.sock") },
      ],
    });
    expect(lookup.available).toBe(true);
    const registry = new ContainerRegistry(16, (c) => lookup.lookup(c));
    const api = registry.intern({ fullId: DOCKER_ID, runtime: "docker", podUid: POD });
    const again = registry.intern({ fullId: DOCKER_ID, runtime: "docker", podUid: POD });
    const db = registry.intern({ fullId: CRIO_ID, runtime: "cri-o", podUid: "" });
    expect(api.name).toBe(""); // not yet: the pipeline never waits for the runtime
    await lookup.whenIdle();
    expect(again).toBe(api);
    expect(api).toMatchObject({ id: "aaaaaaaaaaaa", name: "api", image: "registry.example/api:3.1" });
    expect(api.k8s).toMatchObject({ podUid: POD, podName: "api-0", namespace: "prod" });
    expect(api.privileged).toBe(true);
    expect(api.mounts).toEqual([
      {
        source: "/var/run/docker.sock",
        dest: "/var/run/docker.sock",
        mode: "",
        rw: true,
        propagation: "rprivate",
      },
      { source: "/var/lib/docker/volumes/x/_data", dest: "/data", mode: "z", rw: false, propagation: "" },
    ]);
    expect(db).toMatchObject({ name: "k8s_db", image: "postgres:16" });
    // CRI-O's info endpoint says neither: they stay unknown rather than false.
    expect(db.privileged).toBeUndefined();
    expect(db.mounts).toBeUndefined();
    expect(db.labels.get("tier")).toBe("db");
    expect(requests.filter((r) => r.includes(DOCKER_ID))).toHaveLength(1);
    expect(lookup.answered).toBe(2);
  });

  it("counts a container the runtime does not know, and a runtime without a socket is not asked", async () => {
    const lookup = new RuntimeLookup({
      endpoints: [
        { api: "docker", socketPath: join(dir, "docker.sock") },
        { api: "cri-o", socketPath: join(dir, "missing.sock") },
      ],
    });
    const registry = new ContainerRegistry(16, (c) => lookup.lookup(c));
    const unknown = registry.intern({ fullId: "c".repeat(64), runtime: "podman", podUid: "" });
    registry.intern({ fullId: "d".repeat(64), runtime: "cri-o", podUid: "" });
    registry.intern({ fullId: "e".repeat(64), runtime: "containerd", podUid: "" });
    await lookup.whenIdle();
    expect(lookup.failed).toBe(1);
    expect(lookup.answered).toBe(0);
    expect(unknown.name).toBe("");
    expect(requests.some((r) => r.includes("d".repeat(64)))).toBe(false);
  });
});

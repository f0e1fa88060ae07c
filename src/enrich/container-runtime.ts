/**
 * Container name, image and labels from the container runtime's API, when
 * its socket is there: Docker's (and Podman's Docker-compatible) Engine API
 * `GET /containers/<id>/json`, and CRI-O's info endpoint
 * `GET /containers/<id>`. containerd speaks only gRPC (CRI) and is not asked.
 *
 * Lookups are asynchronous and never block the pipeline: the container's
 * shared ContainerInfo is filled in place when the answer arrives, so events
 * of the container's first milliseconds carry its id only. Bounded: a few
 * requests in flight, a timeout each, and a container is asked once.
 */
import { existsSync } from "node:fs";
import { request } from "node:http";
import type { ContainerInfo, ContainerMount, K8sInfo } from "./process-info.js";

export type RuntimeApi = "docker" | "cri-o";

export interface RuntimeEndpoint {
  readonly api: RuntimeApi;
  readonly socketPath: string;
}

/** The sockets runtimes listen on by default. */
export const DEFAULT_RUNTIME_SOCKETS: readonly RuntimeEndpoint[] = [
  { api: "docker", socketPath: "/var/run/docker.sock" },
  { api: "docker", socketPath: "/run/podman/podman.sock" },
  { api: "cri-o", socketPath: "/var/run/crio/crio.sock" },
];

/** Which API answers for a runtime named by the cgroup path. */
const API_OF_RUNTIME: Readonly<Record<string, RuntimeApi>> = {
  docker: "docker",
  podman: "docker",
  "cri-o": "cri-o",
};

/** What a runtime said about a container. */
export interface RuntimeMetadata {
  readonly name: string;
  readonly image: string;
  readonly labels: ReadonlyMap<string, string>;
  /** Docker/Podman only (CRI-O's info endpoint says neither): undefined when not said. */
  readonly privileged?: boolean;
  readonly mounts?: readonly ContainerMount[];
}

/** Docker's Mounts[]: {Source, Destination, Mode, RW, Propagation}; entries without a destination are dropped. */
function mountsOf(value: unknown): ContainerMount[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: ContainerMount[] = [];
  for (const m of value) {
    if (typeof m !== "object" || m === null) continue;
    const j = m as {
      Source?: unknown;
      Destination?: unknown;
      Mode?: unknown;
      RW?: unknown;
      Propagation?: unknown;
    };
    if (typeof j.Destination !== "string" || j.Destination === "") continue;
    out.push({
      source: typeof j.Source === "string" ? j.Source : "",
      dest: j.Destination,
      mode: typeof j.Mode === "string" ? j.Mode : "",
      rw: j.RW === true,
      propagation: typeof j.Propagation === "string" ? j.Propagation : "",
    });
  }
  return out;
}

function labelsOf(value: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof value !== "object" || value === null) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out.set(k, v);
  return out;
}

/** Docker Engine API container inspect: {Name: "/web", Config: {Image, Labels}, HostConfig: {Privileged}, Mounts}. */
export function parseDockerInspect(json: unknown): RuntimeMetadata | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const j = json as {
    Name?: unknown;
    Config?: { Image?: unknown; Labels?: unknown };
    HostConfig?: { Privileged?: unknown };
    Mounts?: unknown;
  };
  const name = typeof j.Name === "string" ? j.Name.replace(/^\//, "") : "";
  const image = typeof j.Config?.Image === "string" ? j.Config.Image : "";
  const privileged = typeof j.HostConfig?.Privileged === "boolean" ? j.HostConfig.Privileged : undefined;
  const mounts = mountsOf(j.Mounts);
  return {
    name,
    image,
    labels: labelsOf(j.Config?.Labels),
    ...(privileged !== undefined && { privileged }),
    ...(mounts !== undefined && { mounts }),
  };
}

/** CRI-O's /containers/<id>: {name, image, labels}. */
export function parseCrioInspect(json: unknown): RuntimeMetadata | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const j = json as { name?: unknown; image?: unknown; labels?: unknown };
  return {
    name: typeof j.name === "string" ? j.name : "",
    image: typeof j.image === "string" ? j.image : "",
    labels: labelsOf(j.labels),
  };
}

/** The pod identity Kubernetes' kubelet writes into container labels. */
export function k8sFromLabels(labels: ReadonlyMap<string, string>, podUid: string): K8sInfo | undefined {
  const podName = labels.get("io.kubernetes.pod.name");
  if (podName === undefined && podUid === "") return undefined;
  return {
    podUid: labels.get("io.kubernetes.pod.uid") ?? podUid,
    podName: podName ?? "",
    namespace: labels.get("io.kubernetes.pod.namespace") ?? "",
    containerName: labels.get("io.kubernetes.container.name") ?? "",
    podLabels: new Map(),
  };
}

/** ContainerInfo as the registry holds it: readonly to every reader, filled in here. */
type MutableContainer = { -readonly [K in keyof ContainerInfo]: ContainerInfo[K] };

export interface RuntimeLookupOptions {
  readonly endpoints?: readonly RuntimeEndpoint[];
  readonly timeoutMs?: number;
  readonly maxInFlight?: number;
}

/** Asks the runtime about each new container once, in the background. */
export class RuntimeLookup {
  private readonly endpoints: RuntimeEndpoint[];
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private readonly pending: MutableContainer[] = [];
  /** Lookups answered, failed (no socket answered, timeout, bad JSON), skipped (queue full). */
  answered = 0;
  failed = 0;
  skipped = 0;
  /** Settles when nothing is in flight or queued (tests). */
  private idleWaiters: (() => void)[] = [];

  constructor(options: RuntimeLookupOptions = {}) {
    this.endpoints = [...(options.endpoints ?? DEFAULT_RUNTIME_SOCKETS)].filter((e) =>
      existsSync(e.socketPath),
    );
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.maxInFlight = options.maxInFlight ?? 4;
  }

  /** Whether any runtime socket exists (without one, lookups are not attempted). */
  get available(): boolean {
    return this.endpoints.length > 0;
  }

  /** Queues a lookup for a container the registry just created. */
  lookup(info: ContainerInfo): void {
    if (this.endpoints.length === 0 || info.fullId === "") return;
    const api = API_OF_RUNTIME[info.runtime];
    if (api === undefined || !this.endpoints.some((e) => e.api === api)) return;
    if (this.pending.length >= 1024) {
      this.skipped++;
      return;
    }
    this.pending.push(info as MutableContainer);
    this.pump();
  }

  whenIdle(): Promise<void> {
    if (this.inFlight === 0 && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.pending.length > 0) {
      const info = this.pending.shift() as MutableContainer;
      this.inFlight++;
      this.ask(info)
        .then((meta) => {
          if (meta === undefined) {
            this.failed++;
            return;
          }
          this.answered++;
          info.name = meta.name;
          info.image = meta.image;
          info.labels = meta.labels;
          info.k8s = k8sFromLabels(meta.labels, info.k8s?.podUid ?? "") ?? info.k8s;
          if (meta.privileged !== undefined) info.privileged = meta.privileged;
          if (meta.mounts !== undefined) info.mounts = meta.mounts;
        })
        .finally(() => {
          this.inFlight--;
          this.pump();
          if (this.inFlight === 0 && this.pending.length === 0) {
            for (const w of this.idleWaiters.splice(0)) w();
          }
        });
    }
  }

  private async ask(info: MutableContainer): Promise<RuntimeMetadata | undefined> {
    const api = API_OF_RUNTIME[info.runtime];
    for (const endpoint of this.endpoints) {
      if (endpoint.api !== api) continue;
      const path =
        endpoint.api === "docker" ? `/containers/${info.fullId}/json` : `/containers/${info.fullId}`;
      const json = await getJson(endpoint.socketPath, path, this.timeoutMs);
      if (json === undefined) continue;
      const meta = endpoint.api === "docker" ? parseDockerInspect(json) : parseCrioInspect(json);
      if (meta !== undefined) return meta;
    }
    return undefined;
  }
}

/** GET over a unix socket; undefined on any error, non-200 or timeout. */
function getJson(socketPath: string, path: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    const req = request(
      { socketPath, path, method: "GET", timeout: timeoutMs, headers: { host: "localhost" } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (body.length < 4 * 1024 * 1024) body += chunk;
        });
        res.on("end", () => {
          if (res.statusCode !== 200) return resolve(undefined);
          try {
            resolve(JSON.parse(body));
          } catch {
            resolve(undefined);
          }
        });
        res.on("error", () => resolve(undefined));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}

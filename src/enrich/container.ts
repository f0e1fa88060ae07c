/**
 * Container identity from a process's cgroup paths (/proc/<pid>/cgroup).
 *
 * Runtimes name the cgroup they create for a container after its 64-hex id;
 * the layouts differ by runtime and by cgroup driver (systemd slices or plain
 * cgroupfs directories). Falco's convention: the id shortened to 12
 * characters is container.id, "host" outside containers. A Kubernetes pod's
 * UID appears in the kubepods part of the path (with dashes turned into
 * underscores in systemd slice names).
 */
import { type ContainerInfo, HOST_CONTAINER, type K8sInfo } from "./process-info.js";

/** What one cgroup path says about the container it belongs to. */
export interface CgroupContainer {
  /** The runtime's full id (64 hex). */
  readonly fullId: string;
  /** docker | containerd | cri-o | podman | "" (a CRI runtime the path does not name). */
  readonly runtime: string;
  /** Kubernetes pod UID with dashes, "" when the path has no kubepods part. */
  readonly podUid: string;
}

const HEX64 = "([0-9a-f]{64})";

/**
 * Per path segment, most specific first. The runtime is named by the
 * segment's prefix; a bare 64-hex segment is docker's cgroupfs layout
 * (/docker/<id>) or a CRI runtime's under /kubepods/.
 */
const SEGMENT_PATTERNS: readonly (readonly [RegExp, string])[] = [
  [new RegExp(`^docker-${HEX64}\\.scope$`), "docker"],
  [new RegExp(`^cri-containerd-${HEX64}\\.scope$`), "containerd"],
  [new RegExp(`^crio-${HEX64}(?:\\.scope)?$`), "cri-o"],
  [new RegExp(`^libpod-${HEX64}(?:\\.scope)?$`), "podman"],
];
/** containerd with the systemd driver outside a slice: "<pod slice>:cri-containerd:<id>". */
const CRI_CONTAINERD_COLON = new RegExp(`:cri-containerd:${HEX64}$`);
const BARE_ID = new RegExp(`^${HEX64}$`);
/** cgroupfs driver: /kubepods/burstable/pod<uid>/…; systemd: kubepods-burstable-pod<uid_with_underscores>.slice. */
const POD_CGROUPFS = /^pod([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const POD_SLICE =
  /^kubepods(?:-[a-z]+)*-pod([0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12})\.slice/;

function podUidOf(segment: string): string {
  const plain = POD_CGROUPFS.exec(segment);
  if (plain?.[1] !== undefined) return plain[1];
  const slice = POD_SLICE.exec(segment);
  return slice?.[1] === undefined ? "" : slice[1].replaceAll("_", "-");
}

/** Parses one cgroup path ("/system.slice/docker-<id>.scope"); undefined when it names no container. */
export function containerFromCgroupPath(path: string): CgroupContainer | undefined {
  const segments = path.split("/");
  let podUid = "";
  let inKubepods = false;
  let found: { fullId: string; runtime: string } | undefined;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] ?? "";
    if (seg === "") continue;
    if (seg === "kubepods" || seg.startsWith("kubepods.") || seg.startsWith("kubepods-")) inKubepods = true;
    const pod = podUidOf(seg.split(":")[0] ?? seg);
    if (pod !== "") podUid = pod;
    // The deepest match wins: podman nests the container's own cgroup below libpod-<id>.scope/container.
    for (const [pattern, runtime] of SEGMENT_PATTERNS) {
      const m = pattern.exec(seg);
      if (m?.[1] !== undefined) found = { fullId: m[1], runtime };
    }
    const colon = CRI_CONTAINERD_COLON.exec(seg);
    if (colon?.[1] !== undefined) found = { fullId: colon[1], runtime: "containerd" };
    const bare = BARE_ID.exec(seg);
    if (bare?.[1] !== undefined) {
      const parent = segments[i - 1];
      if (parent === "docker") found = { fullId: bare[1], runtime: "docker" };
      else if (inKubepods) found = { fullId: bare[1], runtime: "" };
    }
  }
  return found === undefined ? undefined : { ...found, podUid };
}

/**
 * Parses a whole /proc/<pid>/cgroup file ("hierarchy:controllers:path" per
 * line). The cgroup v2 line ("0::") is asked first; on hybrid hosts the
 * runtime may have placed the container in v1 hierarchies only, so the other
 * lines follow in file order.
 */
export function containerFromCgroupFile(text: string): CgroupContainer | undefined {
  const lines = text.split("\n");
  const ordered = [...lines.filter((l) => l.startsWith("0::")), ...lines.filter((l) => !l.startsWith("0::"))];
  for (const line of ordered) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const found = containerFromCgroupPath(line.slice(second + 1));
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Falco's container.id for a runtime's full id: 12 characters of a 64-hex id. */
export function shortContainerId(fullId: string): string {
  return fullId.length === 64 ? fullId.slice(0, 12) : fullId;
}

/**
 * Hands out one ContainerInfo per container, so every process of a container
 * shares the object (and a runtime lookup fills it in once for all of them).
 * Bounded: past maxEntries the oldest container is forgotten (processes that
 * hold its object keep it).
 */
export class ContainerRegistry {
  private readonly byId = new Map<string, ContainerInfo>();
  /**
   * @param onNew called once per container the registry creates (a runtime
   *   lookup fills name, image and labels in place, see container-runtime.ts).
   */
  constructor(
    private readonly maxEntries = 4096,
    private readonly onNew?: (info: ContainerInfo) => void,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** The shared object for what a cgroup path said; HOST_CONTAINER for undefined. */
  intern(found: CgroupContainer | undefined): ContainerInfo {
    if (found === undefined) return HOST_CONTAINER;
    const known = this.byId.get(found.fullId);
    if (known !== undefined) return known;
    const k8s: K8sInfo | undefined =
      found.podUid === ""
        ? undefined
        : {
            podUid: found.podUid,
            podName: "",
            namespace: "",
            containerName: "",
            podLabels: new Map<string, string>(),
          };
    // Not frozen: a runtime lookup fills name, image, labels and k8s in later, in this one object.
    const info: ContainerInfo = {
      id: shortContainerId(found.fullId),
      fullId: found.fullId,
      runtime: found.runtime,
      name: "",
      image: "",
      labels: new Map<string, string>(),
      k8s,
    };
    if (this.byId.size >= this.maxEntries) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
    this.byId.set(found.fullId, info);
    this.onNew?.(info);
    return info;
  }

  /** The shared object for an already-built ContainerInfo (from a capture snapshot). */
  internInfo(info: ContainerInfo): ContainerInfo {
    if (info.fullId === "") return info.id === "host" ? HOST_CONTAINER : info;
    return this.intern({ fullId: info.fullId, runtime: info.runtime, podUid: info.k8s?.podUid ?? "" });
  }
}

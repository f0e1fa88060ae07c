/**
 * container.privileged / container.mounts from the runtime's inspect (filled
 * into the shared ContainerInfo), container.start_ts / container.duration from
 * the pid namespace's init (libsinsp's pidns_init_start_ts).
 */
import { describe, expect, it } from "vitest";
import type { EnrichedEvent } from "../../src/enrich/enriched-event.js";
import type { ContainerInfo } from "../../src/enrich/process-info.js";
import { ALL_EVENT_TYPES } from "../../src/rules/event-types.js";
import { DEFAULT_FIELDS } from "../../src/rules/fields.js";
import { enriched, execEvent, fire, load, proc, ruleText, TS } from "./helpers.js";

const BASE: ContainerInfo = {
  id: "aaaaaaaaaaaa",
  fullId: "a".repeat(64),
  runtime: "docker",
  name: "api",
  image: "nginx:1.27",
  labels: new Map(),
  k8s: undefined,
};

function inContainer(container: ContainerInfo, vpid = 7): EnrichedEvent {
  const init = proc({ pid: 4000, ppid: 1, vpid: 1, name: "tini", startNs: TS - 60_000_000_000n, container });
  const p = proc({ pid: 4100, ppid: 4000, vpid, container });
  return enriched(execEvent({ tgid: 4100 }), {
    process: p,
    others: [init, proc({ pid: 1, ppid: 0, vpid: 1, startNs: 1000n })],
  });
}

function field(name: string, e: EnrichedEvent) {
  const bound = DEFAULT_FIELDS.bind(name, undefined, { eventTypes: ALL_EVENT_TYPES });
  if (typeof bound === "string") throw new Error(bound);
  return bound.extract(e);
}

describe("container fields from the runtime", () => {
  const privileged: ContainerInfo = {
    ...BASE,
    privileged: true,
    mounts: [
      {
        source: "/var/run/docker.sock",
        dest: "/var/run/docker.sock",
        mode: "",
        rw: true,
        propagation: "rprivate",
      },
      { source: "/srv", dest: "/data", mode: "z", rw: false, propagation: "" },
    ],
  };

  it.each([
    ["container.privileged", privileged, true],
    ["container.privileged", { ...BASE, privileged: false }, false],
    // The runtime has not answered (or is containerd/CRI-O): unknown, not false.
    ["container.privileged", BASE, undefined],
    [
      "container.mounts",
      privileged,
      "/var/run/docker.sock:/var/run/docker.sock::true:rprivate /srv:/data:z:false:",
    ],
    ["container.mounts", { ...BASE, mounts: [] }, ""],
    ["container.mounts", BASE, undefined],
  ])("%s", (name, container, expected) => {
    expect(field(name, inContainer(container))).toEqual(expected);
  });

  it("has no runtime facts on the host", () => {
    expect(field("container.privileged", enriched(execEvent()))).toBeUndefined();
    expect(field("container.mounts", enriched(execEvent()))).toBeUndefined();
  });

  it("matches upstream's privileged-container shape, with the runtime caveat as a warning, not a report", () => {
    const rs = load(ruleText("evt.type = execve and container.id != host and container.privileged = true"));
    expect(rs.unsupportedFields).toEqual([]);
    expect(rs.warnings.map((w) => w.message).join("\n")).toContain(
      "container.privileged is answered from the Docker/Podman API",
    );
    expect(fire(rs, inContainer(privileged))).toHaveLength(1);
    expect(fire(rs, inContainer({ ...BASE, privileged: false }))).toHaveLength(0);
    expect(fire(rs, inContainer(BASE))).toHaveLength(0);
  });
});

describe("container.start_ts / container.duration (pid namespace init)", () => {
  it("is the start of the nearest ancestor with vpid 1", () => {
    const e = inContainer(BASE);
    expect(field("container.start_ts", e)).toBe(TS - 60_000_000_000n);
    expect(field("container.duration", e)).toBe(60_000_000_000n);
  });

  it("is the process's own start when it is the namespace's init, and pid 1's on the host", () => {
    const init = proc({ pid: 4000, ppid: 1, vpid: 1, startNs: TS - 5n });
    expect(field("container.start_ts", enriched(execEvent({ tgid: 4000 }), { process: init }))).toBe(TS - 5n);
    const host = proc({ pid: 100, ppid: 1, vpid: 100 });
    const pid1 = proc({ pid: 1, ppid: 0, vpid: 1, startNs: 1234n });
    expect(field("container.start_ts", enriched(execEvent(), { process: host, others: [pid1] }))).toBe(1234n);
  });

  it("is missing when the ancestry does not reach an init", () => {
    const orphan = proc({ pid: 100, ppid: 99, vpid: 100 });
    expect(
      field("container.start_ts", enriched(execEvent(), { process: orphan, others: [] })),
    ).toBeUndefined();
  });
});

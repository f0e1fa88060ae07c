import { describe, expect, it } from "vitest";
import {
  detectionAttributes,
  openedPath,
  ruleCategory,
  toAnyValue,
} from "../../src/export/detection-attributes.js";
import { connectEvent, makeDetection, makeProcess, openEvent } from "../support/detection-fixtures.js";

describe("detection attributes", () => {
  it("takes the MITRE tactic tag as the category, else none", () => {
    expect(ruleCategory(["maturity_stable", "mitre_execution", "mitre_persistence"])).toBe("mitre_execution");
    expect(ruleCategory(["host", "T1059"])).toBeUndefined();
  });

  it("keeps every digit of a bigint beyond a double's exact range", () => {
    expect(toAnyValue(42n)).toBe(42);
    expect(toAnyValue(-(2n ** 53n) + 1n)).toBe(-(2 ** 53) + 1);
    expect(toAnyValue(2n ** 64n - 1n)).toBe("18446744073709551615");
    expect(toAnyValue(null)).toBeNull();
  });

  it("resolves an open's path only where the cwd says how", () => {
    expect(openedPath(openEvent({ path: "/abs/x" }), "/cwd")).toBe("/abs/x");
    expect(openedPath(openEvent({ path: "a/../b" }), "/cwd")).toBe("/cwd/b");
    expect(openedPath(openEvent({ path: "rel", dirfd: 7 }), "/cwd")).toBe("rel"); // relative to an fd we do not track
    expect(openedPath(openEvent({ path: "rel" }), "")).toBe("rel");
  });

  it("gives a relative path no directory", () => {
    const attrs = detectionAttributes(makeDetection({ event: openEvent({ path: "rel/x", dirfd: 9 }) }));
    expect(attrs).toMatchObject({ "file.path": "rel/x", "file.name": "x" });
    expect(attrs).not.toHaveProperty("file.directory");
  });

  it("maps UDP over IPv4 with a bound local address", () => {
    const attrs = detectionAttributes(
      makeDetection({ event: connectEvent({ protocol: 17, sockType: 2, daddr: "192.0.2.1", dport: 53 }) }),
    );
    expect(attrs).toMatchObject({
      "network.transport": "udp",
      "network.type": "ipv4",
      "server.address": "192.0.2.1",
      "server.port": 53,
      "network.local.address": "10.0.0.2",
      "network.local.port": 51234,
    });
  });

  it("maps a unix socket to its path, without ports", () => {
    const attrs = detectionAttributes(
      makeDetection({
        event: connectEvent({ family: 1, daddr: "/run/docker.sock", dport: 0, saddr: "", protocol: 0 }),
      }),
    );
    expect(attrs).toMatchObject({ "network.transport": "unix", "server.address": "/run/docker.sock" });
    for (const key of ["network.type", "server.port", "network.peer.port", "network.local.address"]) {
      expect(attrs).not.toHaveProperty(key);
    }
  });

  it("falls back to comm for the executable name when the exe path is unknown", () => {
    const attrs = detectionAttributes(
      makeDetection({ process: makeProcess({ exePath: "", name: "kworker/0:1" }) }),
    );
    expect(attrs["process.executable.name"]).toBe("kworker/0:1");
    expect(attrs).not.toHaveProperty("process.executable.path");
  });

  it("uses the effective uid for the user, the real uid for process.real_user.id", () => {
    const attrs = detectionAttributes(makeDetection({ process: makeProcess({ uid: 1000, euid: 0 }) }));
    expect(attrs).toMatchObject({
      "process.user.id": 0,
      "process.real_user.id": 1000,
      "user.id": "0",
      "user.name": "root",
    });
  });
});

/**
 * Live: the container-escape rules (rules/80-container-escape.yaml). The
 * actions are the host-side halves of real escapes: nsenter into another
 * process's namespace, unshare of a user namespace, opening the kernel's
 * core_pattern for writing (closed without writing: nothing changes).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, fakeContainer, LiveAgent, linkAs, rulesLiveSkipReason } from "./rules-live-agent.js";

const skipReason = rulesLiveSkipReason();
if (skipReason) console.warn(`test/integration/rules-container-escape.test.ts skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("default rules: container escape (live)", () => {
  let agent: LiveAgent;
  let work: string;
  let sleeper: ChildProcess;

  const as = (name: string, target: string) => linkAs(work, name, target);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-rules-escape-"));
    sleeper = spawn("/bin/sleep", ["60"], { stdio: "ignore" });
    agent = await LiveAgent.start();
  });

  afterAll(async () => {
    sleeper?.kill();
    await agent?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("Namespace entered by unexpected program: nsenter, not a runtime named runc", async () => {
    const rule = "Namespace entered by unexpected program";
    const target = String(sleeper.pid);
    const benign = await exec(as("runc", "/usr/bin/nsenter"), ["-t", target, "-n", "/bin/true"]);
    const attack = await exec("/usr/bin/nsenter", ["-t", target, "-n", "/bin/true"]);
    expect(attack.code).toBe(0);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1611"]),
      output_fields: { "proc.name": "nsenter", "evt.rawarg.nstype": 0x40000000, "evt.res": "SUCCESS" },
    });
    await agent.settle();
    expect(benign.code).toBe(0);
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Namespace created by unexpected program: unshare -U, not bwrap", async () => {
    const rule = "Namespace created by unexpected program";
    const benign = await exec(as("bwrap", "/usr/bin/unshare"), ["-U", "/bin/true"]);
    const attack = await exec("/usr/bin/unshare", ["-U", "/bin/true"]);
    expect(attack.code).toBe(0);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Notice",
      tags: expect.arrayContaining(["T1611"]),
      output_fields: { "proc.name": "unshare", "evt.rawarg.flags": 0x10000000 },
    });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Kernel hook written for host code execution: core_pattern and a release_agent, not reads or look-alikes", async () => {
    const rule = "Kernel hook written for host code execution";
    const openForAppend = (path: string) => `open(my $f, ">>", "${path}") or die "$!";`;
    const benignRead = await exec("/bin/cat", ["/proc/sys/kernel/core_pattern"]);
    const benignName = await exec("/usr/bin/perl", ["-e", openForAppend(join(work, "release_agent.txt"))]);
    const corePattern = await exec("/usr/bin/perl", ["-e", openForAppend("/proc/sys/kernel/core_pattern")]);
    expect(corePattern.code).toBe(0);
    const releaseAgent = await exec("/usr/bin/perl", ["-e", openForAppend(join(work, "release_agent"))]);
    const d = await agent.waitForRule(rule, corePattern.pid);
    expect(d).toMatchObject({
      priority: "Critical",
      tags: expect.arrayContaining(["T1611"]),
      output_fields: { "fd.name": "/proc/sys/kernel/core_pattern", "proc.name": "perl" },
    });
    const r = await agent.waitForRule(rule, releaseAgent.pid);
    expect(r.output_fields["fd.name"]).toBe(join(work, "release_agent"));
    await agent.settle();
    expect(agent.of(benignRead.pid, rule)).toEqual([]);
    expect(agent.of(benignName.pid, rule)).toEqual([]);
  });

  it("Filesystem mounted in a container: a tmpfs mount from a container cgroup, not the same mount on the host", async (ctx) => {
    const rule = "Filesystem mounted in a container";
    const target = join(work, "mnt");
    mkdirSync(target);
    // Mounted and unmounted at once, on a directory of this test.
    const mountTmpfs = `/bin/sh -c 'mount -t tmpfs peregrine-test ${target} && umount ${target}'`;
    const benign = await exec("/bin/sh", [
      "-c",
      `mount -t tmpfs peregrine-test ${target} && umount ${target}`,
    ]);
    expect(benign.code).toBe(0);
    const container = fakeContainer("b7d1".repeat(16));
    if (container === undefined) return ctx.skip();
    try {
      const attack = await container.run(mountTmpfs);
      expect(attack.code).toBe(0);
      const d = await agent.waitFor(
        (x) => x.rule === rule && x.output_fields["container.id"] === container.id,
        rule,
      );
      expect(d).toMatchObject({
        priority: "Warning",
        tags: expect.arrayContaining(["T1611"]),
        output_fields: {
          "proc.name": "mount",
          "evt.arg.dir": target,
          "evt.arg.type": "tmpfs",
          "evt.res": "SUCCESS",
        },
      });
      await agent.settle();
      expect(
        agent.detections.filter((x) => x.rule === rule && x.output_fields["container.id"] === "host"),
      ).toEqual([]);
    } finally {
      container.remove();
    }
  });
});

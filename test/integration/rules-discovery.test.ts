/**
 * Live: the discovery rules (rules/70-discovery.yaml).
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, fakeContainer, LiveAgent, rulesLiveSkipReason } from "./rules-live-agent.js";

const skipReason = rulesLiveSkipReason();
if (skipReason) console.warn(`test/integration/rules-discovery.test.ts skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("default rules: discovery (live)", () => {
  let agent: LiveAgent;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-rules-discovery-"));
    agent = await LiveAgent.start();
  });

  afterAll(async () => {
    await agent?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("Network scanner started: a program named nmap, not one named nmap-report", async () => {
    const rule = "Network scanner started";
    const nmap = join(work, "nmap");
    const report = join(work, "nmap-report");
    copyFileSync("/bin/true", nmap);
    copyFileSync("/bin/true", report);
    const benign = await exec(report, ["scan.xml"]);
    const attack = await exec(nmap, ["-sS", "-p-", "10.0.0.0/24"]);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Notice",
      tags: expect.arrayContaining(["T1046", "mitre_discovery"]),
      output_fields: { "proc.name": "nmap", "proc.cmdline": "nmap -sS -p- 10.0.0.0/24" },
    });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Search for credentials or private keys: grep -ri password and find -name id_rsa, not grep hello", async () => {
    const rule = "Search for credentials or private keys";
    const tree = join(work, "tree");
    mkdirSync(tree);
    writeFileSync(join(tree, "app.conf"), "db_password=hunter2\ngreeting=hello\n");
    const benign = await exec("/bin/grep", ["-r", "hello", tree]);
    const grep = await exec("/bin/grep", ["-ri", "PASSWORD", tree]);
    expect(grep.stdout).toContain("hunter2");
    const find = await exec("/usr/bin/find", [tree, "-name", "id_rsa*"]);
    const d = await agent.waitForRule(rule, grep.pid);
    expect(d).toMatchObject({
      priority: "Notice",
      tags: expect.arrayContaining(["T1552.001"]),
      output_fields: { "proc.name": "grep", "proc.cmdline": `grep -ri PASSWORD ${tree}` },
    });
    await agent.waitForRule(rule, find.pid);
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("System discovery command in a container: whoami and netstat in a container cgroup, not on the host", async (ctx) => {
    const rule = "System discovery command in a container";
    const whoami = join(work, "whoami");
    const netstat = join(work, "netstat");
    copyFileSync("/bin/true", whoami);
    copyFileSync("/bin/true", netstat);
    const benign = await exec(whoami, []);
    const container = fakeContainer("d15c".repeat(16));
    if (container === undefined) return ctx.skip();
    try {
      const who = await container.run(whoami);
      const net = await container.run(`${netstat} -tlnp`);
      const d = await agent.waitForRule(rule, who.pid);
      expect(d).toMatchObject({
        priority: "Notice",
        tags: expect.arrayContaining(["T1033", "mitre_discovery"]),
        output_fields: { "proc.name": "whoami", "container.id": container.id },
      });
      const n = await agent.waitForRule(rule, net.pid);
      expect(n.output_fields["proc.cmdline"]).toBe("netstat -tlnp");
      await agent.settle();
    } finally {
      container.remove();
    }
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });
});

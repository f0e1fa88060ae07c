/**
 * Live: the defense-evasion rules (rules/60-defense-evasion.yaml). Log files
 * are uniquely named test files below /var/log, created without O_TRUNC and
 * removed by the actions themselves (or at the end).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, LiveAgent, rulesLiveSkipReason } from "./rules-live-agent.js";

const skipReason = rulesLiveSkipReason();
if (skipReason) console.warn(`test/integration/rules-defense-evasion.test.ts skipped: ${skipReason}`);

/**
 * Perl that loads a two-instruction socket filter (r0 = 0; exit) with
 * bpf(BPF_PROG_LOAD) and dies unless the kernel returned a descriptor.
 */
const LOAD_BPF_PROGRAM = [
  'my $insns = pack("CCsl", 0xb7, 0, 0, 0) . pack("CCsl", 0x95, 0, 0, 0);',
  'my $license = "GPL\\0";',
  'my $attr = pack("LLQQLLQL", 1, 2, unpack("Q", pack("p", $insns)), unpack("Q", pack("p", $license)), 0, 0, 0, 0) . ("\\0" x 96);',
  'syscall(321, 5, $attr, length($attr)) >= 0 or die "BPF_PROG_LOAD: $!";',
].join(" ");

describe.skipIf(skipReason !== undefined)("default rules: defense evasion (live)", () => {
  let agent: LiveAgent;
  let work: string;
  const logs: string[] = [];

  /** A new file below /var/log, created with O_CREAT|O_EXCL (no truncation). */
  function logFile(tag: string): string {
    const path = `/var/log/peregrine-rules-test-${process.pid}-${tag}.log`;
    writeFileSync(path, "line\n", { flag: "wx" });
    logs.push(path);
    return path;
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-rules-evasion-"));
    agent = await LiveAgent.start();
  });

  afterAll(async () => {
    await agent?.stop();
    for (const path of logs) if (existsSync(path)) unlinkSync(path);
    rmSync(work, { recursive: true, force: true });
  });

  it("Log file deleted or truncated: rm by path and relative to cwd, : > file; not by logrotate or outside /var/log", async () => {
    const rule = "Log file deleted or truncated";
    const logrotate = join(work, "logrotate");
    symlinkSync("/bin/rm", logrotate);
    const benignTool = await exec(logrotate, [logFile("rotated")]);
    const benignElsewhere = await exec("/bin/rm", ["-f", join(work, "app.log")]);
    const byPath = await exec("/bin/rm", [logFile("abs")]);
    const relative = logFile("rel");
    const byCwd = await exec("/bin/sh", [
      "-c",
      `cd /var/log && exec rm ${relative.slice("/var/log/".length)}`,
    ]);
    const truncated = logFile("trunc");
    const byTruncation = await exec("/bin/sh", ["-c", `: > ${truncated}`]);

    const d = await agent.waitForRule(rule, byPath.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1070.002", "mitre_defense_evasion"]),
      output_fields: { "evt.type": "unlinkat", "proc.name": "rm" },
    });
    expect(d.output_fields["evt.arg.name"]).toBe(logs[1]);
    const c = await agent.waitForRule(rule, byCwd.pid);
    // unlinkat's name is a PT_FSRELPATH: Falco prints it made absolute against the dirfd (here the cwd).
    expect(c.output_fields).toMatchObject({ "proc.cwd": "/var/log", "evt.arg.name": relative });
    const t = await agent.waitForRule(rule, byTruncation.pid);
    expect(t.output_fields).toMatchObject({ "fd.name": truncated, "proc.name": "sh" });
    expect(t.output).toContain("syscall=open");
    await agent.settle();
    expect(benignTool.code).toBe(0);
    expect(agent.of(benignTool.pid, rule)).toEqual([]);
    expect(agent.of(benignElsewhere.pid, rule)).toEqual([]);
  });

  it("Shell history deleted or truncated: rm, truncation and a link to /dev/null; not an append or a look-alike name", async () => {
    const rule = "Shell history deleted or truncated";
    const home = join(work, "home");
    mkdirSync(home);
    const bash = join(home, ".bash_history");
    const zsh = join(home, ".zsh_history");
    writeFileSync(bash, "ls\n");
    writeFileSync(zsh, "ls\n");
    writeFileSync(`${bash}.bak`, "ls\n");
    const benignAppend = await exec("/bin/sh", ["-c", `echo id >> ${bash}`]);
    const benignName = await exec("/bin/rm", [`${bash}.bak`]);
    const removed = await exec("/bin/rm", [bash]);
    writeFileSync(bash, "ls\n");
    const truncated = await exec("/bin/sh", ["-c", `cat /dev/null > ${bash}`]);
    const linked = await exec("/bin/ln", ["-sf", "/dev/null", zsh]);

    const d = await agent.waitForRule(rule, removed.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1070.003"]),
      output_fields: { "evt.type": "unlinkat", "evt.arg.name": bash },
    });
    const t = await agent.waitForRule(rule, truncated.pid);
    expect(t.output_fields["fd.name"]).toBe(bash);
    const l = await agent.waitForRule(rule, linked.pid);
    expect(l.output_fields["proc.name"]).toBe("ln");
    await agent.settle();
    expect(agent.of(benignAppend.pid, rule)).toEqual([]);
    expect(agent.of(benignName.pid, rule)).toEqual([]);
  });

  it("BPF program loaded by unexpected program: a socket filter from a script, not from bpftrace", async () => {
    const rule = "BPF program loaded by unexpected program";
    const rootkit = join(work, "rootkit");
    const bpftrace = join(work, "bpftrace");
    symlinkSync("/usr/bin/perl", rootkit);
    symlinkSync("/usr/bin/perl", bpftrace);
    const benign = await exec(bpftrace, ["-e", LOAD_BPF_PROGRAM]);
    const attack = await exec(rootkit, ["-e", LOAD_BPF_PROGRAM]);
    expect(attack.stderr).toBe("");
    expect(attack.code).toBe(0);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1014"]),
      output_fields: { "proc.name": "rootkit" },
    });
    await agent.settle();
    expect(benign.code).toBe(0);
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });
});

/**
 * Live: the privilege-escalation rules (rules/50-privilege-escalation.yaml):
 * real set*id calls, chmod, ptrace and /proc/<pid>/mem opens against
 * processes the test owns.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, LiveAgent, linkAs, rulesLiveSkipReason } from "./rules-live-agent.js";

const skipReason = rulesLiveSkipReason();
if (skipReason) console.warn(`test/integration/rules-privilege-escalation.test.ts skipped: ${skipReason}`);

// x86_64 syscall numbers.
const SYS_PTRACE = 101;
const SYS_SETRESUID = 117;

describe.skipIf(skipReason !== undefined)("default rules: privilege escalation (live)", () => {
  let agent: LiveAgent;
  let work: string;
  let sleeper: ChildProcess;

  const perlAs = (name: string) => linkAs(work, name, "/usr/bin/perl");

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-rules-privesc-"));
    sleeper = spawn("/bin/sleep", ["60"], { stdio: "ignore" });
    agent = await LiveAgent.start();
  });

  afterAll(async () => {
    sleeper?.kill();
    await agent?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("Root regained after a non-root login: setresuid back to 0 in uid 1000's session, not a drop or sudo", async () => {
    const rule = "Root regained after a non-root login";
    // The audit login uid is set before the exec, so the exec record carries it.
    const session = (program: string, script: string) =>
      exec("/bin/sh", ["-c", `echo 1000 > /proc/self/loginuid && exec ${program} -e '${script}'`]);
    const drop = `syscall(${SYS_SETRESUID}, 1000, 1000, 0) == 0 or die "drop: $!";`;
    const regain = `${drop} syscall(${SYS_SETRESUID}, 0, 0, 0) == 0 or die "regain: $!";`;
    const benignDrop = await session("/usr/bin/perl", drop);
    const benignSudo = await session(perlAs("sudo"), regain);
    const attack = await session("/usr/bin/perl", regain);
    expect(attack.code).toBe(0);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Critical",
      tags: expect.arrayContaining(["T1548.001", "mitre_privilege_escalation"]),
      output_fields: { "evt.type": "setresuid", "user.uid": 0, "user.loginuid": 1000, "proc.name": "perl" },
    });
    await agent.settle();
    expect(benignDrop.code).toBe(0);
    expect(agent.of(benignDrop.pid, rule)).toEqual([]);
    expect(agent.of(benignSudo.pid, rule)).toEqual([]);
  });

  it("Setuid bit set on a file: chmod 4755 and 0104755, not 755 or 0100644", async () => {
    const rule = "Setuid bit set on a file";
    const file = join(work, "backdoor");
    writeFileSync(file, "#!/bin/sh\n");
    const benign = await exec("/bin/chmod", ["755", file]);
    const attack = await exec("/bin/chmod", ["4755", file]);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1548.001"]),
      output_fields: { "evt.type": "fchmodat", "evt.rawarg.mode": 0o4755, "proc.name": "chmod" },
    });
    expect(String(d.output_fields["evt.arg.filename"])).toContain("backdoor");
    // node passes st_mode whole (file-type bits included): 0100644 is no setuid bit, 0104755 is.
    const chmod = (mode: number) => `require("fs").chmodSync(${JSON.stringify(file)}, ${mode})`;
    const benignTyped = await exec(process.execPath, ["-e", chmod(0o100644)]);
    const typed = await exec(process.execPath, ["-e", chmod(0o104755)]);
    const t = await agent.waitForRule(rule, typed.pid);
    expect(t.output_fields).toMatchObject({ "evt.rawarg.mode": 0o104755, "proc.name": "node" });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
    expect(agent.of(benignTyped.pid, rule)).toEqual([]);
  });

  it("Ptrace attach to another process: PTRACE_ATTACH by a script, not PTRACE_TRACEME or strace", async () => {
    const rule = "Ptrace attach to another process";
    const benignTraceme = await exec("/usr/bin/perl", ["-e", `syscall(${SYS_PTRACE}, 0, 0, 0, 0);`]);
    const benignStrace = await exec("/usr/bin/strace", ["-o", "/dev/null", "/bin/true"]);
    const attack = await exec(perlAs("injector"), [
      "-e",
      `syscall(${SYS_PTRACE}, 16, ${sleeper.pid}, 0, 0);`,
    ]);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1055.008"]),
      output_fields: {
        "evt.rawarg.request": 16,
        // evt.arg.pid is a PT_PID: Falco renders the target's comm; the number is evt.rawarg.pid.
        "evt.rawarg.pid": sleeper.pid,
        "evt.arg.pid": "sleep",
        "proc.name": "injector",
      },
    });
    await agent.settle();
    expect(benignStrace.code).toBe(0);
    expect(agent.of(benignTraceme.pid, rule)).toEqual([]);
    expect(agent.of(benignStrace.pid, rule)).toEqual([]);
  });

  it("Process memory opened for writing through proc: by a script, not by gdb", async () => {
    const rule = "Process memory opened for writing through proc";
    const mem = `/proc/${sleeper.pid}/mem`;
    // Opened read-write and closed: nothing is written.
    const script = `use Fcntl; sysopen(my $f, "${mem}", O_RDWR) or die "$!";`;
    const benign = await exec(perlAs("gdb"), ["-e", script]);
    const attack = await exec(perlAs("patcher"), ["-e", script]);
    expect(attack.code).toBe(0);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1055.009"]),
      output_fields: { "fd.name": mem, "proc.name": "patcher" },
    });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });
});

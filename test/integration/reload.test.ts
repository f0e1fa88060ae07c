/**
 * Hot reload, live: the built agent runs with a rules file in a temp folder;
 * changing the file brings a new rule into force, breaking it keeps the old
 * rules running and counts the failure. Real processes, real syscalls.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../src/version.js";
import { liveSkipReason } from "./live-support.js";

const MAIN_JS = join(PACKAGE_ROOT, "dist/cli/main.js");
const skip = liveSkipReason() ?? (existsSync(MAIN_JS) ? undefined : "run `npm run build` first");
if (skip) console.log(`skipping hot-reload live test: ${skip}`);

function ruleFile(rule: string, marker: string): string {
  return `- rule: ${rule}
  desc: opens of a marker file (hot reload test)
  condition: evt.type in (open, openat, openat2) and fd.name = ${marker}
  output: ${rule} opened %fd.name by %proc.name
  priority: WARNING
`;
}

describe.skipIf(skip !== undefined)("hot reload (live)", () => {
  let dir: string;
  let rulesPath: string;
  let child: ChildProcess;
  let stderr = "";
  const fired: string[] = [];
  let metricsUrl = "";

  const waitFor = async (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> => {
    const end = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; agent stderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const count = (rule: string): number => fired.filter((r) => r === rule).length;
  const touch = (path: string): void => {
    execFileSync("/bin/cat", [path]);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pg-reload-"));
    for (const m of ["a", "b"]) writeFileSync(join(dir, `marker-${m}`), "x\n");
    rulesPath = join(dir, "local.yaml");
    writeFileSync(rulesPath, ruleFile("Reload Rule A", join(dir, "marker-a")));
    child = spawn(
      process.execPath,
      [MAIN_JS, "run", "-r", rulesPath, "--output", "json", "--metrics-address", "127.0.0.1:0"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout?.setEncoding("utf8").on("data", (t: string) => {
      out += t;
      let nl = out.indexOf("\n");
      while (nl >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith("{")) fired.push((JSON.parse(line) as { rule: string }).rule);
        nl = out.indexOf("\n");
      }
    });
    child.stderr?.setEncoding("utf8").on("data", (t: string) => {
      stderr += t;
      const m = /metrics on (http:\/\/\S+)\/metrics/.exec(stderr);
      if (m?.[1]) metricsUrl = m[1];
    });
    await waitFor("the agent to be ready", () => stderr.includes("ready"), 20_000);
  }, 30_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const closed = new Promise((r) => child.once("close", r));
      child.kill("SIGTERM");
      await closed;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("a changed rules file brings the new rule into force", async () => {
    touch(join(dir, "marker-a"));
    await waitFor("Reload Rule A", () => count("Reload Rule A") === 1);

    writeFileSync(rulesPath, ruleFile("Reload Rule B", join(dir, "marker-b")));
    await waitFor("the reload", () => stderr.includes("rules reloaded (file-change): 1 rules"));
    touch(join(dir, "marker-a"));
    touch(join(dir, "marker-b"));
    await waitFor("Reload Rule B", () => count("Reload Rule B") === 1);
    // marker-a was opened before marker-b: had rule A still been loaded it would have fired first.
    expect(count("Reload Rule A")).toBe(1);
  }, 30_000);

  it("a broken rules file keeps the previous rules running and is counted", async () => {
    writeFileSync(rulesPath, `${ruleFile("Reload Rule C", join(dir, "marker-a"))}  condition: (oops\n`);
    await waitFor("the failed reload", () => stderr.includes("failed, the previous rules keep running"));
    expect(stderr).toMatch(/local\.yaml:\d+:\d+/);
    touch(join(dir, "marker-b"));
    await waitFor("Reload Rule B again", () => count("Reload Rule B") === 2);
    expect(count("Reload Rule C")).toBe(0);

    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(text).toMatch(/peregrine_rules_reloads_total\{result="failure"\} 1/);
    expect(text).toMatch(/peregrine_rules_reloads_total\{result="success"\} 1/);
    expect(text).toMatch(/peregrine_rules_loaded 1/);
    expect(text).toMatch(/peregrine_rule_matches_total\{rule="Reload Rule B"[^}]*\} 2/);
    expect(text).not.toMatch(/rule="Reload Rule A"/);
  }, 30_000);

  it("SIGHUP reloads a fixed file", async () => {
    writeFileSync(rulesPath, ruleFile("Reload Rule C", join(dir, "marker-a")));
    child.kill("SIGHUP");
    await waitFor(
      "Rule C loaded",
      () =>
        /rules reloaded \((signal|file-change)\)[^\n]*\n[\s\S]*$/.test(stderr) &&
        stderr.split("rules reloaded").length >= 3,
    );
    touch(join(dir, "marker-a"));
    await waitFor("Reload Rule C", () => count("Reload Rule C") === 1);
  }, 30_000);
});

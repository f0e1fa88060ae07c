/**
 * Live: `peregrine capture` records while `peregrine run` watches the same
 * machine; a copy of cat reads /etc/shadow. Then `peregrine replay` runs the
 * capture in a separate process that cannot see this machine's /proc (a
 * private mount namespace with /proc unmounted) nor its users (/etc/passwd
 * masked), and must report the same detection as the live agent did: same
 * event time, process, parent, user and output. Needs root, kernel BTF, the
 * loader and `npm run build`; skipped with the reason otherwise.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../src/version.js";
import { liveSkipReason, run } from "./live-support.js";

const MAIN_JS = join(PACKAGE_ROOT, "dist/cli/main.js");
const BIN = join(PACKAGE_ROOT, "bin/peregrine.js");
const skipReason =
  liveSkipReason() ??
  (existsSync(MAIN_JS) ? undefined : "the agent is not built: run `npm run build` first") ??
  (existsSync("/usr/bin/unshare")
    ? undefined
    : "needs unshare(1) (util-linux) to hide /proc from the replay");
if (skipReason) console.warn(`test/integration/capture.test.ts skipped: ${skipReason}`);

interface FalcoJson {
  time: string;
  rule: string;
  hostname: string;
  output: string;
  output_fields: Record<string, unknown>;
}

const RULE = "Credential file read by unexpected program";

/** Starts a peregrine subcommand; resolves once it printed "ready" on stderr. */
function startPeregrine(
  args: string[],
): Promise<{ child: ChildProcess; stdout: () => string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (t: string) => {
    out += t;
  });
  return new Promise((resolve, reject) => {
    child.stderr?.setEncoding("utf8").on("data", (t: string) => {
      err += t;
      if (err.includes("ready")) resolve({ child, stdout: () => out, stderr: () => err });
    });
    child.once("exit", (code) => reject(new Error(`peregrine ${args[0]} exited with ${code}:\n${err}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

function detectionsFor(stdout: string, pid: number): FalcoJson[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as FalcoJson)
    .filter((d) => d.rule === RULE && d.output_fields["proc.pid"] === pid);
}

describe.skipIf(skipReason !== undefined)(
  "peregrine capture → replay on a machine without this /proc",
  () => {
    let work: string;
    let live: Awaited<ReturnType<typeof startPeregrine>>;
    let capture: Awaited<ReturnType<typeof startPeregrine>>;
    let catPid = 0;
    let liveDetection: FalcoJson | undefined;

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), "pg-capture-"));
      [live, capture] = await Promise.all([
        startPeregrine(["run", "--output", "json", "--metrics-address", "off"]),
        startPeregrine(["capture", "-o", join(work, "shadow.pgcap")]),
      ]);
      const cat = join(work, "cat");
      copyFileSync("/bin/cat", cat);
      const result = await run(cat, ["/etc/shadow"]);
      expect(result.code).toBe(0);
      catPid = result.pid;
      for (let i = 0; i < 100 && liveDetection === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        liveDetection = detectionsFor(live.stdout(), catPid)[0];
      }
      capture.child.kill("SIGINT");
      live.child.kill("SIGINT");
      expect(await exited(capture.child)).toBe(0);
      await exited(live.child);
    }, 60_000);

    afterAll(() => {
      for (const p of [live, capture]) if (p?.child.exitCode === null) p.child.kill("SIGKILL");
      rmSync(work, { recursive: true, force: true });
    });

    it("the live agent saw it (the reference)", () => {
      expect(liveDetection?.output_fields).toMatchObject({ "fd.name": "/etc/shadow", "user.name": "root" });
      expect(capture.stderr()).toMatch(/captured \d+ events, \d+ processes at start/);
    });

    it("replays to the same detection without /proc or /etc/passwd", async () => {
      // Private mount namespace: /proc unmounted, /etc/passwd and /etc/group replaced by empty files.
      const script = [
        "umount -l /proc",
        "mount --bind /dev/null /etc/passwd",
        "mount --bind /dev/null /etc/group",
        'test ! -e /proc/self || { echo "/proc still visible" >&2; exit 90; }',
        `exec "${process.execPath}" "${BIN}" replay "${join(work, "shadow.pgcap")}" --output json`,
      ].join(" && ");
      const replay = spawn("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      replay.stdout.setEncoding("utf8").on("data", (t: string) => {
        out += t;
      });
      replay.stderr.setEncoding("utf8").on("data", (t: string) => {
        err += t;
      });
      expect(await exited(replay), err).toBe(0);
      expect(err).toMatch(/replayed \d+ events/);
      const replayed = detectionsFor(out, catPid);
      expect(replayed).toHaveLength(1);
      const r = replayed[0] as FalcoJson;
      const l = liveDetection as FalcoJson;
      // Same kernel timestamp; each loader turns boot-clock time into epoch time with its own
      // reading of the wall clock at start, so two loaders differ by well under a millisecond.
      expect(Math.abs(Date.parse(r.time) - Date.parse(l.time))).toBeLessThanOrEqual(1);
      expect(r.hostname).toBe(l.hostname);
      expect(r.output_fields).toEqual(l.output_fields);
      expect(r.output).toBe(l.output);
      // State that only /proc and /etc/passwd could have given, so it came from the capture.
      expect(r.output_fields["proc.exepath"]).toBe(join(work, "cat"));
      expect(r.output_fields["user.name"]).toBe("root");
    });
  },
);

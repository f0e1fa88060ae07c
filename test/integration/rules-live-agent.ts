/**
 * Shared by the live tests of the default ruleset (test/integration/rules-*.test.ts):
 * the built agent (`bin/peregrine.js run --output json`) with the default
 * rules, one agent per test file, its JSON detections collected from stdout.
 * Tests fire rules with real processes and real syscalls; `settle()` proves
 * that everything before it was evaluated, so a look-alike's silence means
 * something.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, rmdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../src/version.js";
import { liveSkipReason } from "./live-support.js";

const MAIN_JS = join(PACKAGE_ROOT, "dist/cli/main.js");

/**
 * A link to `target` at `dir/name`, returned: the kernel names a process
 * after the file it executed, so a look-alike (or an attacker's renamed
 * tool) is the same binary under another name.
 */
export function linkAs(dir: string, name: string, target: string): string {
  const path = join(dir, name);
  symlinkSync(target, path);
  return path;
}

/** Why the rules' live tests cannot run here, or undefined. */
export function rulesLiveSkipReason(): string | undefined {
  return (
    liveSkipReason() ??
    (existsSync(MAIN_JS) ? undefined : "the agent is not built: run `npm run build` first")
  );
}

/** One detection as `--output json` prints it (Falco's JSON output). */
export interface Detection {
  time: string;
  rule: string;
  priority: string;
  source: string;
  hostname: string;
  output: string;
  output_fields: Record<string, unknown>;
  tags: string[];
}

export interface Ran {
  readonly pid: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  readonly input?: string;
}

/** Runs a command to completion with a small, predictable environment. */
export function exec(file: string, args: readonly string[], options: RunOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      cwd: options.cwd,
      env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin", LC_ALL: "C", ...options.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (t: string) => {
      stdout += t;
    });
    child.stderr?.setEncoding("utf8").on("data", (t: string) => {
      stderr += t;
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    child.once("error", reject);
    child.once("close", (code) => resolve({ pid: child.pid ?? -1, code, stdout, stderr }));
  });
}

export class LiveAgent {
  readonly detections: Detection[] = [];
  #stderr = "";
  #waiters: { match: (d: Detection) => boolean; resolve: (d: Detection) => void }[] = [];

  private constructor(private readonly child: ChildProcess) {}

  get stderr(): string {
    return this.#stderr;
  }

  /** Starts the agent with the default rules (or `rules`, in load order) and waits until it is ready. */
  static async start(rules: readonly string[] = []): Promise<LiveAgent> {
    const args = [
      join(PACKAGE_ROOT, "bin/peregrine.js"),
      "run",
      "--output",
      "json",
      "--metrics-address",
      "127.0.0.1:0",
    ];
    for (const r of rules) args.push("--rules", r);
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const agent = new LiveAgent(child);
    let pending = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      let nl = pending.indexOf("\n");
      while (nl >= 0) {
        agent.#push(JSON.parse(pending.slice(0, nl)) as Detection);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf("\n");
      }
    });
    await new Promise<void>((resolve, reject) => {
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        agent.#stderr += chunk;
        if (agent.#stderr.includes("ready")) resolve();
      });
      child.once("exit", (code) =>
        reject(new Error(`agent exited with ${code} before ready:\n${agent.#stderr}`)),
      );
    });
    return agent;
  }

  #push(d: Detection): void {
    this.detections.push(d);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(d)) return true;
      w.resolve(d);
      return false;
    });
  }

  /** The first detection (already seen or coming) that matches; rejects after timeoutMs. */
  waitFor(match: (d: Detection) => boolean, what: string, timeoutMs = 15_000): Promise<Detection> {
    const seen = this.detections.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no detection of ${what} in ${timeoutMs} ms; agent stderr:\n${this.#stderr}`)),
        timeoutMs,
      );
      this.#waiters.push({
        match,
        resolve: (d) => {
          clearTimeout(timer);
          resolve(d);
        },
      });
    });
  }

  /** The detection of `rule` for process `pid`. */
  waitForRule(rule: string, pid: number, timeoutMs?: number): Promise<Detection> {
    return this.waitFor(
      (d) => d.rule === rule && d.output_fields["proc.pid"] === pid,
      `'${rule}' for pid ${pid}`,
      timeoutMs,
    );
  }

  /** Detections of `rule` (or of any rule) for process `pid` seen so far. */
  of(pid: number, rule?: string): Detection[] {
    return this.detections.filter(
      (d) => d.output_fields["proc.pid"] === pid && (rule === undefined || d.rule === rule),
    );
  }

  /**
   * Fires a known rule (a credential file read by cat) and waits for it: once
   * it arrives, every event of processes that finished before was evaluated.
   */
  async settle(): Promise<void> {
    const marker = await exec("/bin/cat", ["/etc/gshadow"]);
    await this.waitForRule("Credential file read by unexpected program", marker.pid);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    await exited;
  }
}

/** A container-like cgroup: processes started by `run` are in it, as a runtime's workload is. */
export interface FakeContainer {
  /** The container id as container.id shows it (12 hex characters). */
  readonly id: string;
  /** Runs `command` (a shell command line): the shell joins the cgroup, then execs the command. */
  run(command: string): Promise<Ran>;
  /** Removes the cgroup (once its processes are gone and the agent has seen their events). */
  remove(): void;
}

/**
 * A `docker-<id>.scope` cgroup below a cgroup v2 slice of this test, or
 * undefined when there is no cgroup v2. Keep it until the detections arrived:
 * the agent names a short-lived process's container from its cgroup id.
 */
export function fakeContainer(fullId: string): FakeContainer | undefined {
  const root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].find((r) =>
    existsSync(join(r, "cgroup.controllers")),
  );
  if (root === undefined) return undefined;
  const slice = join(root, `peregrine-rules-${process.pid}-${fullId.slice(0, 6)}.slice`);
  const scope = join(slice, `docker-${fullId}.scope`);
  mkdirSync(scope, { recursive: true });
  return {
    id: fullId.slice(0, 12),
    run: (command) =>
      exec("/bin/sh", ["-c", `echo $$ > "${join(scope, "cgroup.procs")}" && exec ${command}`]),
    remove: () => {
      if (existsSync(scope)) rmdirSync(scope);
      if (existsSync(slice)) rmdirSync(slice);
    },
  };
}

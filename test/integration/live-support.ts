/**
 * Shared by the live kernel tests: why they cannot run here (if they cannot),
 * and small helpers to wait for events from processes the test spawned.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DecodedRecord, SensorEvent } from "../../src/decode/events.js";
import { Enricher } from "../../src/enrich/enricher.js";
import { procBootTimeNs } from "../../src/enrich/proc-reader.js";
import { ProcessTable } from "../../src/enrich/process-table.js";
import { UserDb } from "../../src/enrich/user-db.js";
import { defaultLoaderPath } from "../../src/sensor/loader-process.js";

/** Why live tests must be skipped on this machine, or undefined when they can run. */
export function liveSkipReason(): string | undefined {
  if (process.platform !== "linux") return "live sensor tests need Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    return "live sensor tests need root (CAP_BPF + CAP_PERFMON): run them with sudo";
  }
  if (!existsSync("/sys/kernel/btf/vmlinux"))
    return "live sensor tests need kernel BTF (/sys/kernel/btf/vmlinux)";
  if (!existsSync(defaultLoaderPath())) {
    return `live sensor tests need the loader: build ${defaultLoaderPath()} with \`make -C bpf\``;
  }
  return undefined;
}

/** liveSkipReason, or that a test's C helper cannot be built (no cc). */
export function liveCSkipReason(): string | undefined {
  const live = liveSkipReason();
  if (live !== undefined) return live;
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "needs a C compiler (cc) for the helper";
  }
}

/** Collects decoded records and lets a test wait until one matches. */
export class RecordLog {
  readonly records: DecodedRecord[] = [];
  #waiters: { match: (r: DecodedRecord) => boolean; resolve: (r: DecodedRecord) => void }[] = [];

  readonly push = (rec: DecodedRecord): void => {
    this.records.push(rec);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(rec)) return true;
      w.resolve(rec);
      return false;
    });
  };

  events(): SensorEvent[] {
    return this.records.filter((r): r is SensorEvent => r.kind !== "stats");
  }

  /** Resolves with the first record (already seen or future) that matches; rejects after timeoutMs. */
  waitFor<T extends DecodedRecord>(
    match: (r: DecodedRecord) => r is T,
    what: string,
    timeoutMs = 5000,
  ): Promise<T> {
    const seen = this.records.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
      this.#waiters.push({
        match,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r as T);
        },
      });
    });
  }
}

export interface RunResult {
  readonly pid: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (a minimal locale keeps its opens few and predictable). */
export function run(file: string, args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin", LC_ALL: "C" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      stdout += t;
    });
    child.stderr.setEncoding("utf8").on("data", (t: string) => {
      stderr += t;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ pid: child.pid ?? -1, code, stdout, stderr }));
  });
}

/** Polls find() every 20 ms until it returns a value; rejects naming `what` after the timeout. */
export function waitUntil<T>(find: () => T | undefined, what: string, timeoutMs = 8000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      const found = find();
      if (found !== undefined) resolve(found);
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

/** Writes `source` to `dir/name.c`, builds it with cc and returns the program's path. */
export function compileC(dir: string, name: string, source: string): string {
  const program = join(dir, name);
  writeFileSync(`${program}.c`, source);
  execFileSync("cc", ["-O1", "-o", program, `${program}.c`]);
  return program;
}

/** An enricher over a process table seeded from this machine's /proc, as the agent starts one. */
export function seededEnricher(): Enricher {
  const table = new ProcessTable({ bootTimeNs: procBootTimeNs() });
  table.seedFromProc();
  return new Enricher(table, new UserDb(), "test");
}

/**
 * The tracepoints process `pid` has BPF programs on, as the kernel reports
 * them (`bpftool perf list`): "tracepoint:sys_exit_openat" for a classic
 * (per-syscall) tracepoint, "raw_tracepoint:sys_exit" for a tp_btf program.
 */
export function attachedTracepoints(pid: number): Set<string> {
  const list = JSON.parse(execFileSync("bpftool", ["-j", "perf", "list"], { encoding: "utf8" })) as {
    pid: number;
    fd_type: string;
    tracepoint?: string;
  }[];
  return new Set(
    list.filter((p) => p.pid === pid && p.tracepoint).map((p) => `${p.fd_type}:${p.tracepoint}`),
  );
}

/** Whether the kernel has a syscalls:sys_exit_<name> tracepoint (a syscall it lacks has none). */
export function hasExitTracepoint(name: string): boolean {
  return ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"].some((root) =>
    existsSync(`${root}/events/syscalls/sys_exit_${name}`),
  );
}

/**
 * Hot reload of the rules: on request (SIGHUP) or when a rules file or
 * folder changes, the whole set is compiled again first; only a set that
 * compiles replaces the running one. A set that does not compile leaves the
 * old one running and is reported with the error's file:line:column.
 */
import { type FSWatcher, watch } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import type { Ruleset } from "../rules/ruleset.js";

export type ReloadTrigger = "signal" | "file-change" | "manual";

export type ReloadResult =
  | {
      readonly ok: true;
      readonly trigger: ReloadTrigger;
      readonly ruleset: Ruleset;
      readonly previous: Ruleset;
    }
  | { readonly ok: false; readonly trigger: ReloadTrigger; readonly error: Error };

export interface RulesReloaderOptions {
  /** Rules files and folders, in load order (as given to loadRules). */
  readonly paths: readonly string[];
  /** The ruleset running now. */
  readonly current: Ruleset;
  /** Compiles the whole set; throws (RulesError, fs error) when it cannot. */
  readonly load: (paths: readonly string[]) => Promise<Ruleset>;
  /**
   * Makes `next` the running set. Called synchronously between two events
   * (the agent is one thread and the pipeline handles one record at a
   * time), so every event meets exactly one ruleset.
   */
  readonly apply: (next: Ruleset, previous: Ruleset) => void;
  /** Every attempt's outcome, for logs and metrics. */
  readonly onResult: (result: ReloadResult) => void;
  /** Quiet time after the last file-system change before reloading; editors write in bursts. */
  readonly debounceMs?: number;
}

const DEFAULT_DEBOUNCE_MS = 250;

function isRulesFileName(name: string): boolean {
  return name.endsWith(".yaml") || name.endsWith(".yml");
}

export class RulesReloader {
  readonly #opts: RulesReloaderOptions;
  readonly #watchers: FSWatcher[] = [];
  #current: Ruleset;
  #timer: NodeJS.Timeout | undefined;
  /** The reload under way; another request meanwhile runs once after it. */
  #running: Promise<ReloadResult> | undefined;
  #again: ReloadTrigger | undefined;
  #stopped = false;

  constructor(opts: RulesReloaderOptions) {
    this.#opts = opts;
    this.#current = opts.current;
  }

  get current(): Ruleset {
    return this.#current;
  }

  /**
   * Watches every rules path: a file through its folder (editors and
   * ConfigMap updates replace files by rename, which a watch on the file
   * itself would miss), a folder for its *.yaml/*.yml entries.
   */
  async watch(): Promise<void> {
    const byDir = new Map<string, Set<string> | "all">();
    for (const p of this.#opts.paths) {
      const abs = resolve(p);
      const isDir = (await stat(abs)).isDirectory();
      const dir = isDir ? abs : dirname(abs);
      const prev = byDir.get(dir);
      if (isDir) byDir.set(dir, "all");
      else if (prev !== "all") byDir.set(dir, new Set([...(prev ?? []), basename(abs)]));
    }
    for (const [dir, names] of byDir) {
      const w = watch(dir, { persistent: false }, (_event, file) => {
        const name = file?.toString();
        if (name === undefined) return this.#schedule();
        // Kubernetes ConfigMap volumes swap a "..data" symlink: count it as a change too.
        if (
          names === "all"
            ? isRulesFileName(name) || name.startsWith("..")
            : names.has(name) || name.startsWith("..")
        )
          this.#schedule();
      });
      w.on("error", () => {
        // The folder went away; the next SIGHUP still reloads (and reports the missing file).
      });
      this.#watchers.push(w);
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.reload("file-change");
    }, this.#opts.debounceMs ?? DEFAULT_DEBOUNCE_MS);
    this.#timer.unref();
  }

  /** Compiles the set again and swaps it in if it compiles. Concurrent requests coalesce. */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    if (this.#running !== undefined) {
      this.#again = trigger;
      return this.#running;
    }
    const run = async (): Promise<ReloadResult> => {
      let result: ReloadResult;
      try {
        const next = await this.#opts.load(this.#opts.paths);
        const previous = this.#current;
        if (this.#stopped) throw new Error("reloader stopped");
        this.#opts.apply(next, previous);
        this.#current = next;
        result = { ok: true, trigger, ruleset: next, previous };
      } catch (err) {
        result = { ok: false, trigger, error: err instanceof Error ? err : new Error(String(err)) };
      }
      this.#opts.onResult(result);
      return result;
    };
    const p = run().finally(() => {
      this.#running = undefined;
      const again = this.#again;
      this.#again = undefined;
      if (again !== undefined && !this.#stopped) void this.reload(again);
    });
    this.#running = p;
    return p;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    this.#watchers.length = 0;
  }
}

import { readFileSync, statSync } from "node:fs";
import type { UserLookup } from "./process-info.js";

/** Parses passwd/group style files: name:x:id:… → id → name. Comments and malformed lines are skipped. */
export function parseIdFile(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(":");
    const name = fields[0];
    const id = Number(fields[2]);
    if (name === undefined || name === "" || !Number.isInteger(id)) continue;
    if (!names.has(id)) names.set(id, name); // the first entry for an id wins, as getpwuid does
  }
  return names;
}

class IdFile {
  private names = new Map<number, string>();
  private mtimeMs = -1;
  private checkedAt = 0;

  constructor(
    private readonly path: string,
    private readonly recheckMs: number,
  ) {}

  lookup(id: number): string | undefined {
    const now = Date.now();
    if (now - this.checkedAt >= this.recheckMs) {
      this.checkedAt = now;
      this.reloadIfChanged();
    }
    return this.names.get(id);
  }

  private reloadIfChanged(): void {
    try {
      const mtimeMs = statSync(this.path).mtimeMs;
      if (mtimeMs === this.mtimeMs) return;
      this.names = parseIdFile(readFileSync(this.path, "utf8"));
      this.mtimeMs = mtimeMs;
    } catch {
      // Missing file (a minimal container image): no names, ids still answer.
      this.names = new Map();
      this.mtimeMs = -1;
    }
  }
}

export interface UserDbOptions {
  passwdPath?: string;
  groupPath?: string;
  /** How often a lookup may stat the files to notice an edit. */
  recheckMs?: number;
}

/** uid/gid → names from /etc/passwd and /etc/group, cached and reloaded when the files change. */
export class UserDb implements UserLookup {
  private readonly users: IdFile;
  private readonly groups: IdFile;

  constructor(options: UserDbOptions = {}) {
    const recheckMs = options.recheckMs ?? 2000;
    this.users = new IdFile(options.passwdPath ?? "/etc/passwd", recheckMs);
    this.groups = new IdFile(options.groupPath ?? "/etc/group", recheckMs);
  }

  userName(uid: number): string | undefined {
    return this.users.lookup(uid);
  }

  groupName(gid: number): string | undefined {
    return this.groups.lookup(gid);
  }
}

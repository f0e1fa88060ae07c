import { readFileSync } from "node:fs";
import type { UserLookup } from "../enrich/process-info.js";
import { parseIdFile } from "../enrich/user-db.js";

/** uid/gid → names frozen at one moment: what a capture carries and a replay answers from. */
export class StaticUsers implements UserLookup {
  private readonly users: Map<number, string>;
  private readonly groups: Map<number, string>;

  constructor(users: Iterable<readonly [number, string]>, groups: Iterable<readonly [number, string]>) {
    this.users = new Map(users);
    this.groups = new Map(groups);
  }

  userName(uid: number): string | undefined {
    return this.users.get(uid);
  }

  groupName(gid: number): string | undefined {
    return this.groups.get(gid);
  }

  entries(): { users: [number, string][]; groups: [number, string][] } {
    return { users: [...this.users], groups: [...this.groups] };
  }
}

function readIds(path: string): Map<number, string> {
  try {
    return parseIdFile(readFileSync(path, "utf8"));
  } catch {
    return new Map();
  }
}

/** What /etc/passwd and /etc/group say now (missing files: no names). */
export function snapshotUsers(passwdPath = "/etc/passwd", groupPath = "/etc/group"): StaticUsers {
  return new StaticUsers(readIds(passwdPath), readIds(groupPath));
}

import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseIdFile, UserDb } from "../../src/enrich/user-db.js";

describe("UserDb", () => {
  it("parses passwd lines, skipping comments and junk; the first entry for an id wins", () => {
    const names = parseIdFile(
      "# c\nroot:x:0:0:root:/root:/bin/bash\nbad line\ntoor:x:0:0::/:/bin/sh\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n",
    );
    expect([...names]).toEqual([
      [0, "root"],
      [33, "www-data"],
    ]);
  });

  it("answers from the files and notices when they change", () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-users-"));
    try {
      const passwd = join(dir, "passwd");
      const group = join(dir, "group");
      writeFileSync(passwd, "alice:x:1000:1000::/home/alice:/bin/sh\n");
      writeFileSync(group, "staff:x:50:\n");
      const db = new UserDb({ passwdPath: passwd, groupPath: group, recheckMs: 0 });
      expect(db.userName(1000)).toBe("alice");
      expect(db.groupName(50)).toBe("staff");
      expect(db.userName(1001)).toBeUndefined();
      writeFileSync(passwd, "alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n");
      utimesSync(passwd, new Date(), new Date(Date.now() + 5000));
      expect(db.userName(1001)).toBe("bob");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads this machine's /etc/passwd", () => {
    expect(new UserDb().userName(0)).toBe("root");
  });
});

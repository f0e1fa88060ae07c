/**
 * Path arithmetic (src/enrich/path.ts), including the memo of the last
 * absolute path resolveAgainst normalized: whatever order paths come in, each
 * answer is the path's own normal form.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizePath, resolveAgainst } from "../../src/enrich/path.js";

describe("normalizePath / resolveAgainst", () => {
  it("normalizes the way the kernel walks a path, without symlinks", () => {
    expect(normalizePath("/etc/hostname")).toBe("/etc/hostname");
    expect(normalizePath("/etc//./x/../hostname/")).toBe("/etc/hostname");
    expect(normalizePath("/..")).toBe("/");
    expect(resolveAgainst("x/../y", "/home/a")).toBe("/home/a/y");
    expect(resolveAgainst("y", undefined)).toBeUndefined();
    expect(resolveAgainst("y", "relative")).toBeUndefined();
    expect(resolveAgainst("", "/home")).toBeUndefined();
  });

  it("answers each path on its own when normal and abnormal paths alternate and repeat", () => {
    const sequence = ["/a/./b", "/a/b", "/a/./b", "/a/./b", "/", "/a//b/", "/a/b", "/a/./b", "/c"];
    for (const p of sequence) expect(resolveAgainst(p, "/cwd")).toBe(normalizePath(p));
  });

  it("gives what normalizePath gives for any sequence of absolute paths (property)", () => {
    const path = fc
      .array(fc.constantFrom("a", "b", ".", "..", "", "é"), { maxLength: 6 })
      .map((segs) => `/${segs.join("/")}`);
    fc.assert(
      fc.property(fc.array(path, { maxLength: 50 }), (paths) => {
        for (const p of paths) expect(resolveAgainst(p, "/cwd")).toBe(normalizePath(p));
      }),
    );
  });
});

/** Path arithmetic the way the kernel sees it (no symlinks followed, no file system access). */

/** "//", "/./", "/../", a trailing "/", "/." or "/..". */
const NEEDS_NORMALIZING = /\/\/|\/\.\.?(?:\/|$)|.\/$/;

/** "." and ".." resolved, repeated and trailing "/" dropped; always absolute. */
export function normalizePath(path: string): string {
  // Most paths are already normal: skip the split/join on the hot path.
  if (path.startsWith("/") && !NEEDS_NORMALIZING.test(path)) return path;
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return `/${out.join("/")}`;
}

/** The last absolute path resolveAgainst normalized, and its normal form ("/" is its own). */
let lastAbsolute = "/";
let lastNormal = "/";

/**
 * A path as a syscall saw it, made absolute against a base directory (the
 * cwd or a dirfd's path). undefined when it is relative and the base is not
 * known: unknown beats guessed.
 */
export function resolveAgainst(path: string, base: string | undefined): string | undefined {
  if (path === "") return undefined;
  if (path.charCodeAt(0) === 0x2f) {
    // Every open lands here, and a host opens the same files again and again: the last
    // absolute path and its normal form are kept (strings compare by value: exact).
    if (path !== lastAbsolute) {
      lastNormal = normalizePath(path);
      lastAbsolute = path;
    }
    return lastNormal;
  }
  if (base === undefined || !base.startsWith("/")) return undefined;
  return normalizePath(`${base}/${path}`);
}

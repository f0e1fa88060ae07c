/**
 * fnmatch(3) with no flags, as libsinsp's `glob`/`iglob` operators use it:
 * `*` and `?` match any character including `/`, `[...]` is a bracket
 * expression (`[!...]` or `[^...]` negated), a backslash quotes the next
 * character. Compiled once into an anchored RegExp.
 */

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

/** Translates a bracket expression starting at pattern[i] === "["; undefined when it is not closed. */
function bracket(pattern: string, i: number): { source: string; next: number } | undefined {
  let j = i + 1;
  let negate = false;
  if (pattern[j] === "!" || pattern[j] === "^") {
    negate = true;
    j++;
  }
  let body = "";
  let first = true;
  while (j < pattern.length) {
    const c = pattern[j] ?? "";
    if (c === "]" && !first) {
      return { source: `[${negate ? "^" : ""}${body}]`, next: j + 1 };
    }
    if (c === "[" && pattern[j + 1] === ":") {
      const end = pattern.indexOf(":]", j + 2);
      if (end > 0) {
        const cls = POSIX_CLASSES[pattern.slice(j + 2, end)];
        if (cls !== undefined) {
          body += cls;
          j = end + 2;
          first = false;
          continue;
        }
      }
    }
    if (c === "\\" && j + 1 < pattern.length) {
      body += escapeRegExp(pattern[j + 1] ?? "");
      j += 2;
    } else {
      body += c === "-" && !first && pattern[j + 1] !== "]" ? "-" : escapeRegExp(c);
      j++;
    }
    first = false;
  }
  return undefined;
}

const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: "a-zA-Z0-9",
  alpha: "a-zA-Z",
  digit: "0-9",
  lower: "a-z",
  upper: "A-Z",
  space: " \\t\\n\\r\\f\\v",
  xdigit: "0-9a-fA-F",
  punct: "!-\\/:-@\\[-`{-~",
  blank: " \\t",
  cntrl: "\\x00-\\x1f\\x7f",
  print: "\\x20-\\x7e",
  graph: "\\x21-\\x7e",
};

export function globToRegExp(pattern: string, caseInsensitive = false): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i] ?? "";
    if (c === "*") {
      source += ".*";
      i++;
    } else if (c === "?") {
      source += ".";
      i++;
    } else if (c === "[") {
      const b = bracket(pattern, i);
      if (b === undefined) {
        source += "\\[";
        i++;
      } else {
        source += b.source;
        i = b.next;
      }
    } else if (c === "\\" && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[i + 1] ?? "");
      i += 2;
    } else {
      source += escapeRegExp(c);
      i++;
    }
  }
  return new RegExp(`^${source}$`, caseInsensitive ? "si" : "s");
}

export function hasGlobChars(text: string): boolean {
  return /[*?[]/.test(text);
}

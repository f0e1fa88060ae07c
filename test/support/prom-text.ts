/**
 * A small parser of the Prometheus text exposition format (0.0.4), for tests
 * that scrape a live /metrics over HTTP. It reads what prom-client writes:
 * # HELP / # TYPE lines, samples with optional labels and timestamp, the
 * label-value escapes \\ \" \n, and +Inf/-Inf/NaN values (any case). It is strict:
 * a line it does not understand throws, so a malformed exposition fails the
 * test rather than being skipped.
 */

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestampMs?: number;
}

export interface PromExposition {
  readonly samples: readonly PromSample[];
  /** Family name → counter | gauge | histogram | summary | untyped. */
  readonly types: ReadonlyMap<string, string>;
  readonly help: ReadonlyMap<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(text: string, line: string): number {
  // Case-insensitive like Prometheus's own parser (Go's ParseFloat): prom-client writes "Nan".
  if (/^\+?inf$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  const value = Number(text);
  if (text === "" || Number.isNaN(value)) throw new Error(`bad sample value in line: ${line}`);
  return value;
}

function parseLabels(text: string, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let s = text.slice(1); // after "{"
  for (;;) {
    s = s.trimStart();
    if (s.startsWith("}")) return { labels, rest: s.slice(1) };
    const name = LABEL_NAME.exec(s)?.[0];
    if (name === undefined || s[name.length] !== "=" || s[name.length + 1] !== '"') {
      throw new Error(`bad label in line: ${line}`);
    }
    s = s.slice(name.length + 2);
    let value = "";
    let i = 0;
    for (; i < s.length && s[i] !== '"'; i++) {
      if (s[i] === "\\") {
        const next = s[++i];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`bad escape in line: ${line}`);
      } else {
        value += s[i];
      }
    }
    if (i >= s.length) throw new Error(`unterminated label value in line: ${line}`);
    if (Object.hasOwn(labels, name)) throw new Error(`duplicate label ${name} in line: ${line}`);
    labels[name] = value;
    s = s.slice(i + 1).trimStart();
    if (s.startsWith(",")) s = s.slice(1);
    else if (!s.startsWith("}")) throw new Error(`expected , or } in line: ${line}`);
  }
}

export function parsePromText(text: string): PromExposition {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, kind, name, rest = ""] = m as unknown as [string, string, string, string | undefined];
      if (kind === "TYPE") types.set(name, rest.trim());
      else help.set(name, rest);
      continue;
    }
    const name = NAME.exec(line)?.[0];
    if (name === undefined) throw new Error(`bad sample line: ${line}`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) ({ labels, rest } = parseLabels(rest, line));
    const parts = rest.trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2) throw new Error(`bad sample line: ${line}`);
    const value = parseValue(parts[0] ?? "", line);
    samples.push(
      parts[1] === undefined
        ? { name, labels, value }
        : { name, labels, value, timestampMs: Number(parts[1]) },
    );
  }
  return { samples, types, help };
}

/** Samples of `name` whose labels include every one given. */
export function findSamples(
  exposition: PromExposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): PromSample[] {
  return exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the one sample of `name` matching `labels`; throws when none or several match. */
export function sampleValue(
  exposition: PromExposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const found = findSamples(exposition, name, labels);
  if (found.length !== 1) {
    throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  }
  return (found[0] as PromSample).value;
}

/**
 * Rule outputs: Falco's `%field` / `%field[arg]` / `%<width>field`
 * substitution, parsed once into literal and field parts. Field names are
 * matched the libsinsp way (the longest known name that prefixes the text
 * after `%`), missing values render as `<NA>`, and every field named in the
 * output is also returned typed, for exporters' output_fields.
 */
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { BindingOptions } from "./binding.js";
import type { FieldValue } from "./detection.js";
import { FieldError, RulesError } from "./errors.js";
import type { Extractor } from "./fields.js";
import type { SourceText } from "./source-text.js";
import type { RuntimeValue } from "./values.js";

export const MISSING_VALUE = "<NA>";

/**
 * Falco used to expand `%container.info`; it now drops it but keeps it in
 * its rulesets for compatibility, so we accept it and render nothing.
 */
const DROPPED_TOKENS = new Set(["container.info"]);

type Part =
  | { readonly kind: "text"; readonly text: string }
  | {
      readonly kind: "field";
      /** The token as written ("proc.aname[2]"): the output_fields key. */
      readonly key: string;
      readonly get: Extractor;
      readonly render: ((v: RuntimeValue) => string) | undefined;
      readonly width: number;
    };

export interface RenderedOutput {
  readonly text: string;
  readonly fields: Readonly<Record<string, FieldValue>>;
}

export interface CompiledOutput {
  /** Field keys in order of first appearance. */
  readonly fieldNames: readonly string[];
  render(e: EnrichedEvent): RenderedOutput;
}

function typed(v: RuntimeValue | undefined): FieldValue {
  if (v === undefined) return null;
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  return v;
}

function renderValue(part: Extract<Part, { kind: "field" }>, v: RuntimeValue | undefined): string {
  let s: string;
  if (v === undefined) s = MISSING_VALUE;
  else if (part.render !== undefined) s = part.render(v);
  else if (v instanceof Uint8Array) s = Buffer.from(v).toString("hex");
  else s = String(v);
  if (part.width > 0) s = s.length > part.width ? s.slice(0, part.width) : s.padEnd(part.width, " ");
  return s;
}

/** Parses and binds an output format; throws RulesError at the offending token. */
export function compileOutput(source: SourceText, opts: BindingOptions): CompiledOutput {
  const text = source.text;
  // Falco trims outputs; keep offsets into the untrimmed text for positions.
  let start = 0;
  let end = text.length;
  while (start < end && /\s/.test(text[start] ?? "")) start++;
  while (end > start && /\s/.test(text[end - 1] ?? "")) end--;

  const parts: Part[] = [];
  let literal = "";
  let i = start;
  while (i < end) {
    const c = text[i];
    if (c !== "%") {
      literal += c;
      i++;
      continue;
    }
    const tokenStart = i;
    i++;
    if (i >= end) throw new RulesError("output cannot end with '%'", source.positionAt(tokenStart));
    let width = 0;
    while (i < end && /[0-9]/.test(text[i] ?? "")) width = width * 10 + Number(text[i++]);
    const match = opts.fields.matchOutputToken(text.slice(0, end), i);
    if (match === undefined) {
      throw new RulesError(
        `invalid output token '%${text.slice(i, i + 12)}': expected a field name after '%'`,
        source.positionAt(tokenStart),
      );
    }
    if (literal !== "") {
      parts.push({ kind: "text", text: literal });
      literal = "";
    }
    const key = match.arg === undefined ? match.name : `${match.name}[${match.arg}]`;
    i = match.end;
    if (DROPPED_TOKENS.has(key)) continue;
    const unsupported =
      opts.onUnsupported === undefined ? undefined : opts.fields.unsupportedReason(match.name);
    if (unsupported !== undefined) {
      // Rendered as Falco renders a field without a value.
      opts.onUnsupported?.(key, unsupported, source.positionAt(tokenStart + 1));
      parts.push({ kind: "field", key, get: () => undefined, render: undefined, width });
      continue;
    }
    const bound = opts.fields.bind(match.name, match.arg, opts.bind);
    if (typeof bound === "string") throw new FieldError(bound, source.positionAt(tokenStart + 1));
    if (bound.unsupported !== undefined) {
      if (opts.onUnsupported === undefined)
        throw new FieldError(bound.unsupported, source.positionAt(tokenStart + 1));
      opts.onUnsupported(key, bound.unsupported, source.positionAt(tokenStart + 1));
    }
    if (bound.filterOnly) {
      throw new RulesError(
        `field '${key}' can be used in conditions only, not in outputs${bound.anyOf !== undefined ? " (give it an index)" : ""}`,
        source.positionAt(tokenStart + 1),
      );
    }
    if (bound.warning !== undefined) opts.warn(bound.warning, source.positionAt(tokenStart + 1));
    const get = bound.costly ? opts.cache.cached(bound.name, bound.extract) : bound.extract;
    parts.push({ kind: "field", key, get, render: bound.render, width });
  }
  if (literal !== "") parts.push({ kind: "text", text: literal });

  const fieldParts = parts.filter((p): p is Extract<Part, { kind: "field" }> => p.kind === "field");
  const fieldNames = [...new Set(fieldParts.map((p) => p.key))];
  return {
    fieldNames,
    render(e) {
      let out = "";
      const fields: Record<string, FieldValue> = {};
      for (const p of parts) {
        if (p.kind === "text") {
          out += p.text;
          continue;
        }
        const v = p.get(e);
        fields[p.key] = typed(v);
        out += renderValue(p, v);
      }
      return { text: out, fields };
    },
  };
}

/**
 * Field transformers: `tolower(proc.name)`, `basename(fd.name)` … One entry
 * each: the types it accepts, the type it yields, and the function.
 */
import type { FieldType, RuntimeValue } from "./values.js";

export interface TransformerDef {
  readonly name: string;
  readonly accepts: ReadonlySet<FieldType>;
  readonly output: (input: FieldType) => FieldType;
  /** undefined when the value cannot be transformed (invalid base64). */
  readonly apply: (v: RuntimeValue) => RuntimeValue | undefined;
}

const STRINGS: ReadonlySet<FieldType> = new Set(["string"]);

function decodeBase64(v: string): string | undefined {
  const t = v.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 === 1) return undefined;
  return Buffer.from(t, "base64").toString("utf8");
}

function basename(v: string): string {
  const i = v.lastIndexOf("/");
  return i < 0 ? v : v.slice(i + 1);
}

const TRANSFORMER_LIST: readonly TransformerDef[] = [
  { name: "tolower", accepts: STRINGS, output: () => "string", apply: (v) => (v as string).toLowerCase() },
  { name: "toupper", accepts: STRINGS, output: () => "string", apply: (v) => (v as string).toUpperCase() },
  { name: "b64", accepts: STRINGS, output: () => "string", apply: (v) => decodeBase64(v as string) },
  { name: "basename", accepts: STRINGS, output: () => "string", apply: (v) => basename(v as string) },
  {
    name: "len",
    accepts: new Set<FieldType>(["string", "bytes"]),
    output: () => "number",
    apply: (v) => (v instanceof Uint8Array ? v.length : (v as string).length),
  },
];

export const TRANSFORMERS: ReadonlyMap<string, TransformerDef> = new Map(
  TRANSFORMER_LIST.map((t) => [t.name, t]),
);

/** `peregrine fields`: the field registry as text or JSON. */
import { DEFAULT_FIELDS, type FieldRegistry } from "../rules/fields.js";

export interface FieldDoc {
  readonly name: string;
  readonly type: string;
  readonly argument: "none" | "index" | "name" | "key";
  readonly description: string;
  /** Set for Falco fields the sensor cannot answer. */
  readonly unsupported?: string;
}

export function fieldDocs(registry: FieldRegistry = DEFAULT_FIELDS, prefix?: string): FieldDoc[] {
  const docs: FieldDoc[] = [
    ...registry.entries.map((e) => ({
      name: e.name,
      type: e.type,
      argument: e.argument,
      description: e.description,
    })),
    ...registry.unsupported.map((u) => ({
      name: u.name,
      type: "-",
      argument: "none" as const,
      description: "",
      unsupported: u.reason,
    })),
  ];
  return docs
    .filter((d) => prefix === undefined || d.name.startsWith(prefix))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function displayName(d: FieldDoc): string {
  if (d.argument === "index") return `${d.name}[N]`;
  if (d.argument === "name") return `${d.name}.<name>`;
  if (d.argument === "key") return `${d.name}[<name>]`;
  return d.name;
}

export function formatFields(docs: readonly FieldDoc[], json: boolean): string {
  if (json) return `${JSON.stringify(docs, null, 2)}\n`;
  const width = Math.max(...docs.map((d) => displayName(d).length), 10);
  const lines = docs.map((d) =>
    d.unsupported === undefined
      ? `${displayName(d).padEnd(width)}  ${d.type.padEnd(8)}  ${d.description}`
      : `${displayName(d).padEnd(width)}  ${"-".padEnd(8)}  (not supported: ${d.unsupported})`,
  );
  return `${lines.join("\n")}\n`;
}

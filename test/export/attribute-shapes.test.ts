/**
 * Key sequences laid down as V8 hidden classes (attribute-shapes.ts), so
 * that the SDK's record attribute objects stay fast objects: what is noted,
 * the bound, and — in a child process where V8's natives syntax can ask —
 * that the SDK's objects really are fast after the first record of a
 * sequence, and hash tables without it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { LogAttributes } from "@opentelemetry/api-logs";
import { afterEach, describe, expect, it } from "vitest";
import { AttributeShapes, MAX_SHAPES } from "../../src/export/attribute-shapes.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function attrs(n: number, prefix = "k"): LogAttributes {
  const out: LogAttributes = {};
  for (let i = 0; i < n; i++) out[`${prefix}.${i}`] = i % 2 === 0 ? `v${i}` : i;
  return out;
}

describe("attribute shapes", () => {
  it("notes each key sequence once, in its order", () => {
    const shapes = new AttributeShapes();
    shapes.note(attrs(30));
    shapes.note(attrs(30));
    expect(shapes.size).toBe(1);
    const reordered = Object.fromEntries(Object.entries(attrs(30)).reverse());
    shapes.note(reordered);
    shapes.note(attrs(31));
    expect(shapes.size).toBe(3);
  });

  it("leaves out keys a store does not add as a property, and stops at its bound", () => {
    const shapes = new AttributeShapes();
    shapes.note({ ...attrs(20), "7": 1 });
    const proto = attrs(20);
    Object.defineProperty(proto, "__proto__", { value: 1, enumerable: true });
    shapes.note(proto);
    expect(shapes.size).toBe(0);
    for (let i = 0; i < MAX_SHAPES + 10; i++) shapes.note(attrs(20, `s${i}`));
    expect(shapes.size).toBe(MAX_SHAPES);
  });

  it("keeps the SDK's record attribute objects fast (V8 natives syntax, in a child process)", () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-shapes-"));
    dirs.push(dir);
    const script = join(dir, "check.mjs");
    const src = (p: string) =>
      JSON.stringify(fileURLToPath(new URL(`../../src/export/${p}`, import.meta.url)));
    writeFileSync(
      script,
      `import { SdkRecordMaker } from ${src("sdk-records.ts")};
import { makeOrigin } from ${src("detection-record.ts")};
const isFast = new Function("o", "return %HasFastProperties(o)");
const origin = makeOrigin({ "service.name": "s" }, "peregrine", "1");
const rule = {}; for (let i = 0; i < 10; i++) rule["security_rule.k" + i] = "r" + i;
const proc = {}; for (let i = 0; i < 15; i++) proc["process.k" + i] = i;
const batch = (from) => Array.from({ length: 4 }, (_, j) => {
  const own = {}; for (let i = 0; i < 16; i++) own["peregrine.field.k" + i] = "v" + (from + j);
  return { origin, timeNs: 1n, observedNs: 2n, attributes: [rule, proc, own] };
});
const maker = new SdkRecordMaker({ attributeCountLimit: 128, attributeValueLengthLimit: 8192 });
const first = maker.make(batch(0));
const second = maker.make(batch(4));
// A record made by the SDK alone, with no sequence laid down: a hash table.
const { LoggerProvider } = await import(${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve("@opentelemetry/sdk-logs")).href)});
let plain;
// Its input built with keyed stores (Object.fromEntries would itself lay down a chain of hidden classes).
const plainInput = {};
for (const [k, v] of Object.entries(second[0].attributes)) plainInput["plain." + k] = v;
new LoggerProvider({ processors: [{ onEmit: (r) => { plain = r; }, forceFlush: async () => {}, shutdown: async () => {} }] })
  .getLogger("x").emit({ attributes: plainInput });
console.log(JSON.stringify({
  attributes: Object.keys(second[0].attributes).length,
  firstFast: first.map((r) => isFast(r.attributes)),
  secondFast: second.map((r) => isFast(r.attributes)),
  plainFast: isFast(plain.attributes),
  shapes: maker.shapes,
}));
`,
    );
    const run = spawnSync(process.execPath, ["--allow-natives-syntax", "--import", "tsx", script], {
      encoding: "utf8",
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
    });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      attributes: 41,
      // The first record of the sequence is made before it is noted.
      firstFast: [false, true, true, true],
      secondFast: [true, true, true, true],
      plainFast: false,
      shapes: 1,
    });
  });
});

/**
 * What the pipeline counts per event type (peregrine_events_total{type}),
 * through PeregrineMetrics' handle shortcut for the last two types: every
 * event is counted under its own type whatever the order types come in.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PeregrineMetrics } from "../src/export/metrics.js";
import { parsePromText, sampleValue } from "./support/prom-text.js";

const TYPES = ["openat", "close", "execve", "connect", "clone"];

async function counted(types: readonly string[]): Promise<Map<string, number>> {
  const m = new PeregrineMetrics({ version: "test", defaultMetrics: false });
  for (const t of types) m.eventDecoded(t);
  const text = parsePromText(await m.metrics());
  const out = new Map<string, number>();
  for (const t of new Set(types)) out.set(t, sampleValue(text, "peregrine_events_total", { type: t }));
  return out;
}

function tally(types: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of types) out.set(t, (out.get(t) ?? 0) + 1);
  return out;
}

describe("events counted by type", () => {
  it("counts alternating, repeated and rotating types each under its own type", async () => {
    const seq = [
      ...Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? "openat" : "close")),
      "execve",
      "openat",
      "connect",
      "close",
      "clone",
      "clone",
      "openat",
      "execve",
      "connect",
    ];
    expect(await counted(seq)).toEqual(tally(seq));
  });

  it("matches a plain tally for any order of types (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...TYPES), { minLength: 1, maxLength: 60 }), async (seq) => {
        expect(await counted(seq)).toEqual(tally(seq));
      }),
      { numRuns: 200 },
    );
  });
});

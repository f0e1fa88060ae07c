import { describe, expect, it } from "vitest";
import { detectionId } from "../../src/export/detection-id.js";
import { makeDetection } from "../support/detection-fixtures.js";

describe("detection ids", () => {
  it("give a detection the same id each time it is asked about while handled, and every detection its own", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const d = makeDetection();
      const id = detectionId(d);
      expect(id).toMatch(/^[0-9a-f]{22}$/);
      // The metrics exemplar and the sinks ask in turn, with other detections of the same event in between.
      const other = makeDetection();
      detectionId(other);
      expect(detectionId(d)).toBe(id);
      ids.add(id);
      ids.add(detectionId(other));
    }
    expect(ids.size).toBe(2000);
  });

  it("share the run's prefix and count up", () => {
    const a = detectionId(makeDetection());
    const b = detectionId(makeDetection());
    expect(b.slice(0, 12)).toBe(a.slice(0, 12));
    expect(Number.parseInt(b.slice(12), 16)).toBe(Number.parseInt(a.slice(12), 16) + 1);
  });
});

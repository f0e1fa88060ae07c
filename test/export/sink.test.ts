import { describe, expect, it, vi } from "vitest";
import { type DetectionSink, FanOutSink } from "../../src/export/sink.js";
import type { Detection } from "../../src/rules/detection.js";
import { makeDetection } from "../support/detection-fixtures.js";
import { type RecordingCounters, recordingCounters } from "../support/recording-counters.js";

function memorySink(name: string): DetectionSink & { got: Detection[]; closed: boolean } {
  const got: Detection[] = [];
  return {
    name,
    got,
    closed: false,
    emit(d) {
      got.push(d);
    },
    async shutdown() {
      this.closed = true;
    },
  };
}

describe("FanOutSink", () => {
  it("sends every detection to every sink, in order", () => {
    const a = memorySink("a");
    const b = memorySink("b");
    const fan = new FanOutSink([a, b]);
    const d1 = makeDetection();
    const d2 = makeDetection();
    fan.emit(d1);
    fan.emit(d2);
    expect(a.got).toEqual([d1, d2]);
    expect(b.got).toEqual([d1, d2]);
  });

  it("isolates a sink that throws: the others still get the detection, the failure is counted and reported", () => {
    const before = memorySink("before");
    const after = memorySink("after");
    const broken: DetectionSink = {
      name: "broken",
      emit() {
        throw new Error("boom");
      },
      shutdown: async () => {},
    };
    const counters = new Map<string, RecordingCounters>();
    const onError = vi.fn(() => {
      throw new Error("the reporter breaks too");
    });
    const fan = new FanOutSink([before, broken, after], {
      countersFor: (name) => {
        const c = recordingCounters();
        counters.set(name, c);
        return c;
      },
      onError,
    });
    expect(() => fan.emit(makeDetection())).not.toThrow();
    expect(() => fan.emit(makeDetection())).not.toThrow();
    expect(before.got).toHaveLength(2);
    expect(after.got).toHaveLength(2);
    expect(counters.get("broken")?.totals.failed).toBe(2);
    expect(counters.get("before")?.totals.failed).toBe(0);
    expect(onError).toHaveBeenCalledTimes(2);
    expect(onError).toHaveBeenCalledWith("broken", expect.any(Error));
  });

  it("shuts every sink down even when some reject or throw", async () => {
    const ok = memorySink("ok");
    const rejects: DetectionSink = {
      name: "rejects",
      emit() {},
      shutdown: () => Promise.reject(new Error("no")),
    };
    const throws: DetectionSink = {
      name: "throws",
      emit() {},
      shutdown() {
        throw new Error("sync");
      },
    };
    const errors: string[] = [];
    const fan = new FanOutSink([rejects, throws, ok], { onError: (name) => errors.push(name) });
    await expect(fan.shutdown()).resolves.toBeUndefined();
    expect(ok.closed).toBe(true);
    expect(errors.sort()).toEqual(["rejects", "throws"]);
  });
});

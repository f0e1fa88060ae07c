import type { ExportCounters } from "../../src/export/sink.js";

/** ExportCounters that remember: for asserting what a sink counted without a metrics registry. */
export interface RecordingCounters extends ExportCounters {
  readonly totals: { sent: number; failed: number; dropped: number };
  /** The registered queue-length reader's current value (0 when none registered). */
  readQueueLength(): number;
}

export function recordingCounters(): RecordingCounters {
  const totals = { sent: 0, failed: 0, dropped: 0 };
  let reader: () => number = () => 0;
  return {
    totals,
    sent: (n) => {
      totals.sent += n;
    },
    failed: (n) => {
      totals.failed += n;
    },
    dropped: (n) => {
      totals.dropped += n;
    },
    queueLength: (read) => {
      reader = read;
    },
    readQueueLength: () => reader(),
  };
}

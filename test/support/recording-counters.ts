import type { ExportCounters } from "../../src/export/sink.js";

/** ExportCounters that remember: for asserting what a sink counted without a metrics registry. */
export interface RecordingCounters extends ExportCounters {
  readonly totals: { sent: number; failed: number; spooled: number; dropped: number };
  /** The registered queue-length reader's current value (0 when none registered). */
  readQueueLength(): number;
  /** The registered spool readers' current values. */
  readSpool(): { bytes: number; records: number };
}

export function recordingCounters(): RecordingCounters {
  const totals = { sent: 0, failed: 0, spooled: 0, dropped: 0 };
  let reader: () => number = () => 0;
  let spoolBytes: () => number = () => 0;
  let spoolRecords: () => number = () => 0;
  return {
    totals,
    sent: (n) => {
      totals.sent += n;
    },
    failed: (n) => {
      totals.failed += n;
    },
    spooled: (n) => {
      totals.spooled += n;
    },
    dropped: (n) => {
      totals.dropped += n;
    },
    queueLength: (read) => {
      reader = read;
    },
    spoolSize: (bytes, records) => {
      spoolBytes = bytes;
      spoolRecords = records;
    },
    readQueueLength: () => reader(),
    readSpool: () => ({ bytes: spoolBytes(), records: spoolRecords() }),
  };
}

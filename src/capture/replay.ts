/**
 * Replays a capture through the same enrichment and rules as a live run,
 * answering every /proc question from the capture and never from this
 * machine.
 */
import { StreamDecoder, type StreamDecoderStats } from "../decode/stream-decoder.js";
import { Enricher } from "../enrich/enricher.js";
import { ProcessTable } from "../enrich/process-table.js";
import type { DetectionSink } from "../export/sink.js";
import { Pipeline, type PipelineMetrics } from "../pipeline.js";
import type { Ruleset } from "../rules/ruleset.js";
import { openCapture } from "./capture-format.js";
import { ReplayProcSource } from "./proc-journal.js";
import { StaticUsers } from "./static-users.js";

export interface ReplayOptions {
  readonly ruleset: Ruleset;
  readonly sink: DetectionSink;
  readonly metrics?: PipelineMetrics | undefined;
}

export interface ReplayResult {
  readonly events: number;
  readonly detections: number;
  /** The file carried /proc answers and users (a `peregrine capture` file, not a bare stream). */
  readonly hadSnapshot: boolean;
  /** /proc questions the capture had no answer for, and the first few ("proc:42@17": key at record). */
  readonly unanswered: number;
  readonly unansweredSample: readonly string[];
  readonly hostname: string;
  readonly decoder: StreamDecoderStats;
  /** The tables after the replay (tests look inside). */
  readonly enricher: Enricher;
}

/** Runs a capture file through enrich → rules → sink. Throws CaptureFormatError / FramingError / StreamHeaderError. */
export function replayCapture(path: string, options: ReplayOptions): ReplayResult {
  const capture = openCapture(path);
  const source = new ReplayProcSource();
  source.add(capture.journal);
  const users = new StaticUsers(capture.meta?.users ?? [], capture.meta?.groups ?? []);
  const processes = new ProcessTable({ bootTimeNs: 0n, source });
  let enricher: Enricher | undefined;
  let pipeline: Pipeline | undefined;
  let hostname = capture.meta?.hostname ?? "";
  let seq = 0;
  const decoder = new StreamDecoder({
    onHeader: (header) => {
      if (hostname === "") hostname = header.hostname;
      enricher = new Enricher(processes, users, hostname);
      pipeline = new Pipeline(enricher, options.ruleset, options.sink, options.metrics);
    },
    onRecord: (record) => {
      source.seq = ++seq;
      pipeline?.handle(record);
    },
  });
  // The table as /proc described it when the capture started (answers recorded before record 1).
  processes.seedFromProc();
  capture.streamChunks((chunk) => decoder.push(chunk));
  decoder.end();
  if (enricher === undefined || pipeline === undefined) throw new Error(`${path}: no stream header`);
  return {
    events: pipeline.events,
    detections: pipeline.detections,
    hadSnapshot: capture.meta !== undefined,
    unanswered: source.unanswered,
    unansweredSample: source.unansweredSample,
    hostname,
    decoder: decoder.stats,
    enricher,
  };
}

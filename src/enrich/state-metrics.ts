import type { Enricher, EnrichmentMisses } from "./enricher.js";

/** The part of the metrics registry the state tables feed (PeregrineMetrics implements it). */
export interface StateMetricsSink {
  processTableSize(read: () => number): void;
  fdTableSize(read: () => number): void;
  enrichmentMiss(kind: keyof EnrichmentMisses, n: number): void;
}

const KINDS: readonly (keyof EnrichmentMisses)[] = ["process", "fd", "user", "container"];

/**
 * Points the table-size gauges at the tables and returns a function that
 * moves the tables' miss totals into peregrine_enrichment_misses_total as
 * increments. The tables count with plain numbers on the hot path; the
 * caller runs the returned function on its stats timer and at shutdown.
 */
export function reportStateMetrics(enricher: Enricher, sink: StateMetricsSink): () => void {
  sink.processTableSize(() => enricher.processes.size);
  sink.fdTableSize(() => enricher.fds.size);
  const last: Record<keyof EnrichmentMisses, number> = { process: 0, fd: 0, user: 0, container: 0 };
  return () => {
    const now = enricher.misses();
    for (const kind of KINDS) {
      const delta = now[kind] - last[kind];
      if (delta > 0) sink.enrichmentMiss(kind, delta);
      last[kind] = now[kind];
    }
  };
}

import type { DecodedRecord, SensorEvent } from "./decode/events.js";
import type { Enricher } from "./enrich/enricher.js";
import type { DetectionSink } from "./export/sink.js";
import type { Detection } from "./rules/detection.js";
import type { Ruleset } from "./rules/ruleset.js";

/** What the pipeline reports as it goes; PeregrineMetrics implements it. */
export interface PipelineMetrics {
  eventDecoded(type: string): void;
  /** The detection rides along so its id can become the counter's exemplar. */
  ruleMatched(rule: Detection["rule"], detection?: Detection): void;
  kernelStats(stats: Extract<DecodedRecord, { kind: "stats" }>): void;
  observeRuleEvaluation(secondsPerEvent: number): void;
}

/** One event in this many has its rule evaluation timed: timing every event would cost more than the rules. */
const TIMING_SAMPLE_EVERY = 64;

/**
 * Carries one decoded record through the stages after decode:
 * enrich → rules → export. The same object serves live runs, captures and
 * benchmarks, so what is measured is what runs.
 */
export class Pipeline {
  private ruleset: Ruleset;
  private sampleCountdown = TIMING_SAMPLE_EVERY;
  /** Events seen and detections raised since start. */
  events = 0;
  detections = 0;

  constructor(
    private readonly enricher: Enricher,
    ruleset: Ruleset,
    private readonly sink: DetectionSink,
    private readonly metrics: PipelineMetrics | undefined,
  ) {
    this.ruleset = ruleset;
  }

  /** Swaps in a new ruleset between two events: no event is evaluated twice or skipped. */
  replaceRuleset(ruleset: Ruleset): void {
    this.ruleset = ruleset;
  }

  readonly handle = (record: DecodedRecord): void => {
    if (record.kind === "stats") {
      this.metrics?.kernelStats(record);
      return;
    }
    this.handleEvent(record);
  };

  private handleEvent(event: SensorEvent): void {
    this.events++;
    this.metrics?.eventDecoded(event.evtType);
    const enriched = this.enricher.enrich(event);
    // Without metrics (replays, benches) nothing is timed and the countdown stays put.
    if (this.metrics !== undefined && --this.sampleCountdown === 0) {
      this.sampleCountdown = TIMING_SAMPLE_EVERY;
      const start = process.hrtime.bigint();
      this.ruleset.evaluate(enriched, this.emit);
      this.metrics.observeRuleEvaluation(Number(process.hrtime.bigint() - start) / 1e9);
    } else {
      this.ruleset.evaluate(enriched, this.emit);
    }
    this.enricher.afterRules(event);
  }

  private readonly emit = (detection: Detection): void => {
    this.detections++;
    this.metrics?.ruleMatched(detection.rule, detection);
    this.sink.emit(detection);
  };
}

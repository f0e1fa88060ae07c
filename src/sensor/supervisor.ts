/**
 * Keeps a loader running: when it dies (crash, kill -9, OOM), start a new one
 * after a backoff, with the event types last asked for. The agent's state
 * tables live in the agent, so they survive; the events of the gap are lost
 * and the restart is counted (peregrine_loader_restarts_total).
 */
import type { MalformedReason } from "../decode/record-decoder.js";
import type { StreamDecoderStats } from "../decode/stream-decoder.js";
import type { StreamHeader } from "../decode/stream-header.js";
import type { KernelFilter } from "./event-filter.js";
import { type Sensor, type SensorOptions, startSensor } from "./loader-process.js";

export interface SupervisorOptions extends SensorOptions {
  /** First delay before a restart; doubles per failed attempt up to maxBackoffMs. Default 250. */
  readonly initialBackoffMs?: number | undefined;
  /** Default 10000. */
  readonly maxBackoffMs?: number | undefined;
  /** A loader that ran this long resets the backoff. Default 30000. */
  readonly stableAfterMs?: number | undefined;
  /** A new loader attached after the previous one died. */
  onRestart?: ((sensor: Sensor, restarts: number) => void) | undefined;
  /** Starting a replacement failed; another attempt follows after `retryInMs`. */
  onRestartFailed?: ((err: Error, retryInMs: number) => void) | undefined;
}

export interface SupervisedSensor extends Sensor {
  /** Loaders started after the first one. */
  readonly restarts: number;
}

function addStats(a: StreamDecoderStats, b: StreamDecoderStats): StreamDecoderStats {
  const malformed = { ...a.malformed };
  for (const [k, v] of Object.entries(b.malformed)) malformed[k as MalformedReason] += v;
  return {
    decoded: a.decoded + b.decoded,
    malformed,
    unknownKinds: a.unknownKinds + b.unknownKinds,
    records: a.records + b.records,
    framingErrors: a.framingErrors + b.framingErrors,
    bytes: a.bytes + b.bytes,
  };
}

const ZERO: StreamDecoderStats = {
  decoded: 0,
  malformed: { "bad-size": 0, "past-buffer": 0, "short-record": 0, "length-past-size": 0, "bad-value": 0 },
  unknownKinds: 0,
  records: 0,
  framingErrors: 0,
  bytes: 0,
};

/**
 * Starts the loader like startSensor (rejects if the first one cannot
 * attach: a setup problem, not a crash) and restarts it whenever it exits
 * unasked. options.onLoaderExit still hears of every exit.
 */
export async function startSupervisedSensor(options: SupervisorOptions): Promise<SupervisedSensor> {
  const initialBackoff = options.initialBackoffMs ?? 250;
  const maxBackoff = options.maxBackoffMs ?? 10_000;
  const stableAfter = options.stableAfterMs ?? 30_000;
  let eventTypes = options.eventTypes;
  let stopping = false;
  let restarts = 0;
  let backoff = initialBackoff;
  let timer: NodeJS.Timeout | undefined;
  let finished = ZERO; // decoder totals of loaders that are gone
  let current: Sensor;
  let startedAt = Date.now();

  const launch = (): Promise<Sensor> =>
    startSensor({
      ...options,
      eventTypes,
      onLoaderExit: (code, signal, stderrTail) => {
        options.onLoaderExit?.(code, signal, stderrTail);
        if (stopping) return;
        finished = addStats(finished, current.decoderStats);
        if (Date.now() - startedAt >= stableAfter) backoff = initialBackoff;
        schedule();
      },
    });

  const schedule = (): void => {
    const delay = backoff;
    backoff = Math.min(backoff * 2, maxBackoff);
    timer = setTimeout(() => {
      timer = undefined;
      if (stopping) return;
      launch().then(
        (sensor) => {
          if (stopping) {
            void sensor.stop();
            return;
          }
          current = sensor;
          startedAt = Date.now();
          restarts++;
          options.onRestart?.(sensor, restarts);
        },
        (err: Error) => {
          if (stopping) return;
          options.onRestartFailed?.(err, backoff);
          schedule();
        },
      );
    }, delay);
  };

  current = await launch();
  startedAt = Date.now();

  return {
    get header(): StreamHeader {
      return current.header;
    },
    get pid(): number {
      return current.pid;
    },
    get decoderStats(): StreamDecoderStats {
      return addStats(finished, current.decoderStats);
    },
    get filter(): KernelFilter | undefined {
      return current.filter;
    },
    get restarts(): number {
      return restarts;
    },
    setEventTypes(evtTypes: ReadonlySet<string>): KernelFilter {
      // Kept for the next loader too; a dead one's stdin is simply not written.
      eventTypes = evtTypes;
      return current.setEventTypes(evtTypes);
    },
    async stop(): Promise<void> {
      stopping = true;
      if (timer !== undefined) clearTimeout(timer);
      await current.stop();
    },
  };
}

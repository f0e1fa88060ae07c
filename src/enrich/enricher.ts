import type { SensorEvent } from "../decode/events.js";
import type { EnrichedEvent } from "./enriched-event.js";
import type { FdLookup } from "./fd-info.js";
import type { UserLookup } from "./process-info.js";
import type { ProcessTable } from "./process-table.js";

/** Until the fd table lands: knows no fd. */
const NO_FDS: FdLookup = { get: () => undefined };

/**
 * Applies an event to the state tables and pairs it with them for the rules.
 * Exec and fork update the table before the rules see the event (an exec's
 * process is the new image); exit updates it after (see afterRules).
 */
export class Enricher {
  constructor(
    readonly processes: ProcessTable,
    readonly users: UserLookup,
    readonly hostname: string,
  ) {}

  enrich(event: SensorEvent): EnrichedEvent {
    switch (event.kind) {
      case "exec":
        this.processes.onExec(event);
        break;
      case "fork":
        this.processes.onFork(event);
        break;
      default:
        break;
    }
    return {
      event,
      process: this.processes.get(event.tgid),
      fd: undefined,
      fds: NO_FDS,
      processes: this.processes,
      users: this.users,
      hostname: this.hostname,
    };
  }

  /** State changes that must wait until the rules have seen the event. */
  afterRules(event: SensorEvent): void {
    if (event.kind === "exit") this.processes.onExit(event);
  }
}

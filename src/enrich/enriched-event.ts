import type { SensorEvent } from "../decode/events.js";
import type { ProcessInfo, ProcessLookup, UserLookup } from "./process-info.js";

/**
 * An event together with the state needed to answer rule fields about it.
 * Field extraction is lazy: rules pull only the fields they use.
 */
export interface EnrichedEvent {
  readonly event: SensorEvent;
  /** The process that caused the event; undefined when the table has never heard of it. */
  readonly process: ProcessInfo | undefined;
  /** For ancestry (proc.pname, proc.aname[N], …). */
  readonly processes: ProcessLookup;
  readonly users: UserLookup;
  /** The sensor host's name. */
  readonly hostname: string;
}

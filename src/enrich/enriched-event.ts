import type { SensorEvent } from "../decode/events.js";
import type { FdInfo, FdLookup } from "./fd-info.js";
import type { ProcessInfo, ProcessLookup, UserLookup } from "./process-info.js";

/**
 * An event together with the state needed to answer rule fields about it.
 * Field extraction is lazy: rules pull only the fields they use.
 */
export interface EnrichedEvent {
  readonly event: SensorEvent;
  /** The process that caused the event; undefined when the table has never heard of it. */
  readonly process: ProcessInfo | undefined;
  /**
   * The fd the event is about, from the fd table: the fd an open/socket/
   * accept/dup created, the socket a connect/bind/sendto used, the fd a close
   * is closing (as it was before the close). undefined when the event has no
   * fd or the table does not know it.
   */
  readonly fd: FdInfo | undefined;
  /** Every process's fds, for fields that need another fd than the event's. */
  readonly fds: FdLookup;
  /** For ancestry (proc.pname, proc.aname[N], …). */
  readonly processes: ProcessLookup;
  readonly users: UserLookup;
  /** The sensor host's name. */
  readonly hostname: string;
}

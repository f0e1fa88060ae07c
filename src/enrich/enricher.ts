import type { SensorEvent } from "../decode/events.js";
import type { EnrichedEvent } from "./enriched-event.js";
import type { FdInfo } from "./fd-info.js";
import { FdTable } from "./fd-table.js";
import type { ProcessInfo, UserLookup } from "./process-info.js";
import type { ProcessTable } from "./process-table.js";

/** How many lookups the state tables could not answer, by Falco field family. */
export interface EnrichmentMisses {
  readonly process: number;
  readonly fd: number;
  readonly user: number;
  readonly container: number;
}

/** A UserLookup that counts the ids it had no name for. */
class CountingUsers implements UserLookup {
  misses = 0;
  constructor(private readonly inner: UserLookup) {}
  userName(uid: number): string | undefined {
    const name = this.inner.userName(uid);
    if (name === undefined) this.misses++;
    return name;
  }
  groupName(gid: number): string | undefined {
    const name = this.inner.groupName(gid);
    if (name === undefined) this.misses++;
    return name;
  }
}

/**
 * Applies an event to the state tables and pairs it with them for the rules.
 * Whatever creates state (exec, fork, open, socket, connect, dup …) updates
 * the tables before the rules see the event, so e.fd is the new descriptor;
 * whatever destroys it (close, exit) waits until after (see afterRules), so
 * a close's e.fd is the descriptor as it was.
 */
export class Enricher {
  readonly fds: FdTable;
  private readonly countingUsers: CountingUsers;

  constructor(
    readonly processes: ProcessTable,
    users: UserLookup,
    readonly hostname: string,
    fds?: FdTable,
  ) {
    this.fds = fds ?? new FdTable({ source: processes.source });
    this.countingUsers = new CountingUsers(users);
  }

  get users(): UserLookup {
    return this.countingUsers;
  }

  /** Lookups that found nothing since start (peregrine_enrichment_misses_total). */
  misses(): EnrichmentMisses {
    return {
      process: this.processes.misses,
      fd: this.fds.misses,
      user: this.countingUsers.misses,
      container: this.processes.containerMisses,
    };
  }

  enrich(event: SensorEvent): EnrichedEvent {
    const pid = event.tgid;
    let process: ProcessInfo | undefined;
    let fd: FdInfo | undefined;
    switch (event.kind) {
      case "exec":
        process = this.processes.onExec(event);
        this.fds.onExec(pid);
        break;
      case "fork":
        this.processes.onFork(event);
        if (!event.isThread) this.fds.onFork(pid, event.childTgid);
        break;
      case "open":
        process = this.processes.get(pid);
        if (event.ret >= 0) {
          fd = this.fds.onOpen(pid, event.ret, event.path, event.dirfd, event.openFlags, process?.cwd ?? "");
        }
        break;
      case "connect":
        fd = this.fds.onConnect(pid, event.fd, event.ret, {
          family: event.family,
          localAddr: event.saddr,
          localPort: event.sport,
          remoteAddr: event.daddr,
          remotePort: event.dport,
          sockType: event.sockType,
          protocol: event.protocol,
        });
        break;
      default:
        break;
    }
    return {
      event,
      process: process ?? this.processes.get(pid),
      fd,
      fds: this.fds,
      processes: this.processes,
      users: this.countingUsers,
      hostname: this.hostname,
    };
  }

  /** State changes that must wait until the rules have seen the event. */
  afterRules(event: SensorEvent): void {
    if (event.kind === "exit") {
      this.processes.onExit(event);
      this.fds.onExit(event.tgid);
    }
  }
}

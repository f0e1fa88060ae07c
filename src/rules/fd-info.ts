/**
 * What Falco's fd.* fields describe, derived from the event itself: the file
 * an open created (path resolved against the process's cwd), or the socket a
 * connect used (Falco's client = local end, server = remote end). Derivations
 * are memoized for the last event, so the several fd.* fields of one rule
 * evaluation compute them once.
 */
import type { ConnectEvent, OpenEvent } from "../decode/events.js";
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import { resolveAgainst } from "../enrich/path.js";
import { unmapIpv4 } from "./ip-address.js";
import { O_DIRECTORY } from "./open-flags.js";

const AT_FDCWD = -100;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;

/**
 * The absolute path an open refers to, or undefined when it cannot be known:
 * a relative path needs the cwd (AT_FDCWD) or the directory fd's path, and we
 * keep no fd table yet, so relative-to-dirfd paths are unknown rather than
 * guessed.
 */
export function resolveOpenPath(ev: OpenEvent, cwd: string | undefined): string | undefined {
  if (ev.dirfd !== AT_FDCWD && !ev.path.startsWith("/")) return undefined;
  return resolveAgainst(ev.path, cwd);
}

let lastOpen: OpenEvent | undefined;
let lastOpenCwd: string | undefined;
let lastOpenPath: string | undefined;

/** fd.name of an open event (memoized for the last event and cwd). */
export function openedPath(e: EnrichedEvent): string | undefined {
  const ev = e.event;
  if (ev.kind !== "open") return undefined;
  const cwd = e.process?.cwd || undefined;
  if (lastOpen !== ev || lastOpenCwd !== cwd) {
    lastOpenPath = resolveOpenPath(ev, cwd);
    lastOpen = ev;
    lastOpenCwd = cwd;
  }
  return lastOpenPath;
}

export function openIsDirectory(ev: OpenEvent): boolean {
  return (ev.openFlags & O_DIRECTORY) !== 0;
}

export type SocketKind = "ipv4" | "ipv6" | "unix";

export interface SocketEnds {
  readonly kind: SocketKind | undefined;
  /** Local (client) address; undefined when the kernel had not bound one. */
  readonly localIp: string | undefined;
  readonly localPort: number;
  /** Remote (server) address. */
  readonly remoteIp: string | undefined;
  readonly remotePort: number;
  /** fd.name: "lip:lport->rip:rport", or the socket path for unix sockets. */
  readonly name: string | undefined;
  readonly l4proto: string | undefined;
}

function l4proto(ev: ConnectEvent, kind: SocketKind | undefined): string | undefined {
  if (kind === undefined || kind === "unix") return undefined;
  switch (ev.protocol) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 1:
    case 58:
      return "icmp";
  }
  switch (ev.sockType & 0xf) {
    case 1:
      return "tcp";
    case 2:
      return "udp";
    case 3:
      return "raw";
  }
  return undefined;
}

function describeConnect(ev: ConnectEvent): SocketEnds {
  let kind: SocketKind | undefined;
  let localIp: string | undefined = ev.saddr === "" ? undefined : ev.saddr;
  let remoteIp: string | undefined = ev.daddr === "" ? undefined : ev.daddr;
  if (ev.family === AF_INET) kind = "ipv4";
  else if (ev.family === AF_INET6) {
    // libsinsp reports IPv6 sockets talking IPv4-mapped addresses as IPv4 ones.
    const l = localIp === undefined ? undefined : unmapIpv4(localIp);
    const r = remoteIp === undefined ? undefined : unmapIpv4(remoteIp);
    if (r !== undefined && (localIp === undefined || l !== undefined || localIp === "::")) {
      kind = "ipv4";
      localIp = l;
      remoteIp = r;
    } else kind = "ipv6";
  } else if (ev.family === AF_UNIX) kind = "unix";
  if (kind === "unix") {
    return {
      kind,
      localIp: undefined,
      localPort: 0,
      remoteIp: undefined,
      remotePort: 0,
      name: ev.daddr === "" ? undefined : ev.daddr,
      l4proto: undefined,
    };
  }
  const anyAddr = kind === "ipv6" ? "::" : "0.0.0.0";
  const name =
    kind === undefined || remoteIp === undefined
      ? undefined
      : `${localIp ?? anyAddr}:${ev.sport}->${remoteIp}:${ev.dport}`;
  return {
    kind,
    localIp,
    localPort: ev.sport,
    remoteIp,
    remotePort: ev.dport,
    name,
    l4proto: l4proto(ev, kind),
  };
}

let lastConnect: ConnectEvent | undefined;
let lastEnds: SocketEnds | undefined;

/** The socket of a connect event (memoized for the last event); undefined for other events. */
export function socketEnds(e: EnrichedEvent): SocketEnds | undefined {
  const ev = e.event;
  if (ev.kind !== "connect") return undefined;
  if (lastConnect !== ev || lastEnds === undefined) {
    lastEnds = describeConnect(ev);
    lastConnect = ev;
  }
  return lastEnds;
}

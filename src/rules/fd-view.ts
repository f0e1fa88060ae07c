/**
 * One view of "the event's fd" for the fd.* fields: from the fd table
 * (EnrichedEvent.fd) when the enricher knows the descriptor, else derived
 * from the event itself (an open's path, a connect's addresses), so fd.*
 * still answer for events the table has not seen (replayed captures, a
 * process older than the agent). Memoized for the last event.
 */
import type { EnrichedEvent } from "../enrich/enriched-event.js";
import type { FdInfo } from "../enrich/fd-info.js";
import { openedPath, openIsDirectory, socketEnds } from "./fd-info.js";
import { unmapIpv4 } from "./ip-address.js";

export interface FdView {
  readonly num: number | undefined;
  /** Falco's fd.type names (file, directory, ipv4, ipv6, unix, pipe …); undefined when unknown. */
  readonly type: string | undefined;
  readonly name: string | undefined;
  /** Files only: the absolute path (fd.directory / fd.filename come from it). */
  readonly path: string | undefined;
  readonly l4proto: string | undefined;
  readonly clientIp: string | undefined;
  readonly clientPort: number | undefined;
  readonly serverIp: string | undefined;
  readonly serverPort: number | undefined;
  readonly localIp: string | undefined;
  readonly localPort: number | undefined;
  readonly remoteIp: string | undefined;
  readonly remotePort: number | undefined;
  readonly connected: boolean | undefined;
}

const NONE: FdView = {
  num: undefined,
  type: undefined,
  name: undefined,
  path: undefined,
  l4proto: undefined,
  clientIp: undefined,
  clientPort: undefined,
  serverIp: undefined,
  serverPort: undefined,
  localIp: undefined,
  localPort: undefined,
  remoteIp: undefined,
  remotePort: undefined,
  connected: undefined,
};

function ip(text: string): string | undefined {
  if (text === "") return undefined;
  // libsinsp shows IPv4-mapped IPv6 peers as IPv4.
  return unmapIpv4(text) ?? text;
}

function fromTable(fd: FdInfo): FdView {
  const isFile = fd.type === "file" || fd.type === "directory";
  const isIp = fd.type === "ipv4" || fd.type === "ipv6";
  if (!isIp) {
    // Every field written out, not `...NONE`: a spread copies property by property, and
    // this runs for every open the rules look at.
    return {
      num: fd.num,
      type: fd.type,
      name: fd.name === "" ? undefined : fd.name,
      path: isFile && fd.name.charCodeAt(0) === 0x2f ? fd.name : undefined,
      l4proto: fd.l4proto === "" ? undefined : fd.l4proto,
      clientIp: undefined,
      clientPort: undefined,
      serverIp: undefined,
      serverPort: undefined,
      localIp: undefined,
      localPort: undefined,
      remoteIp: undefined,
      remotePort: undefined,
      connected: fd.type === "unix" ? fd.connected : undefined,
    };
  }
  const local = ip(fd.localAddr);
  const remote = ip(fd.remoteAddr);
  // An accepted socket's client is the remote end; a connected (or unconnected) one's is the local end.
  const server = fd.role === "server";
  return {
    num: fd.num,
    type: fd.type,
    name: fd.name === "" ? undefined : fd.name,
    path: undefined,
    l4proto: fd.l4proto === "" ? undefined : fd.l4proto,
    clientIp: server ? remote : local,
    clientPort: server ? fd.remotePort : fd.localPort,
    serverIp: server ? local : remote,
    serverPort: server ? fd.localPort : fd.remotePort,
    localIp: local,
    localPort: fd.localPort,
    remoteIp: remote,
    remotePort: fd.remotePort,
    connected: fd.connected,
  };
}

function fromEvent(e: EnrichedEvent): FdView {
  const ev = e.event;
  if (ev.kind === "open") {
    const path = openedPath(e);
    // A failed open creates no fd: libsinsp then answers only fd.name/directory/filename.
    const type = ev.ret < 0 ? undefined : openIsDirectory(ev) ? "directory" : "file";
    return { ...NONE, num: ev.ret, type, name: path, path };
  }
  const s = socketEnds(e);
  if (s === undefined) return NONE;
  const isIp = s.kind === "ipv4" || s.kind === "ipv6";
  return {
    num: ev.kind === "connect" ? ev.fd : undefined,
    type: s.kind,
    name: s.name,
    path: undefined,
    l4proto: s.l4proto,
    clientIp: s.localIp,
    clientPort: isIp ? s.localPort : undefined,
    serverIp: s.remoteIp,
    serverPort: isIp ? s.remotePort : undefined,
    localIp: s.localIp,
    localPort: isIp ? s.localPort : undefined,
    remoteIp: s.remoteIp,
    remotePort: isIp ? s.remotePort : undefined,
    connected: undefined,
  };
}

let lastEvent: EnrichedEvent | undefined;
let lastView: FdView = NONE;

/** The event's fd as fd.* fields see it. */
export function fdView(e: EnrichedEvent): FdView {
  if (lastEvent !== e) {
    lastView = e.fd !== undefined ? fromTable(e.fd) : fromEvent(e);
    lastEvent = e;
  }
  return lastView;
}

/** Falco's fd.typechar for each fd.type. */
export const FD_TYPECHAR: Readonly<Record<string, string>> = {
  file: "f",
  directory: "d",
  ipv4: "4",
  ipv6: "6",
  unix: "u",
  pipe: "p",
  event: "e",
  signalfd: "s",
  eventpoll: "l",
  inotify: "i",
  timerfd: "t",
  netlink: "n",
  bpf: "b",
  userfaultfd: "u",
  io_uring: "r",
  memfd: "m",
  pidfd: "P",
  unknown: "o",
};

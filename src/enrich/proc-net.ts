/**
 * Sockets as /proc/<pid>/net/{tcp,tcp6,udp,udp6,raw,raw6,unix} list them,
 * keyed by inode: how an fd seeded from /proc ("socket:[12345]") gets its
 * tuple. The files describe the network namespace of the process named in
 * the path, so a containerized process's sockets resolve too.
 */
import { formatIpv6 } from "../decode/record-decoder.js";
import type { FdInfo } from "./fd-info.js";
import { readProcText } from "./proc-reader.js";

export interface ProcSocket {
  readonly type: "ipv4" | "ipv6" | "unix";
  readonly l4proto: FdInfo["l4proto"];
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  /** TCP LISTEN state (or a unix socket in the listening state). */
  readonly listening: boolean;
  /** TCP ESTABLISHED (and the other states after a handshake), a connected UDP or unix socket. */
  readonly connected: boolean;
  /** A unix socket's path ("" for unnamed; "@name" for the abstract namespace). */
  readonly path: string;
}

/** IPv4 as /proc/net prints it: the 32-bit value in host (little-endian) order. */
function ipv4FromProcHex(hex: string): string {
  const n = Number.parseInt(hex, 16) >>> 0;
  return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${n >>> 24}`;
}

/** IPv6 as /proc/net prints it: four 32-bit words, each in host order. */
function ipv6FromProcHex(hex: string): string {
  const buf = Buffer.alloc(16);
  for (let w = 0; w < 4; w++)
    buf.writeUInt32LE(Number.parseInt(hex.slice(w * 8, w * 8 + 8), 16) >>> 0, w * 4);
  return formatIpv6(buf, 0);
}

function endpoint(field: string, v6: boolean): [string, number] {
  const colon = field.indexOf(":");
  const addr = field.slice(0, colon);
  return [v6 ? ipv6FromProcHex(addr) : ipv4FromProcHex(addr), Number.parseInt(field.slice(colon + 1), 16)];
}

const TCP_LISTEN = 0x0a;
const TCP_CLOSE = 0x07;
const TCP_SYN_SENT = 0x02;
/** UDP sockets report TCP_ESTABLISHED (1) once connect() gave them a peer. */
const TCP_ESTABLISHED = 0x01;

/**
 * Parses one of tcp, tcp6, udp, udp6, raw, raw6:
 * "sl local_address rem_address st … uid timeout inode …".
 */
export function parseInetTable(
  text: string,
  v6: boolean,
  l4proto: FdInfo["l4proto"],
  into: Map<number, ProcSocket>,
): void {
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const f = (lines[i] ?? "").trim().split(/\s+/);
    if (f.length < 10) continue;
    const inode = Number(f[9]);
    if (!Number.isInteger(inode) || inode === 0) continue;
    const [localAddr, localPort] = endpoint(f[1] ?? "", v6);
    const [remoteAddr, remotePort] = endpoint(f[2] ?? "", v6);
    const st = Number.parseInt(f[3] ?? "0", 16);
    const connected =
      l4proto === "tcp"
        ? st !== TCP_LISTEN && st !== TCP_CLOSE && st !== TCP_SYN_SENT
        : st === TCP_ESTABLISHED && remotePort !== 0;
    into.set(inode, {
      type: v6 ? "ipv6" : "ipv4",
      l4proto,
      localAddr,
      localPort,
      remoteAddr,
      remotePort,
      listening: l4proto === "tcp" && st === TCP_LISTEN,
      connected,
      path: "",
    });
  }
}

/** SS_CONNECTED and SO_ACCEPTCON in /proc/net/unix's St and Flags columns. */
const SS_CONNECTED = 3;
const SO_ACCEPTCON = 0x10000;

/** Parses /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path". */
export function parseUnixTable(text: string, into: Map<number, ProcSocket>): void {
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const f = (lines[i] ?? "").trim().split(/\s+/);
    if (f.length < 7) continue;
    const inode = Number(f[6]);
    if (!Number.isInteger(inode) || inode === 0) continue;
    const flags = Number.parseInt(f[3] ?? "0", 16);
    into.set(inode, {
      type: "unix",
      l4proto: "",
      localAddr: "",
      localPort: 0,
      remoteAddr: "",
      remotePort: 0,
      listening: (flags & SO_ACCEPTCON) !== 0,
      connected: Number.parseInt(f[5] ?? "0", 16) === SS_CONNECTED,
      path: f.slice(7).join(" "),
    });
  }
}

const INET_TABLES: readonly (readonly [string, boolean, FdInfo["l4proto"]])[] = [
  ["tcp", false, "tcp"],
  ["tcp6", true, "tcp"],
  ["udp", false, "udp"],
  ["udp6", true, "udp"],
  ["raw", false, "raw"],
  ["raw6", true, "raw"],
];

/** Every socket of the network namespace /proc/<pid>/net shows, by inode. */
export function readSocketTables(procRoot: string, pid: number): Map<number, ProcSocket> {
  const sockets = new Map<number, ProcSocket>();
  const dir = `${procRoot}/${pid}/net`;
  for (const [name, v6, proto] of INET_TABLES) {
    // undefined: IPv6 disabled, or the process is gone.
    const text = readProcText(`${dir}/${name}`);
    if (text !== undefined) parseInetTable(text, v6, proto, sockets);
  }
  const unix = readProcText(`${dir}/unix`);
  if (unix !== undefined) parseUnixTable(unix, sockets);
  return sockets;
}

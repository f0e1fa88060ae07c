/**
 * What the fd table knows about one open file descriptor of a process.
 * Falco's fd.* fields answer from it. Kept mutable inside enrich/; later
 * stages read it only.
 */

/** Falco's fd.type values (fd.typechar in the comment). */
export type FdType =
  | "file" // f
  | "directory" // d
  | "ipv4" // 4
  | "ipv6" // 6
  | "unix" // u
  | "pipe" // p
  | "event" // e
  | "signalfd" // s
  | "eventpoll" // l
  | "inotify" // i
  | "timerfd" // t
  | "netlink" // n
  | "bpf" // b
  | "userfaultfd" // u
  | "io_uring" // r
  | "memfd" // m
  | "pidfd" // P
  | "unknown"; // o

export interface FdInfo {
  /** The descriptor number: fd.num. */
  num: number;
  type: FdType;
  /**
   * fd.name: a file's absolute path; for an inet socket the tuple
   * "clientip:port->serverip:port"; for a unix socket its path (or "" ).
   */
  name: string;
  /** O_* flags the file was opened with (0 for sockets). */
  openFlags: number;
  /** Inode of the file when known (0 otherwise): fd.ino. */
  ino: number;
  /** Socket fields; l4proto "" for non-sockets. */
  l4proto: "tcp" | "udp" | "icmp" | "raw" | "";
  /** Local end (address text as the decoder formats it, port). */
  localAddr: string;
  localPort: number;
  /** Remote end. */
  remoteAddr: string;
  remotePort: number;
  /**
   * Which side this process is: "client" when it connected (local = client,
   * remote = server), "server" when it accepted (local = server, remote =
   * client), "" when neither (a bound or unconnected socket, a file).
   */
  role: "client" | "server" | "";
  /** The socket completed connect/accept: fd.connected. */
  connected: boolean;
}

/** A descriptor of `type` with nothing else known yet: every field in one shape. */
export function blankFd(num: number, type: FdType): FdInfo {
  return {
    num,
    type,
    name: "",
    openFlags: 0,
    ino: 0,
    l4proto: "",
    localAddr: "",
    localPort: 0,
    remoteAddr: "",
    remotePort: 0,
    role: "",
    connected: false,
  };
}

/** Looks fds up by process and number. */
export interface FdLookup {
  get(pid: number, fd: number): FdInfo | undefined;
}

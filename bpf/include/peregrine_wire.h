/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Peregrine wire format: the single source of truth for every record the
 * kernel programs emit and the loader writes to stdout.
 *
 * The TypeScript decoder never hand-copies these offsets: scripts/gen-layout.mjs
 * reads them from the BTF of the compiled object and writes
 * src/decode/layout.generated.ts. CI regenerates it and fails on a diff.
 *
 * Stream (the loader's stdout, and a capture file, byte for byte):
 *
 *   +---------------------------+
 *   | struct pg_stream_header   |  once, at the start (magic, schema, boot time)
 *   +---------------------------+
 *   | record                    |  repeated until EOF
 *   +---------------------------+
 *
 * Record:
 *
 *   0        8        12   14   16       20       24
 *   +--------+--------+----+----+--------+--------+---------------------+----------------+
 *   | ts_ns  | size   |kind|flag| tgid   | tid    | fixed part of kind  | variable part  |
 *   +--------+--------+----+----+--------+--------+---------------------+----------------+
 *   \______________ struct pg_hdr ______________/
 *
 *  - size counts the whole record (header, fixed part, variable part and the
 *    padding that rounds it up to a multiple of 8), so a reader can skip a
 *    kind it does not know.
 *  - The variable part holds the byte strings named by the *_len fields of
 *    the fixed part, in the order those fields are declared, with no
 *    separators; the decoder checks every length against size.
 *  - Every field is fixed width, little endian (the host's), and placed so
 *    that there are no implicit holes; _pad fields are explicit and zero.
 */
#ifndef PEREGRINE_WIRE_H
#define PEREGRINE_WIRE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bump on every change to a struct or enum below. The agent refuses a stream
 * whose header carries a version outside PG_SCHEMA_OLDEST_READABLE ..
 * PG_SCHEMA_VERSION.
 *   3: unix socket addresses: pg_connect.addr_len, pg_syscall_exit.unix_local_len
 *      and unix_peer_len, in what were zeroed _pad fields in 2, so a version 2
 *      stream (captures) decodes unchanged, with no unix addresses.
 *   4: the descriptor-making syscalls (pg_syscall 70-95: pipe, eventfd, …,
 *      close_range) and recvmsg's SCM_RIGHTS fds in aux; ids and layouts of
 *      3 unchanged, so a version 2 or 3 stream decodes as before. */
enum pg_schema {
	PG_SCHEMA_VERSION = 4,
	PG_SCHEMA_OLDEST_READABLE = 2,
	/* "PRGN" read as a little-endian u32 */
	PG_STREAM_MAGIC = 0x4e475250,
};

/* Record kinds. Values are stable: a new kind takes a new number. */
enum pg_record_kind {
	PG_REC_EXEC = 1,    /* a process image was replaced (sched_process_exec) */
	PG_REC_FORK = 2,    /* a task was created (sched_process_fork) */
	PG_REC_EXIT = 3,    /* a task exited (sched_process_exit) */
	PG_REC_OPEN = 4,    /* open, openat, openat2, creat returned */
	PG_REC_CONNECT = 5, /* connect returned */
	PG_REC_SYSCALL = 6, /* any other watched syscall returned (pg_syscall_exit) */
	PG_REC_STATS = 100, /* loader-written: kernel counters summed over CPUs */
};

/* Syscalls (and the sched events), numbered by us so the wire does not
 * depend on the architecture's syscall table. The agent maps these to Falco's
 * evt.type names: the name after PG_SYS_, lower case. The same numbers index
 * the in-kernel filter (pg_filter). Families are contiguous ranges (see
 * family__full_counter in peregrine.bpf.c): file 1-4 and 6-24, network 5
 * and 56-69, process 25-55; 70-95 (descriptors that are neither files nor
 * sockets, and close_range) count as other. Their Falco names: those
 * Falco's event table has (pipe2, eventfd2, fcntl …) with its parameters;
 * the others are its generic events (evt.type = the syscall name). */
enum pg_syscall {
	PG_SYS_UNKNOWN = 0,
	PG_SYS_OPEN = 1,
	PG_SYS_OPENAT = 2,
	PG_SYS_OPENAT2 = 3,
	PG_SYS_CREAT = 4,
	PG_SYS_CONNECT = 5,
	PG_SYS_UNLINK = 6,
	PG_SYS_UNLINKAT = 7,
	PG_SYS_RMDIR = 8,
	PG_SYS_MKDIR = 9,
	PG_SYS_MKDIRAT = 10,
	PG_SYS_RENAME = 11,
	PG_SYS_RENAMEAT = 12,
	PG_SYS_RENAMEAT2 = 13,
	PG_SYS_LINK = 14,
	PG_SYS_LINKAT = 15,
	PG_SYS_SYMLINK = 16,
	PG_SYS_SYMLINKAT = 17,
	PG_SYS_CHMOD = 18,
	PG_SYS_FCHMOD = 19,
	PG_SYS_FCHMODAT = 20,
	PG_SYS_CHOWN = 21,
	PG_SYS_FCHOWN = 22,
	PG_SYS_FCHOWNAT = 23,
	PG_SYS_LCHOWN = 24,
	PG_SYS_EXECVE = 25,
	PG_SYS_EXECVEAT = 26,
	PG_SYS_CLONE = 27,
	PG_SYS_CLONE3 = 28,
	PG_SYS_FORK = 29,
	PG_SYS_VFORK = 30,
	PG_SYS_PROCEXIT = 31,
	PG_SYS_SETUID = 32,
	PG_SYS_SETGID = 33,
	PG_SYS_SETRESUID = 34,
	PG_SYS_SETRESGID = 35,
	PG_SYS_SETREUID = 36,
	PG_SYS_SETREGID = 37,
	PG_SYS_CAPSET = 38,
	PG_SYS_PTRACE = 39,
	PG_SYS_PRCTL = 40,
	PG_SYS_SETNS = 41,
	PG_SYS_UNSHARE = 42,
	PG_SYS_KILL = 43,
	PG_SYS_TKILL = 44,
	PG_SYS_TGKILL = 45,
	PG_SYS_MEMFD_CREATE = 46,
	PG_SYS_INIT_MODULE = 47,
	PG_SYS_FINIT_MODULE = 48,
	PG_SYS_DELETE_MODULE = 49,
	PG_SYS_BPF = 50,
	PG_SYS_USERFAULTFD = 51,
	PG_SYS_MOUNT = 52,
	PG_SYS_UMOUNT2 = 53,
	PG_SYS_CHDIR = 54,
	PG_SYS_FCHDIR = 55,
	PG_SYS_SOCKET = 56,
	PG_SYS_ACCEPT = 57,
	PG_SYS_ACCEPT4 = 58,
	PG_SYS_BIND = 59,
	PG_SYS_LISTEN = 60,
	PG_SYS_SENDTO = 61,
	PG_SYS_SENDMSG = 62,
	PG_SYS_RECVFROM = 63,
	PG_SYS_RECVMSG = 64,
	PG_SYS_SOCKETPAIR = 65,
	PG_SYS_DUP = 66,
	PG_SYS_DUP2 = 67,
	PG_SYS_DUP3 = 68,
	PG_SYS_CLOSE = 69,
	/* Syscalls that make a descriptor (or drop a range of them): the fd
	 * table follows them so that a number reused after an unsent close
	 * never keeps the closed file's name. */
	PG_SYS_PIPE = 70,
	PG_SYS_PIPE2 = 71,
	PG_SYS_EVENTFD = 72,
	PG_SYS_EVENTFD2 = 73,
	PG_SYS_SIGNALFD = 74,
	PG_SYS_SIGNALFD4 = 75,
	PG_SYS_TIMERFD_CREATE = 76,
	PG_SYS_INOTIFY_INIT = 77,
	PG_SYS_INOTIFY_INIT1 = 78,
	PG_SYS_EPOLL_CREATE = 79,
	PG_SYS_EPOLL_CREATE1 = 80,
	PG_SYS_PIDFD_OPEN = 81,
	PG_SYS_PIDFD_GETFD = 82,
	PG_SYS_FCNTL = 83,          /* sent for F_DUPFD* only, unless PG_FILTER_ALL_FCNTL */
	PG_SYS_CLOSE_RANGE = 84,
	PG_SYS_PERF_EVENT_OPEN = 85,
	PG_SYS_IO_URING_SETUP = 86,
	PG_SYS_FANOTIFY_INIT = 87,
	PG_SYS_OPEN_BY_HANDLE_AT = 88,
	PG_SYS_MEMFD_SECRET = 89,
	PG_SYS_MQ_OPEN = 90,
	PG_SYS_FSOPEN = 91,
	PG_SYS_FSMOUNT = 92,
	PG_SYS_FSPICK = 93,
	PG_SYS_OPEN_TREE = 94,
	PG_SYS_LANDLOCK_CREATE_RULESET = 95,
	/* Not syscalls: filter slots that say how much of a syscall is sent.
	 * PG_FILTER_RECEIVED_FDS: a recvmsg that received descriptors
	 * (SCM_RIGHTS) is sent even when recvmsg itself is not wanted (the
	 * agent sets it for its fd table). PG_FILTER_ALL_FCNTL, set by the
	 * agent when a loaded rule can match fcntl: every fcntl is sent, not
	 * only the F_DUPFD* the fd table needs. 127 is free: it told closes
	 * of files from sockets', and close is now sent whole or not at all
	 * (only for a rule on close). */
	PG_FILTER_RECEIVED_FDS = 125,
	PG_FILTER_ALL_FCNTL = 126,
	PG_SYS_MAX = 128, /* size of the filter map */
};

/* pg_hdr.flags */
enum pg_record_flags {
	PG_F_TRUNCATED = 1, /* a variable-length field was cut to fit */
	PG_F_THREAD = 2,    /* fork: the new task is a thread of its parent */
	PG_F_EXE_UPPER = 4, /* exec: the file is on an overlayfs upper layer */
	PG_F_EXE_MEMFD = 8, /* exec: the file is a memfd (memfd_create) */
};

/* Per-CPU kernel counters (index into a CPU's pg_cnt slot); the loader sums
 * them over CPUs and writes a PG_REC_STATS record every interval. */
enum pg_counter {
	PG_CNT_EVENTS_SEEN = 0,     /* hits of syscalls/sched events we watch, before the filter
				     * (in the kernel map: those that passed it; the loader adds
				     * PG_CNT_FILTERED when it writes PG_REC_STATS) */
	PG_CNT_EVENTS_EMITTED = 1,  /* records submitted to the ring buffer */
	PG_CNT_RINGBUF_FULL = 2,    /* records lost: ring buffer had no room (all families) */
	PG_CNT_TRUNCATED = 3,       /* records whose strings were cut to fit */
	PG_CNT_READ_FAILED = 4,     /* user/kernel memory reads that failed */
	PG_CNT_FILTERED = 5,        /* dropped by the syscall filter (pg_filter) */
	PG_CNT_RINGBUF_FULL_FILE = 6,    /* PG_CNT_RINGBUF_FULL by family */
	PG_CNT_RINGBUF_FULL_PROCESS = 7,
	PG_CNT_RINGBUF_FULL_NETWORK = 8,
	PG_CNT_RINGBUF_FULL_OTHER = 9,
	PG_CNT_MAX = 16,
};

/* Capacity of the variable-length strings (bytes, including the NUL). */
enum pg_limits {
	PG_PATH_MAX = 4096,
	PG_ARGS_MAX = 4096,
	PG_COMM_LEN = 16,
	PG_HOSTNAME_LEN = 64,
	PG_ADDR_LEN = 16,
	PG_SOCKADDR_MAX = 128, /* sockaddr bytes kept (sizeof(struct sockaddr_storage)) */
};

/* Address families as they appear in pg_connect.family, pg_tuple.family and sockaddrs (Linux values). */
enum pg_family {
	PG_AF_UNSPEC = 0,
	PG_AF_UNIX = 1,
	PG_AF_INET = 2,
	PG_AF_INET6 = 10,
};

/* Written once by the loader at the start of the stream. */
struct pg_stream_header {
	__u32 magic;          /* PG_STREAM_MAGIC */
	__u16 schema_version; /* PG_SCHEMA_VERSION */
	__u16 header_size;    /* sizeof(struct pg_stream_header) */
	__u64 boot_time_ns;   /* wall clock (epoch ns) at boot: epoch = this + ts_ns */
	__u32 loader_pid;
	__u32 _pad;
	char hostname[PG_HOSTNAME_LEN];
};

struct pg_hdr {
	__u64 ts_ns; /* bpf_ktime_get_boot_ns() at the event */
	__u32 size;  /* whole record, padded to a multiple of 8 */
	__u16 kind;  /* enum pg_record_kind */
	__u16 flags; /* enum pg_record_flags */
	__u32 tgid;  /* process id (user-space "pid") */
	__u32 tid;   /* thread id */
};

/* PG_REC_EXEC. Variable part: filename (the path given to execve, NUL
 * terminated), then args (argv joined by NUL bytes, as in /proc/pid/cmdline). */
struct pg_exec {
	struct pg_hdr hdr;
	__u32 ppid; /* real parent's tgid */
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 loginuid; /* audit login uid; 4294967295 when unset */
	__u64 cgroup_id;
	__u64 start_ns; /* task start, boot clock */
	char comm[PG_COMM_LEN];
	__u16 filename_len;
	__u16 args_len;
	__u16 syscall;  /* PG_SYS_EXECVE or PG_SYS_EXECVEAT */
	__u16 _pad;
	__u32 tty;      /* controlling tty, /proc/<pid>/stat tty_nr encoding; 0 = none */
	__u32 sid;      /* session id (host pid namespace) */
	__u32 pgid;     /* process group id (host pid namespace) */
	__u32 vpid;     /* tgid in the task's own pid namespace */
	__u64 cap_effective;
	__u64 cap_permitted;
	__u64 cap_inheritable;
	__u64 exe_ino;      /* inode number of the executed file */
	__u64 exe_ctime_ns; /* its ctime and mtime, epoch ns (realtime clock) */
	__u64 exe_mtime_ns;
};

/* PG_REC_FORK. hdr.tgid/tid are the parent's. */
struct pg_fork {
	struct pg_hdr hdr;
	__u32 child_tgid;
	__u32 child_tid;
	__u64 child_start_ns;
	__u64 clone_flags; /* CLONE_* (fork: SIGCHLD, vfork: CLONE_VM|CLONE_VFORK|SIGCHLD) */
	__u16 syscall;     /* PG_SYS_CLONE/CLONE3/FORK/VFORK; UNKNOWN for kernel threads */
	__u16 _pad[3];
};

/* PG_REC_EXIT: only when the whole thread group is gone (group_dead). */
struct pg_exit {
	struct pg_hdr hdr;
	__s32 exit_code; /* as in wait(2): (status << 8) | signal */
	__u32 _pad;
};

/* PG_REC_OPEN. Variable part: path (as the caller passed it, NUL terminated). */
struct pg_open {
	struct pg_hdr hdr;
	__s64 ret;      /* fd, or -errno */
	__u64 flags;    /* O_* flags (open_how.flags for openat2) */
	__u32 mode;     /* creation mode */
	__s32 dirfd;    /* AT_FDCWD (-100) for open/creat */
	__u16 syscall;  /* enum pg_syscall */
	__u16 path_len;
	__u32 _pad;
};

/* PG_REC_CONNECT. Addresses are in network byte order as in sockaddr;
 * ports are host order. The local end is read from the socket at exit and is
 * zero when the kernel had not bound it yet. Variable part: for AF_UNIX, the
 * destination sockaddr as the caller passed it (raw bytes, addr_len <=
 * PG_SOCKADDR_MAX: family, then the path; an abstract name starts with a
 * NUL); nothing for the IP families (daddr/dport hold them). */
struct pg_connect {
	struct pg_hdr hdr;
	__s64 ret;   /* 0, or -errno (-EINPROGRESS for non-blocking sockets) */
	__s32 fd;
	__u16 family;   /* enum pg_family, of the destination sockaddr */
	__u16 dport;
	__u8 daddr[PG_ADDR_LEN];
	__u8 saddr[PG_ADDR_LEN];
	__u16 sport;
	__u16 sock_type; /* SOCK_STREAM 1, SOCK_DGRAM 2, ... */
	__u16 protocol;  /* IPPROTO_TCP 6, IPPROTO_UDP 17, ... */
	__u16 addr_len;  /* bytes of the variable part (AF_UNIX sockaddr) */
};

/*
 * Both ends of a socket, read from its struct sock at syscall exit. Addresses
 * in network byte order, ports in host order; zero when unbound/unconnected.
 * AF_UNIX sockets carry only family/type here; their addresses (paths) follow
 * in the record's variable part (pg_syscall_exit.unix_local_len, unix_peer_len).
 */
struct pg_tuple {
	__u16 family;
	__u16 sock_type;
	__u16 protocol;
	__u16 lport;
	__u16 rport;
	__u16 _pad[3];
	__u8 laddr[PG_ADDR_LEN];
	__u8 raddr[PG_ADDR_LEN];
};

/*
 * PG_REC_SYSCALL: every watched syscall that has no record of its own.
 * args[] are the six argument registers as the syscall received them; which
 * ones mean what is per syscall (the decoder's table, src/decode/syscall-args.ts).
 * aux[] holds values the kernel read at exit:
 *   openat2-like: none; socketpair: aux[0], aux[1] = the two fds;
 *   capset: aux[0..2] = effective, permitted, inheritable after the call;
 *   accept/accept4/recvfrom: aux[0] = the addrlen the kernel wrote;
 *   pipe/pipe2: aux[0], aux[1] = the two fds, aux[2] = the pipe's inode;
 *   recvmsg: the fds received with SCM_RIGHTS (first control message, at
 *   most 5): s32 each, two per word, low half first, in aux[0], aux[1] and
 *   the low half of aux[2]; the high half of aux[2] says how many (0 in
 *   streams before version 4);
 *   open_by_handle_at: aux[0], aux[1] = the inode number and mode of the
 *   opened file, and path = its path, read from its dentries (the kernel
 *   was given only a handle);
 *   signalfd/signalfd4: aux[0] = the first 32 bits of the signal mask;
 *   io_uring_setup: aux[0..2] = the first six u32 of the io_uring_params the
 *   kernel wrote back (sq_entries, cq_entries, flags, sq_thread_cpu,
 *   sq_thread_idle, features), two per word, low half first.
 * Variable part, in this order: tuple (tuple_len is 0 or sizeof(struct
 * pg_tuple)), path, path2, path3 (user strings, NUL terminated, the syscall's
 * path arguments in argument order), addr (raw sockaddr bytes, <= PG_SOCKADDR_MAX),
 * then for an AF_UNIX tuple the socket's own address and its peer's as the
 * kernel holds them (unix_sock->addr: raw struct sockaddr_un bytes, family
 * first, <= PG_SOCKADDR_MAX each; 0 bytes when unbound, as a connecting
 * client usually is). For accept*, the own address is the listener's.
 */
struct pg_syscall_exit {
	struct pg_hdr hdr;
	__s64 ret;
	__u64 args[6];
	__u64 aux[3];
	__u32 uid;  /* credentials after the call */
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u16 syscall; /* enum pg_syscall */
	__u16 tuple_len;
	__u16 path_len;
	__u16 path2_len;
	__u16 path3_len;
	__u16 addr_len;
	__u16 unix_local_len;
	__u16 unix_peer_len;
};

/* PG_REC_STATS, written by the loader (not the kernel): totals since load. */
struct pg_stats {
	struct pg_hdr hdr;
	__u64 counters[PG_CNT_MAX]; /* indexed by enum pg_counter */
};

/* Tripwires: a layout change must be deliberate (and bump PG_SCHEMA_VERSION). */
_Static_assert(sizeof(struct pg_hdr) == 24, "pg_hdr");
_Static_assert(sizeof(struct pg_exec) == 152, "pg_exec");
_Static_assert(sizeof(struct pg_fork) == 56, "pg_fork");
_Static_assert(sizeof(struct pg_exit) == 32, "pg_exit");
_Static_assert(sizeof(struct pg_open) == 56, "pg_open");
_Static_assert(sizeof(struct pg_connect) == 80, "pg_connect");
_Static_assert(sizeof(struct pg_tuple) == 48, "pg_tuple");
_Static_assert(sizeof(struct pg_syscall_exit) == 136, "pg_syscall_exit");
_Static_assert(sizeof(struct pg_stats) == 24 + 8 * PG_CNT_MAX, "pg_stats");

#endif /* PEREGRINE_WIRE_H */

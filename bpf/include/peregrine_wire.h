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
 * whose header carries another version. */
enum pg_schema {
	PG_SCHEMA_VERSION = 1,
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
	PG_REC_STATS = 100, /* loader-written: kernel counters summed over CPUs */
};

/* Syscalls, numbered by us so the wire does not depend on the architecture's
 * syscall table. The agent maps these to Falco's evt.type names. */
enum pg_syscall {
	PG_SYS_UNKNOWN = 0,
	PG_SYS_OPEN = 1,
	PG_SYS_OPENAT = 2,
	PG_SYS_OPENAT2 = 3,
	PG_SYS_CREAT = 4,
	PG_SYS_CONNECT = 5,
};

/* pg_hdr.flags */
enum pg_record_flags {
	PG_F_TRUNCATED = 1, /* a variable-length field was cut to fit */
	PG_F_THREAD = 2,    /* fork: the new task is a thread of its parent */
};

/* Per-CPU kernel counters (index into the pg_counters map); the loader sums
 * them over CPUs and writes a PG_REC_STATS record every interval. */
enum pg_counter {
	PG_CNT_EVENTS_SEEN = 0,     /* tracepoint hits of syscalls we watch */
	PG_CNT_EVENTS_EMITTED = 1,  /* records submitted to the ring buffer */
	PG_CNT_RINGBUF_FULL = 2,    /* records lost: ring buffer had no room */
	PG_CNT_TRUNCATED = 3,       /* records whose strings were cut to fit */
	PG_CNT_READ_FAILED = 4,     /* user/kernel memory reads that failed */
	PG_CNT_MAX = 8,
};

/* Capacity of the variable-length strings (bytes, including the NUL). */
enum pg_limits {
	PG_PATH_MAX = 4096,
	PG_ARGS_MAX = 4096,
	PG_COMM_LEN = 16,
	PG_HOSTNAME_LEN = 64,
	PG_ADDR_LEN = 16,
};

/* Address families as they appear in pg_connect.family (Linux values). */
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
	__u32 _pad;
};

/* PG_REC_FORK. hdr.tgid/tid are the parent's. */
struct pg_fork {
	struct pg_hdr hdr;
	__u32 child_tgid;
	__u32 child_tid;
	__u64 child_start_ns;
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
 * zero when the kernel had not bound it yet. */
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
	__u16 _pad;
};

/* PG_REC_STATS, written by the loader (not the kernel): totals since load. */
struct pg_stats {
	struct pg_hdr hdr;
	__u64 counters[PG_CNT_MAX]; /* indexed by enum pg_counter */
};

#endif /* PEREGRINE_WIRE_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Which x86_64 syscalls the sys_exit program watches, and what it does with
 * each number once the filter is set: shared by bpf/peregrine.bpf.c and the
 * loader, which turns the filter into the per-number action table
 * (nr_action) that the program's first look goes to. Internal: not part of
 * the wire format.
 */
#ifndef PEREGRINE_SYSCALLS_H
#define PEREGRINE_SYSCALLS_H

#include "peregrine_wire.h"

/* x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
#define NR_OPEN 2
#define NR_CONNECT 42
#define NR_CREAT 85
#define NR_OPENAT 257
#define NR_CLONE 56
#define NR_FORK 57
#define NR_VFORK 58
#define NR_EXECVEAT 322
#define NR_CLONE3 435
#define NR_OPENAT2 437
#define NR_PIPE 22
#define NR_PIPE2 293
#define NR_OPEN_BY_HANDLE_AT 304
#define NR_TABLE_SIZE 512

/* x86_64 syscall number -> enum pg_syscall; 0: not watched at sys_exit.
 * clone/clone3/fork/vfork are absent: sched_process_fork reports them (with
 * their flags) once the child exists. */
static const __u8 nr_to_pg[NR_TABLE_SIZE] = {
	[2] = PG_SYS_OPEN,
	[3] = PG_SYS_CLOSE,
	[32] = PG_SYS_DUP,
	[33] = PG_SYS_DUP2,
	[41] = PG_SYS_SOCKET,
	[42] = PG_SYS_CONNECT,
	[43] = PG_SYS_ACCEPT,
	[44] = PG_SYS_SENDTO,
	[45] = PG_SYS_RECVFROM,
	[46] = PG_SYS_SENDMSG,
	[47] = PG_SYS_RECVMSG,
	[49] = PG_SYS_BIND,
	[50] = PG_SYS_LISTEN,
	[53] = PG_SYS_SOCKETPAIR,
	[59] = PG_SYS_EXECVE,
	[62] = PG_SYS_KILL,
	[80] = PG_SYS_CHDIR,
	[81] = PG_SYS_FCHDIR,
	[82] = PG_SYS_RENAME,
	[83] = PG_SYS_MKDIR,
	[84] = PG_SYS_RMDIR,
	[85] = PG_SYS_CREAT,
	[86] = PG_SYS_LINK,
	[87] = PG_SYS_UNLINK,
	[88] = PG_SYS_SYMLINK,
	[90] = PG_SYS_CHMOD,
	[91] = PG_SYS_FCHMOD,
	[92] = PG_SYS_CHOWN,
	[93] = PG_SYS_FCHOWN,
	[94] = PG_SYS_LCHOWN,
	[101] = PG_SYS_PTRACE,
	[105] = PG_SYS_SETUID,
	[106] = PG_SYS_SETGID,
	[113] = PG_SYS_SETREUID,
	[114] = PG_SYS_SETREGID,
	[117] = PG_SYS_SETRESUID,
	[119] = PG_SYS_SETRESGID,
	[126] = PG_SYS_CAPSET,
	[157] = PG_SYS_PRCTL,
	[165] = PG_SYS_MOUNT,
	[166] = PG_SYS_UMOUNT2,
	[175] = PG_SYS_INIT_MODULE,
	[176] = PG_SYS_DELETE_MODULE,
	[200] = PG_SYS_TKILL,
	[234] = PG_SYS_TGKILL,
	[257] = PG_SYS_OPENAT,
	[258] = PG_SYS_MKDIRAT,
	[260] = PG_SYS_FCHOWNAT,
	[263] = PG_SYS_UNLINKAT,
	[264] = PG_SYS_RENAMEAT,
	[265] = PG_SYS_LINKAT,
	[266] = PG_SYS_SYMLINKAT,
	[268] = PG_SYS_FCHMODAT,
	[272] = PG_SYS_UNSHARE,
	[288] = PG_SYS_ACCEPT4,
	[292] = PG_SYS_DUP3,
	[308] = PG_SYS_SETNS,
	[313] = PG_SYS_FINIT_MODULE,
	[316] = PG_SYS_RENAMEAT2,
	[319] = PG_SYS_MEMFD_CREATE,
	[321] = PG_SYS_BPF,
	[322] = PG_SYS_EXECVEAT,
	[323] = PG_SYS_USERFAULTFD,
	[437] = PG_SYS_OPENAT2,
	[22] = PG_SYS_PIPE,
	[293] = PG_SYS_PIPE2,
	[284] = PG_SYS_EVENTFD,
	[290] = PG_SYS_EVENTFD2,
	[282] = PG_SYS_SIGNALFD,
	[289] = PG_SYS_SIGNALFD4,
	[283] = PG_SYS_TIMERFD_CREATE,
	[253] = PG_SYS_INOTIFY_INIT,
	[294] = PG_SYS_INOTIFY_INIT1,
	[213] = PG_SYS_EPOLL_CREATE,
	[291] = PG_SYS_EPOLL_CREATE1,
	[434] = PG_SYS_PIDFD_OPEN,
	[438] = PG_SYS_PIDFD_GETFD,
	[72] = PG_SYS_FCNTL,
	[436] = PG_SYS_CLOSE_RANGE,
	[298] = PG_SYS_PERF_EVENT_OPEN,
	[425] = PG_SYS_IO_URING_SETUP,
	[300] = PG_SYS_FANOTIFY_INIT,
	[304] = PG_SYS_OPEN_BY_HANDLE_AT,
	[447] = PG_SYS_MEMFD_SECRET,
	[240] = PG_SYS_MQ_OPEN,
	[430] = PG_SYS_FSOPEN,
	[432] = PG_SYS_FSMOUNT,
	[433] = PG_SYS_FSPICK,
	[428] = PG_SYS_OPEN_TREE,
	[444] = PG_SYS_LANDLOCK_CREATE_RULESET,
};

/* fcntl(2) commands that return a new descriptor: the only fcntl calls the
 * fd table needs (fcntl is otherwise one of the busiest syscalls). */
#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030

/* CPUs with a counter slot of their own (pg_cnt in bpf/peregrine.bpf.c);
 * higher-numbered ones share one more slot. */
#define PG_CNT_CPUS 1024

/* One CPU's counters, two cache lines of their own (no false sharing).
 * Not a wire type: no pg_ prefix, so scripts/gen-layout.mjs leaves it
 * out (and not a bare name a kernel's vmlinux.h could also define). */
struct peregrine_cpu_counters {
	__u64 n[PG_CNT_MAX];
} __attribute__((aligned(128)));

/*
 * What pg_sys_exit does first with a syscall number (nr_action, written by
 * the loader whenever the filter changes, read with one load per hit):
 */
enum pg_nr_action {
	PG_NR_IGNORE = 0,        /* not watched (or not on this table): nothing */
	PG_NR_FILTERED = 1,      /* watched, unwanted: counted as filtered,
				  * nothing else (with per-syscall tracepoints
				  * not even attached) */
	/* 2 was close's socket filter (the kernel's socket set), gone now
	 * that closes are sent only for a rule on close, every one of them */
	PG_NR_FULL = 3,          /* everything else: the whole program */
	PG_NR_FCNTL_DUPS = 4,    /* fcntl, when only the commands that make a
				  * descriptor matter: any other command is
				  * counted as filtered after one register read */
};

/*
 * The action for one number. on: the filter (indexed by enum pg_syscall).
 * close needs no case of its own: it is in the filter only for a rule on
 * close (the fd table replaces an entry whenever its number is reused), and
 * then every close is sent.
 */
static inline enum pg_nr_action nr__action(unsigned int nr, const __u8 *on)
{
	unsigned int id = nr < NR_TABLE_SIZE ? nr_to_pg[nr] : 0;

	if (!id)
		return PG_NR_IGNORE;
	/* A successful execve is not counted at sys_exit (sched_process_exec
	 * has it): the program looks at the return value. */
	if (id == PG_SYS_EXECVE || id == PG_SYS_EXECVEAT)
		return PG_NR_FULL;
	/* fcntl: the F_DUPFD* that make a descriptor (for the fd table),
	 * unless a rule wants every fcntl. */
	if (id == PG_SYS_FCNTL && on[id] && !on[PG_FILTER_ALL_FCNTL])
		return PG_NR_FCNTL_DUPS;
	/* recvmsg: the program must look at every one for the descriptors it
	 * received (SCM_RIGHTS) when the fd table wants those, even with no
	 * rule on recvmsg (it then sends only those that received some). */
	if (id == PG_SYS_RECVMSG && on[PG_FILTER_RECEIVED_FDS])
		return PG_NR_FULL;
	return on[id] ? PG_NR_FULL : PG_NR_FILTERED;
}

#endif /* PEREGRINE_SYSCALLS_H */

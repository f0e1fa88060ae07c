// SPDX-License-Identifier: GPL-2.0-only
/*
 * Peregrine kernel programs: process lifecycle (exec, fork, exit) from the
 * sched tracepoints; open, openat, openat2, creat and connect from the
 * sys_exit tracepoint.
 *
 * Every record is laid out as in include/peregrine_wire.h. Records with
 * strings are built in a per-CPU scratch buffer and copied into the ring
 * buffer with bpf_ringbuf_output(), because their size is only known once the
 * strings are read (bpf_ringbuf_reserve() needs a constant size).
 *
 * User memory (paths, sockaddrs) is read at syscall exit: the kernel has
 * copied it by then, so the pages are resident. At sys_enter they may not be
 * faulted in yet and the read would return an empty string.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "peregrine_wire.h"

#if !defined(__TARGET_ARCH_x86)
#error "peregrine.bpf.c reads syscall arguments from x86_64 pt_regs; port the NR_* numbers and register names first"
#endif

char LICENSE[] SEC("license") = "GPL";

/* x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
#define NR_OPEN 2
#define NR_CONNECT 42
#define NR_CREAT 85
#define NR_OPENAT 257
#define NR_OPENAT2 437

/* Constants that are macros in the kernel, so not in vmlinux.h. */
#define AT_FDCWD -100
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000
#define __O_TMPFILE 020000000
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10
/* arch/x86/include/asm/thread_info.h: a 32-bit (ia32) syscall is running. */
#define TS_COMPAT 0x0002

/*
 * Scratch space for one record. The largest record is an exec: 88 fixed bytes,
 * then the filename (<= PG_PATH_MAX) and the args (<= PG_ARGS_MAX). The
 * verifier sees each string length through a 0x1fff mask (<= 8191, see
 * STR_MASK) rather than through the real bound, so the buffer must hold
 * 88 + 8191 + 8191 + 8 (zeroed padding) bytes to satisfy it, even though a
 * real record never exceeds 88 + 4096 + 4096 + 7.
 */
#define STR_MASK 0x1fff
#define LEN_MASK 0x3fff
#define PG_SCRATCH_SIZE (2 * (STR_MASK + 1) + 256)

struct percpu_scratch {
	__u8 buf[PG_SCRATCH_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct percpu_scratch);
} pg_scratch SEC(".maps");

/* The loader may resize this (bpf_map__set_max_entries) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} pg_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PG_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} pg_counters SEC(".maps");

/* Process ids whose events are dropped first thing (the agent and the
 * loader must not observe themselves). Set by the loader before load; unused
 * slots are 0, and the first 0 ends the list. */
const volatile __u32 ignore_tgids[8] = {};

/* The loader is woken once this much data waits in the ring buffer; below
 * it, the loader drains the ring on its own short timer. Waking it for every
 * record would cost a wakeup (irq_work + scheduler) per event: on the
 * development VM that doubled the cost of a traced openat+close. Set by the
 * loader to a fraction of the ring buffer size. */
const volatile __u32 wakeup_bytes = 1 << 20;

/* Put every wire type into the object's BTF so scripts/gen-layout.mjs can
 * read offsets from it; nothing references these variables. */
struct pg_stream_header *unused_pg_stream_header __attribute__((unused));
struct pg_exec *unused_pg_exec __attribute__((unused));
struct pg_fork *unused_pg_fork __attribute__((unused));
struct pg_exit *unused_pg_exit __attribute__((unused));
struct pg_open *unused_pg_open __attribute__((unused));
struct pg_connect *unused_pg_connect __attribute__((unused));
struct pg_stats *unused_pg_stats __attribute__((unused));
enum pg_schema unused_pg_schema __attribute__((unused));
enum pg_record_kind unused_pg_record_kind __attribute__((unused));
enum pg_syscall unused_pg_syscall __attribute__((unused));
enum pg_record_flags unused_pg_record_flags __attribute__((unused));
enum pg_counter unused_pg_counter __attribute__((unused));
enum pg_limits unused_pg_limits __attribute__((unused));
enum pg_family unused_pg_family __attribute__((unused));

static __always_inline void counter__inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&pg_counters, &idx);

	/* Per-CPU slot and the program is not re-entered on this CPU: no
	 * atomic needed. */
	if (v)
		*v += 1;
}

static __always_inline bool self__ignored(__u32 tgid)
{
#pragma unroll
	for (int i = 0; i < 8; i++) {
		if (ignore_tgids[i] == 0)
			return false;
		if (ignore_tgids[i] == tgid)
			return true;
	}
	return false;
}

static __always_inline __u8 *scratch__get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pg_scratch, &zero);
}

static __always_inline void hdr__fill(void *buf, __u16 kind, __u64 pid_tgid)
{
	struct pg_hdr *h = buf;

	h->ts_ns = bpf_ktime_get_boot_ns();
	h->size = 0;
	h->kind = kind;
	h->flags = 0;
	h->tgid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
}

/* Copy one finished record into the ring buffer and count the outcome. */
static __always_inline void ring__output(void *rec, __u32 size)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&pg_events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	counter__inc(PG_CNT_EVENTS_SEEN);
	if (bpf_ringbuf_output(&pg_events, rec, size, flags))
		counter__inc(PG_CNT_RINGBUF_FULL);
	else
		counter__inc(PG_CNT_EVENTS_EMITTED);
}

/*
 * Send the first len bytes of the scratch buffer as one record, padded to a
 * multiple of 8. The padding bytes are zeroed here: the scratch buffer is
 * reused, so they would otherwise leak bytes of an earlier record.
 */
static __always_inline void record__submit(__u8 *buf, __u32 len)
{
	__u32 size;

	/* One count per record, however many of its strings were cut. */
	if (((struct pg_hdr *)buf)->flags & PG_F_TRUNCATED)
		counter__inc(PG_CNT_TRUNCATED);
	len &= LEN_MASK;
	*(__u64 *)(buf + len) = 0;
	size = (len + 7) & ~7U;
	((struct pg_hdr *)buf)->size = size;
	ring__output(buf, size & LEN_MASK);
}

/* Fixed-size records go straight from the stack. */
static __always_inline void record__submit_fixed(void *rec, __u32 size)
{
	((struct pg_hdr *)rec)->size = size;
	ring__output(rec, size);
}

/*
 * A string read that filled the whole capacity may have been cut: the
 * *_str helpers return the capacity (NUL included) in that case. A real
 * path of exactly PG_PATH_MAX - 1 bytes is reported as truncated too;
 * PATH_MAX makes such paths vanishingly rare.
 */
static __always_inline long str__len(long n, __u16 *flags)
{
	if (n < 0) {
		counter__inc(PG_CNT_READ_FAILED);
		return 0;
	}
	if (n >= PG_PATH_MAX) {
		*flags |= PG_F_TRUNCATED;
		return PG_PATH_MAX;
	}
	return n;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pg_sched_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pg_exec *rec;
	const struct cred *cred;
	unsigned long arg_start, arg_end;
	long flen, alen;
	__u32 off;
	__u8 *buf;

	if (self__ignored(pid_tgid >> 32))
		return 0;
	buf = scratch__get();
	if (!buf)
		return 0;
	rec = (struct pg_exec *)buf;
	hdr__fill(buf, PG_REC_EXEC, pid_tgid);

	cred = task->cred;
	rec->ppid = task->real_parent->tgid;
	rec->uid = cred->uid.val;
	rec->gid = cred->gid.val;
	rec->euid = cred->euid.val;
	rec->egid = cred->egid.val;
	/* loginuid exists only with CONFIG_AUDIT; report "unset" without it. */
	if (bpf_core_field_exists(task->loginuid))
		rec->loginuid = task->loginuid.val;
	else
		rec->loginuid = 0xffffffff;
	rec->cgroup_id = bpf_get_current_cgroup_id();
	rec->start_ns = task->start_boottime;
	/* comm was already set to the new image's name by begin_new_exec(). */
	bpf_get_current_comm(rec->comm, sizeof(rec->comm));
	rec->_pad = 0;

	off = sizeof(*rec);
	flen = bpf_probe_read_kernel_str(buf + off, PG_PATH_MAX,
					 bprm->filename);
	flen = str__len(flen, &rec->hdr.flags);
	rec->filename_len = flen;
	off += flen & STR_MASK;

	/*
	 * argv as the new image sees it: NUL-joined strings between arg_start
	 * and arg_end of the new mm, written there by the kernel during exec
	 * and therefore resident.
	 */
	arg_start = task->mm->arg_start;
	arg_end = task->mm->arg_end;
	alen = arg_end > arg_start ? arg_end - arg_start : 0;
	if (alen > PG_ARGS_MAX) {
		alen = PG_ARGS_MAX;
		rec->hdr.flags |= PG_F_TRUNCATED;
	}
	alen &= STR_MASK;
	if (alen && bpf_probe_read_user(buf + (off & STR_MASK), alen,
					(const void *)arg_start)) {
		counter__inc(PG_CNT_READ_FAILED);
		alen = 0;
	}
	rec->args_len = alen;
	off += alen;

	record__submit(buf, off);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pg_sched_fork, struct task_struct *parent,
	     struct task_struct *child)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pg_fork rec;

	if (self__ignored(pid_tgid >> 32))
		return 0;
	hdr__fill(&rec, PG_REC_FORK, pid_tgid);
	rec.child_tgid = child->tgid;
	rec.child_tid = child->pid;
	rec.child_start_ns = child->start_boottime;
	/* A new thread joins its parent's thread group: its tgid is the
	 * parent's and differs from its own pid. A new process leads its
	 * own group (pid == tgid). */
	if (child->pid != child->tgid)
		rec.hdr.flags |= PG_F_THREAD;
	record__submit_fixed(&rec, sizeof(rec));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pg_sched_exit, struct task_struct *task, bool group_dead)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pg_exit rec;

	/* One record per process, when its last thread goes. */
	if (!group_dead || self__ignored(pid_tgid >> 32))
		return 0;
	hdr__fill(&rec, PG_REC_EXIT, pid_tgid);
	rec.exit_code = task->exit_code;
	rec._pad = 0;
	record__submit_fixed(&rec, sizeof(rec));
	return 0;
}

static __always_inline void open__emit(struct pt_regs *regs, long nr, long ret,
				       __u64 pid_tgid)
{
	struct open_how how = {};
	const char *path;
	struct pg_open *rec;
	long plen;
	__u8 *buf;

	buf = scratch__get();
	if (!buf)
		return;
	rec = (struct pg_open *)buf;
	hdr__fill(buf, PG_REC_OPEN, pid_tgid);
	rec->ret = ret;
	rec->_pad = 0;

	switch (nr) {
	case NR_OPEN: /* open(path, flags, mode) */
		path = (const char *)regs->di;
		rec->flags = (__u32)regs->si;
		rec->mode = regs->dx;
		rec->dirfd = AT_FDCWD;
		rec->syscall = PG_SYS_OPEN;
		break;
	case NR_CREAT: /* creat(path, mode) == open(path, O_CREAT|O_WRONLY|O_TRUNC, mode) */
		path = (const char *)regs->di;
		rec->flags = O_CREAT | O_WRONLY | O_TRUNC;
		rec->mode = regs->si;
		rec->dirfd = AT_FDCWD;
		rec->syscall = PG_SYS_CREAT;
		break;
	case NR_OPENAT: /* openat(dirfd, path, flags, mode) */
		path = (const char *)regs->si;
		rec->flags = (__u32)regs->dx;
		rec->mode = regs->r10;
		rec->dirfd = regs->di;
		rec->syscall = PG_SYS_OPENAT;
		break;
	default: /* openat2(dirfd, path, struct open_how *how, size) */
		path = (const char *)regs->si;
		if (bpf_probe_read_user(&how,
					sizeof(how.flags) + sizeof(how.mode),
					(const void *)regs->dx))
			counter__inc(PG_CNT_READ_FAILED);
		rec->flags = how.flags;
		rec->mode = how.mode;
		rec->dirfd = regs->di;
		rec->syscall = PG_SYS_OPENAT2;
		break;
	}
	/* Like the kernel (build_open_how), ignore the mode argument unless
	 * the call can create a file: otherwise it is whatever the register
	 * held. openat2 rejects a stray mode itself. */
	if (nr != NR_OPENAT2 && !(rec->flags & (O_CREAT | __O_TMPFILE)))
		rec->mode = 0;

	plen = bpf_probe_read_user_str(buf + sizeof(*rec), PG_PATH_MAX, path);
	plen = str__len(plen, &rec->hdr.flags);
	rec->path_len = plen;
	record__submit(buf, sizeof(*rec) + (plen & STR_MASK));
}

/*
 * The local end of a connected socket, read through the fd table:
 * current->files->fdt->fd[fd] is a struct file whose private_data is the
 * struct socket. Every step is a probe read, so a racing close() can at
 * worst leave zeros, never fault. The inode mode check makes sure the file
 * really is a socket before private_data is trusted to be one.
 */
static __always_inline void connect__local(struct pg_connect *rec, int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds;
	struct file *file;
	struct socket *sock;
	struct sock *sk;
	unsigned int max_fds;

	if (fd < 0)
		return;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	if ((unsigned int)fd >= max_fds)
		return;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	rec->sock_type = BPF_CORE_READ(sk, sk_type);
	rec->protocol = BPF_CORE_READ(sk, sk_protocol);
	rec->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (rec->family == AF_INET)
		bpf_core_read(rec->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
	else if (rec->family == AF_INET6)
		bpf_core_read(rec->saddr, 16,
			      &sk->__sk_common.skc_v6_rcv_saddr);
}

static __always_inline void connect__emit(struct pt_regs *regs, long ret,
					  __u64 pid_tgid)
{
	const void *uaddr = (const void *)regs->si;
	int addrlen = regs->dx;
	struct pg_connect rec = {};

	hdr__fill(&rec, PG_REC_CONNECT, pid_tgid);
	rec.ret = ret;
	rec.fd = regs->di;
	if (addrlen >= 2 && bpf_probe_read_user(&rec.family, 2, uaddr))
		counter__inc(PG_CNT_READ_FAILED);

	if (rec.family == AF_INET) {
		struct sockaddr_in sin = {};

		if (bpf_probe_read_user(&sin, 8, uaddr))
			counter__inc(PG_CNT_READ_FAILED);
		rec.dport = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(rec.daddr, &sin.sin_addr, 4);
	} else if (rec.family == AF_INET6) {
		/* sin6_scope_id (the last 4 bytes) is optional (RFC 2133
		 * length, 24 bytes) and not needed. */
		struct sockaddr_in6 sin6 = {};

		if (bpf_probe_read_user(&sin6, 24, uaddr))
			counter__inc(PG_CNT_READ_FAILED);
		rec.dport = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(rec.daddr, &sin6.sin6_addr, 16);
	}
	/* AF_UNIX: the path is not recorded (yet); daddr stays zero. */

	connect__local(&rec, rec.fd);
	record__submit_fixed(&rec, sizeof(rec));
}

SEC("tp_btf/sys_exit")
int BPF_PROG(pg_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	__u64 pid_tgid;

	/* Hot path: every syscall on the machine passes here. Decide on the
	 * number alone before anything else. */
	if (nr != NR_OPENAT && nr != NR_CONNECT && nr != NR_OPEN &&
	    nr != NR_OPENAT2 && nr != NR_CREAT)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (self__ignored(pid_tgid >> 32))
		return 0;
	/* A 32-bit process uses the ia32 table, where these numbers mean
	 * other syscalls. Not covered yet. */
	if (bpf_get_current_task_btf()->thread_info.status & TS_COMPAT)
		return 0;

	if (nr == NR_CONNECT)
		connect__emit(regs, ret, pid_tgid);
	else
		open__emit(regs, nr, ret, pid_tgid);
	return 0;
}

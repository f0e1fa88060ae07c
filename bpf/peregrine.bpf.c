// SPDX-License-Identifier: GPL-2.0-only
/*
 * Peregrine kernel programs: process lifecycle (exec, fork, exit) from the
 * sched tracepoints; every other watched syscall (files, processes, network:
 * see enum pg_syscall) from the sys_exit tracepoint, with its return value.
 *
 * Before any work, each hit is mapped to our syscall id and checked against
 * pg_filter, the set of syscalls the agent asked for (its rules plus its state
 * tables); the loader updates that map at run time.
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
#include "peregrine_syscalls.h"

#if !defined(__TARGET_ARCH_x86)
#error "peregrine.bpf.c reads syscall arguments from x86_64 pt_regs; port the NR_* numbers and register names first"
#endif

char LICENSE[] SEC("license") = "GPL";

/* Constants that are macros in the kernel, so not in vmlinux.h. */
#define AT_FDCWD -100
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000
#define __O_TMPFILE 020000000
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SIGCHLD 17
#define CLONE_VM 0x100
#define CLONE_VFORK 0x4000
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
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
/* A syscall record appends up to four strings at offsets masked by LEN_MASK,
 * each read with a PG_PATH_MAX (or 255-byte sockaddr) bound. */
#define PG_SCRATCH_SIZE (LEN_MASK + 1 + PG_PATH_MAX + 512)

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

/* The syscall filter: non-zero at index id = send enum pg_syscall id. Written
 * by the loader (all on unless told otherwise) and updated at run time. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PG_SYS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} pg_filter SEC(".maps");

/*
 * The counters (enum pg_counter), one slot of PG_CNT_MAX words per CPU,
 * summed by the loader. Global data indexed by the CPU number rather than a
 * per-CPU array map: on x86_64 the verifier inlines
 * bpf_get_smp_processor_id() into one per-CPU load of a line the kernel
 * keeps hot, where the map's inlined lookup first reads the map's own array
 * of per-CPU pointers, a line the syscall's own work has usually pushed out
 * of L1 by sys_exit (bpf_stats: ~5 ns of a filtered openat's run). A
 * counter is bumped without an atomic: the programs run with migration off
 * and are not re-entered on a CPU. CPUs numbered PG_CNT_CPUS or above (none
 * on the hosts this targets) share the last slot, atomically. The slot type
 * is in include/peregrine_syscalls.h, for the loader's skeleton.
 */
struct peregrine_cpu_counters pg_cnt[PG_CNT_CPUS + 1];

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

/* enum pg_nr_action by x86_64 syscall number (include/peregrine_syscalls.h):
 * written by the loader (through the skeleton's mapping of .bss) before
 * attach and whenever the filter changes; single bytes, so a reader sees
 * the old or the new action, as with the filter map itself. */
__u8 nr_action[NR_TABLE_SIZE];

/* Put every wire type into the object's BTF so scripts/gen-layout.mjs can
 * read offsets from it; nothing references these variables. */
struct pg_stream_header *unused_pg_stream_header __attribute__((unused));
struct pg_exec *unused_pg_exec __attribute__((unused));
struct pg_fork *unused_pg_fork __attribute__((unused));
struct pg_exit *unused_pg_exit __attribute__((unused));
struct pg_open *unused_pg_open __attribute__((unused));
struct pg_connect *unused_pg_connect __attribute__((unused));
struct pg_tuple *unused_pg_tuple __attribute__((unused));
struct pg_syscall_exit *unused_pg_syscall_exit __attribute__((unused));
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
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu < PG_CNT_CPUS)
		pg_cnt[cpu].n[idx & (PG_CNT_MAX - 1)] += 1;
	else
		__sync_fetch_and_add(&pg_cnt[PG_CNT_CPUS].n[idx & (PG_CNT_MAX - 1)],
				     1);
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

/* Counts the hit and tells whether the agent wants this syscall. */
static __always_inline bool filter__on(__u32 id)
{
	__u32 *on = bpf_map_lookup_elem(&pg_filter, &id);

	return on && *on;
}

/*
 * Counts the hit and tells whether the agent wants this id. The kernel
 * counts a hit either as seen (it passed the filter) or as filtered, one
 * increment per hit; the loader reports seen + filtered as the hits seen
 * before the filter (PG_CNT_EVENTS_SEEN on the wire).
 */
static __always_inline bool filter__wants(__u32 id)
{
	if (filter__on(id)) {
		counter__inc(PG_CNT_EVENTS_SEEN);
		return true;
	}
	counter__inc(PG_CNT_FILTERED);
	return false;
}

/* The ring-buffer-full counter of a syscall's family (ranges: see enum pg_syscall). */
static __always_inline __u32 family__full_counter(__u32 id)
{
	if ((id >= PG_SYS_OPEN && id <= PG_SYS_CREAT) ||
	    (id >= PG_SYS_UNLINK && id <= PG_SYS_LCHOWN))
		return PG_CNT_RINGBUF_FULL_FILE;
	if (id == PG_SYS_CONNECT ||
	    (id >= PG_SYS_SOCKET && id <= PG_SYS_CLOSE))
		return PG_CNT_RINGBUF_FULL_NETWORK;
	if (id >= PG_SYS_EXECVE && id <= PG_SYS_FCHDIR)
		return PG_CNT_RINGBUF_FULL_PROCESS;
	return PG_CNT_RINGBUF_FULL_OTHER;
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
/*
 * The wakeup flag for a record of size bytes: the loader is woken once,
 * when this record takes the backlog past wakeup_bytes. Waking it for
 * every record above the mark (it is awake already, or blocked writing to
 * a slow agent) cost a forced wakeup per event, in the traced task's time:
 * ~4 us per event on the development VM. A missed wakeup costs at most the
 * loader's 10 ms drain timer.
 */
static __always_inline __u64 ring__flags(__u32 size)
{
	__u64 avail = bpf_ringbuf_query(&pg_events, BPF_RB_AVAIL_DATA);

	if (avail < wakeup_bytes && avail + size >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void ring__output(void *rec, __u32 size, __u32 id)
{
	__u64 flags = ring__flags(size);

	if (bpf_ringbuf_output(&pg_events, rec, size, flags)) {
		counter__inc(PG_CNT_RINGBUF_FULL);
		counter__inc(family__full_counter(id));
	} else {
		counter__inc(PG_CNT_EVENTS_EMITTED);
	}
}

/*
 * Send the first len bytes of the scratch buffer as one record, padded to a
 * multiple of 8. The padding bytes are zeroed here: the scratch buffer is
 * reused, so they would otherwise leak bytes of an earlier record.
 */
static __always_inline void record__submit(__u8 *buf, __u32 len, __u32 id)
{
	__u32 size;

	/* One count per record, however many of its strings were cut. */
	if (((struct pg_hdr *)buf)->flags & PG_F_TRUNCATED)
		counter__inc(PG_CNT_TRUNCATED);
	len &= LEN_MASK;
	*(__u64 *)(buf + len) = 0;
	size = (len + 7) & ~7U;
	((struct pg_hdr *)buf)->size = size;
	ring__output(buf, size & LEN_MASK, id);
}

/* Fixed-size records go straight from the stack. */
static __always_inline void record__submit_fixed(void *rec, __u32 size,
						 __u32 id)
{
	((struct pg_hdr *)rec)->size = size;
	ring__output(rec, size, id);
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

/* The syscall the current task is in, from its saved user registers. */
static __always_inline long task__syscall_nr(struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	return regs ? regs->orig_ax : -1;
}

static __always_inline __u32 pid__nr(struct pid *pid)
{
	return pid ? BPF_CORE_READ(pid, numbers[0].nr) : 0;
}

/* Controlling tty in the /proc/<pid>/stat tty_nr encoding (new_encode_dev). */
static __always_inline __u32 task__tty_nr(struct task_struct *task)
{
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	__u32 major, minor;

	if (!tty)
		return 0;
	major = BPF_CORE_READ(tty, driver, major);
	minor = BPF_CORE_READ(tty, driver, minor_start) +
		BPF_CORE_READ(tty, index);
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

/* The task's tgid as its own pid namespace numbers it. */
static __always_inline __u32 task__vpid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level;
	__u32 nr = 0;

	if (!pid)
		return 0;
	level = BPF_CORE_READ(pid, level);
	bpf_probe_read_kernel(&nr, sizeof(nr), &pid->numbers[level & 31].nr);
	return nr;
}

/*
 * What the executed file is: inode, times, whether it sits on an overlayfs
 * upper layer (written inside the container: the overlay inode has an upper
 * dentry) and whether it is a memfd ("memfd:" name, no link on any
 * filesystem).
 */
static __always_inline void exec__file(struct pg_exec *rec, struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	const unsigned char *name;
	char prefix[6] = {};

	if (!inode)
		return;
	rec->exe_ino = BPF_CORE_READ(inode, i_ino);
	/* Multigrain timestamps (6.13+) keep a "queried" flag in bit 31 of
	 * i_ctime_nsec; nanoseconds never reach bit 30. */
	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		rec->exe_ctime_ns = BPF_CORE_READ(inode, i_ctime_sec) * 1000000000ULL +
				    (BPF_CORE_READ(inode, i_ctime_nsec) & 0x3fffffff);
		rec->exe_mtime_ns = BPF_CORE_READ(inode, i_mtime_sec) * 1000000000ULL +
				    (BPF_CORE_READ(inode, i_mtime_nsec) & 0x3fffffff);
	}
	if (bpf_core_type_exists(struct ovl_inode) &&
	    BPF_CORE_READ(inode, i_sb, s_magic) == OVERLAYFS_SUPER_MAGIC) {
		struct ovl_inode *oi = (void *)inode -
			bpf_core_field_offset(struct ovl_inode, vfs_inode);

		if (BPF_CORE_READ(oi, __upperdentry))
			rec->hdr.flags |= PG_F_EXE_UPPER;
	}
	name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	if (BPF_CORE_READ(inode, i_nlink) == 0 &&
	    !bpf_probe_read_kernel(prefix, sizeof(prefix), name) &&
	    prefix[0] == 'm' && prefix[1] == 'e' && prefix[2] == 'm' &&
	    prefix[3] == 'f' && prefix[4] == 'd' && prefix[5] == ':')
		rec->hdr.flags |= PG_F_EXE_MEMFD;
}

#define SOL_SOCKET 1
#define SCM_RIGHTS 1
/* At most this many fds of one SCM_RIGHTS message are looked at. */
#define SCM_FDS_MAX 8
/* Of those, the record carries this many (recvmsg's aux, see peregrine_wire.h). */
#define SCM_FDS_SENT 5

struct scm_fds {
	__u64 len;
	__s32 level;
	__s32 type;
	__s32 fds[SCM_FDS_MAX];
};

/*
 * recvmsg returned: the descriptors received with SCM_RIGHTS, new in this
 * process; returns how many (cm->fds). Only the first control message is
 * read (where SCM_RIGHTS normally is); the kernel wrote it back to user
 * memory, resident now.
 */
static __always_inline __u32 scm__received(const void *umsg,
					   struct scm_fds *cm)
{
	struct user_msghdr msg;
	__u32 n;

	if (bpf_probe_read_user(&msg, sizeof(msg), umsg) || !msg.msg_control ||
	    msg.msg_controllen < 20)
		return 0;
	__builtin_memset(cm, 0, sizeof(*cm));
	if (bpf_probe_read_user(cm, msg.msg_controllen < sizeof(*cm) ?
					    (msg.msg_controllen & 0x3f) :
					    sizeof(*cm),
				msg.msg_control) ||
	    cm->level != SOL_SOCKET || cm->type != SCM_RIGHTS || cm->len < 20)
		return 0;
	n = (cm->len - 16) / 4;
	return n > SCM_FDS_MAX ? SCM_FDS_MAX : n;
}

/* The received fds as recvmsg's aux words (two s32 a word, the count in
 * the high half of the last). */
static __always_inline void scm__pack(const struct scm_fds *cm, __u32 n,
				      __u64 *aux)
{
	if (n > SCM_FDS_SENT)
		n = SCM_FDS_SENT;
	aux[0] = (__u32)cm->fds[0] | (__u64)(__u32)cm->fds[1] << 32;
	aux[1] = (__u32)cm->fds[2] | (__u64)(__u32)cm->fds[3] << 32;
	aux[2] = (__u32)cm->fds[4] | (__u64)n << 32;
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
	__u32 off, id;
	__u8 *buf;

	/*
	 * execveat: the saved orig_ax reads 59 (execve) here even for an
	 * execveat on this kernel, so also look at what execveat leaves in
	 * bprm->filename for a path relative to a dirfd or AT_EMPTY_PATH:
	 * "/dev/fd/N[/path]". execveat(AT_FDCWD, path) stays "execve".
	 */

	id = PG_SYS_EXECVE;
	{
		char fdp[8] = {};

		if (task__syscall_nr(task) == NR_EXECVEAT ||
		    (!bpf_probe_read_kernel(fdp, sizeof(fdp), bprm->filename) &&
		     fdp[0] == '/' && fdp[1] == 'd' && fdp[2] == 'e' &&
		     fdp[3] == 'v' && fdp[4] == '/' && fdp[5] == 'f' &&
		     fdp[6] == 'd' && fdp[7] == '/'))
			id = PG_SYS_EXECVEAT;
	}
	if (!filter__wants(id) || self__ignored(pid_tgid >> 32))
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
	rec->syscall = id;
	rec->_pad = 0;
	rec->tty = task__tty_nr(task);
	rec->sid = pid__nr(BPF_CORE_READ(task, signal, pids[PIDTYPE_SID]));
	rec->pgid = pid__nr(BPF_CORE_READ(task, signal, pids[PIDTYPE_PGID]));
	rec->vpid = task__vpid(task);
	rec->cap_effective = cred->cap_effective.val;
	rec->cap_permitted = cred->cap_permitted.val;
	rec->cap_inheritable = cred->cap_inheritable.val;
	rec->exe_ino = 0;
	rec->exe_ctime_ns = 0;
	rec->exe_mtime_ns = 0;
	exec__file(rec, bprm->file);

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

	record__submit(buf, off, id);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pg_sched_fork, struct task_struct *parent,
	     struct task_struct *child)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pg_fork rec = {};
	struct pt_regs *regs;
	long nr;

	/* The parent is in the syscall that creates the child (kernel
	 * threads are created outside any syscall: UNKNOWN, flags 0). */
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	nr = regs ? regs->orig_ax : -1;
	if (nr == NR_CLONE) {
		rec.syscall = PG_SYS_CLONE;
		rec.clone_flags = regs->di;
	} else if (nr == NR_CLONE3) {
		/* struct clone_args starts with its u64 flags; the kernel
		 * copied it in already, so the page is resident. */
		rec.syscall = PG_SYS_CLONE3;
		if (bpf_probe_read_user(&rec.clone_flags, 8,
					(const void *)regs->di))
			counter__inc(PG_CNT_READ_FAILED);
	} else if (nr == NR_FORK) {
		rec.syscall = PG_SYS_FORK;
		rec.clone_flags = SIGCHLD;
	} else if (nr == NR_VFORK) {
		rec.syscall = PG_SYS_VFORK;
		rec.clone_flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
	}
	if (!filter__wants(rec.syscall ? rec.syscall : PG_SYS_CLONE) ||
	    self__ignored(pid_tgid >> 32))
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
	record__submit_fixed(&rec, sizeof(rec), PG_SYS_CLONE);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pg_sched_exit, struct task_struct *task, bool group_dead)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pg_exit rec;

	/* One record per process, when its last thread goes. */
	if (!group_dead || !filter__wants(PG_SYS_PROCEXIT) ||
	    self__ignored(pid_tgid >> 32))
		return 0;
	hdr__fill(&rec, PG_REC_EXIT, pid_tgid);
	rec.exit_code = task->exit_code;
	rec._pad = 0;
	record__submit_fixed(&rec, sizeof(rec), PG_SYS_PROCEXIT);
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
	record__submit(buf, sizeof(*rec) + (plen & STR_MASK), rec->syscall);
}

/*
 * The struct sock behind an fd, read through the fd table:
 * current->files->fdt->fd[fd] is a struct file whose private_data is the
 * struct socket. Every step is a probe read, so a racing close() can at
 * worst give NULL, never fault. The inode mode check makes sure the file
 * really is a socket before private_data is trusted to be one.
 */
static __always_inline struct sock *sock__from_fd(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds;
	struct file *file;
	struct socket *sock;
	unsigned int max_fds;

	struct fdtable *fdt;

	if (fd < 0)
		return NULL;
	fdt = task->files->fdt;
	fds = fdt->fd;
	max_fds = fdt->max_fds;
	if ((unsigned long)fd >= max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* The inode number of the current process's descriptor fd; 0 when there
 * is none. Probe reads, as in sock__from_fd. */
static __always_inline __u64 fd__ino(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file **fds = fdt->fd;
	struct file *file;

	if (fd < 0 || (unsigned long)fd >= fdt->max_fds ||
	    bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	return BPF_CORE_READ(file, f_inode, i_ino);
}

/* The file at the current process's descriptor fd; NULL when there is none. */
static __always_inline struct file *fd__file(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file **fds = fdt->fd;
	struct file *file;

	if (fd < 0 || (unsigned long)fd >= fdt->max_fds ||
	    bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/*
 * A file's path, built from its dentries (the kernel keeps no path string,
 * and bpf_d_path is not allowed in a tp_btf program): one component per
 * bpf_loop step, written backwards into a free part of the scratch buffer
 * (PATH_TMP, past what a record in progress uses), crossing mount points
 * through struct mount. Relative to the global root (a chroot is not
 * subtracted), as Falco's modern probe approximates it. Only for rare
 * syscalls (open_by_handle_at): the walk costs a few probe reads a level.
 */
#define PATH_TMP 8192
#define PATH_TMP_END 4095 /* offset of the terminating NUL, from PATH_TMP */
#define PATH_LEVELS 48

struct path_walk {
	__u64 dentry; /* struct dentry *, as a number (probe reads only) */
	__u64 mnt;    /* struct mount * */
	__u32 pos;    /* first byte written so far, from PATH_TMP */
	__u32 truncated;
};

static long path__step(__u32 i, void *data)
{
	struct path_walk *w = data;
	struct dentry *d = (struct dentry *)w->dentry;
	struct mount *m = (struct mount *)w->mnt;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	struct dentry *root = BPF_CORE_READ(m, mnt.mnt_root);
	const unsigned char *name;
	__u32 len, zero = 0;
	__u8 *buf;

	if (d == root || d == parent) {
		struct mount *up = BPF_CORE_READ(m, mnt_parent);

		if (up == m || !up) /* the root of the root mount */
			return 1;
		w->dentry = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		w->mnt = (__u64)up;
		return 0;
	}
	len = BPF_CORE_READ(d, d_name.len);
	name = BPF_CORE_READ(d, d_name.name);
	if (len > 255 || len + 1 > w->pos) {
		w->truncated = 1;
		return 1;
	}
	buf = bpf_map_lookup_elem(&pg_scratch, &zero);
	if (!buf)
		return 1;
	w->pos -= len;
	if (bpf_probe_read_kernel(buf + PATH_TMP + (w->pos & 4095), len & 255,
				  name))
		return 1;
	w->pos -= 1;
	buf[PATH_TMP + (w->pos & 4095)] = '/';
	w->dentry = (__u64)parent;
	return 0;
}

/* Appends the path of file at off (NUL terminated); returns the new end. */
static __always_inline __u32 path__append_file(__u8 *buf, __u32 off,
					       struct file *file, __u16 *len,
					       __u16 *flags)
{
	struct path_walk w = {
		.dentry = (__u64)BPF_CORE_READ(file, f_path.dentry),
		.mnt = (__u64)BPF_CORE_READ(file, f_path.mnt) -
		       bpf_core_field_offset(struct mount, mnt),
		.pos = PATH_TMP_END,
	};
	__u32 n;

	*len = 0;
	buf[PATH_TMP + PATH_TMP_END] = 0;
	bpf_loop(PATH_LEVELS, path__step, &w, 0);
	if (w.pos == PATH_TMP_END) { /* the root itself */
		w.pos -= 1;
		buf[PATH_TMP + (w.pos & 4095)] = '/';
	}
	if (w.truncated)
		*flags |= PG_F_TRUNCATED;
	n = PATH_TMP_END + 1 - w.pos; /* with the NUL */
	if (bpf_probe_read_kernel(buf + (off & LEN_MASK), n & 4095,
				  buf + PATH_TMP + (w.pos & 4095)))
		return off;
	*len = n;
	return off + (n & 4095);
}

/* The local end of a connected socket. */
static __always_inline void connect__local(struct pg_connect *rec, int fd)
{
	struct sock *sk = sock__from_fd(fd);

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

/* Both ends of a socket (pg_tuple); t must be zeroed by the caller. */
static __always_inline void tuple__fill(struct pg_tuple *t, struct sock *sk)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->sock_type = BPF_CORE_READ(sk, sk_type);
	t->protocol = BPF_CORE_READ(sk, sk_protocol);
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		bpf_core_read(t->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(t->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (t->family == AF_INET6) {
		bpf_core_read(t->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(t->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/* Appends a user string at off; returns the new end. */
static __always_inline __u32 str__append(__u8 *buf, __u32 off,
					 const char *uptr, __u16 *len,
					 __u16 *flags)
{
	long n;

	*len = 0;
	if (!uptr)
		return off;
	n = bpf_probe_read_user_str(buf + (off & LEN_MASK), PG_PATH_MAX, uptr);
	n = str__len(n, flags);
	*len = n;
	return off + (n & STR_MASK);
}

/* Appends up to PG_SOCKADDR_MAX raw sockaddr bytes at off; returns the new end. */
static __always_inline __u32 addr__append(__u8 *buf, __u32 off,
					  const void *uaddr, long alen,
					  __u16 *len)
{
	*len = 0;
	if (!uaddr || alen <= 0)
		return off;
	if (alen > PG_SOCKADDR_MAX)
		alen = PG_SOCKADDR_MAX;
	alen &= 0xff;
	if (bpf_probe_read_user(buf + (off & LEN_MASK), alen, uaddr)) {
		counter__inc(PG_CNT_READ_FAILED);
		return off;
	}
	*len = alen;
	return off + alen;
}

/*
 * Appends the address a unix socket is bound to (unix_sock->addr: the
 * struct sockaddr_un bytes the kernel keeps, addr->len of them, family
 * first) at off; returns the new end. Nothing for an unbound socket or none.
 * An accepted socket shares its listener's address.
 */
static __always_inline __u32 unix__append(__u8 *buf, __u32 off,
					  struct sock *sk, __u16 *len)
{
	struct unix_address *ua;
	long n;

	*len = 0;
	if (!sk)
		return off;
	/* struct sock is the first member of struct unix_sock. */
	ua = BPF_CORE_READ((struct unix_sock *)sk, addr);
	if (!ua)
		return off;
	n = BPF_CORE_READ(ua, len);
	if (n <= 2) /* the family alone: no name */
		return off;
	if (n > PG_SOCKADDR_MAX)
		n = PG_SOCKADDR_MAX;
	n &= 0xff;
	if (bpf_probe_read_kernel(buf + (off & LEN_MASK), n,
				  (void *)ua + bpf_core_field_offset(
						       struct unix_address, name))) {
		counter__inc(PG_CNT_READ_FAILED);
		return off;
	}
	*len = n;
	return off + n;
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

	connect__local(&rec, rec.fd);
	if (rec.family == AF_UNIX && addrlen > 2) {
		/* The path follows the fixed part: built in the scratch buffer. */
		__u8 *buf = scratch__get();
		__u32 off;

		if (!buf)
			return;
		__builtin_memcpy(buf, &rec, sizeof(rec));
		off = addr__append(buf, sizeof(rec), uaddr, addrlen,
				   &((struct pg_connect *)buf)->addr_len);
		record__submit(buf, off, PG_SYS_CONNECT);
		return;
	}
	record__submit_fixed(&rec, sizeof(rec), PG_SYS_CONNECT);
}

/* A socklen_t the kernel wrote back to user memory (accept, recvfrom). */
static __always_inline long user__socklen(const void *uptr)
{
	__u32 v = 0;

	if (!uptr || bpf_probe_read_user(&v, sizeof(v), uptr))
		return 0;
	return v;
}

/* The fixed part of a PG_REC_SYSCALL after its header. */
static __always_inline void syscall__fill(struct pg_syscall_exit *rec,
					  struct pt_regs *regs, __u32 id,
					  long ret, const struct cred *cred,
					  const __u64 *aux)
{
	rec->ret = ret;
	rec->args[0] = regs->di;
	rec->args[1] = regs->si;
	rec->args[2] = regs->dx;
	rec->args[3] = regs->r10;
	rec->args[4] = regs->r8;
	rec->args[5] = regs->r9;
	rec->aux[0] = aux[0];
	rec->aux[1] = aux[1];
	rec->aux[2] = aux[2];
	rec->uid = cred->uid.val;
	rec->gid = cred->gid.val;
	rec->euid = cred->euid.val;
	rec->egid = cred->egid.val;
	rec->syscall = id;
	rec->tuple_len = 0;
	rec->path_len = 0;
	rec->path2_len = 0;
	rec->path3_len = 0;
	rec->addr_len = 0;
	rec->unix_local_len = 0;
	rec->unix_peer_len = 0;
}

/*
 * A PG_REC_SYSCALL with nothing after its fixed part, reserved in the ring
 * buffer and filled there: no scratch buffer, no copy. While records go
 * through, it costs what building it in the scratch buffer and copying it
 * with bpf_ringbuf_output() cost (bpf_stats, within 1 ns); while the ring
 * buffer is full (the agent behind), the record is no longer built only to
 * be dropped: 36 ns less per openat+close pair for the traced process.
 */
static __always_inline void syscall__emit_fixed(struct pt_regs *regs, __u32 id,
						long ret, __u64 pid_tgid,
						const struct cred *cred,
						const __u64 *aux)
{
	struct pg_syscall_exit *rec;
	__u64 flags = ring__flags(sizeof(*rec));

	rec = bpf_ringbuf_reserve(&pg_events, sizeof(*rec), 0);
	if (!rec) {
		counter__inc(PG_CNT_RINGBUF_FULL);
		counter__inc(family__full_counter(id));
		return;
	}
	hdr__fill(rec, PG_REC_SYSCALL, pid_tgid);
	rec->hdr.size = sizeof(*rec);
	syscall__fill(rec, regs, id, ret, cred, aux);
	bpf_ringbuf_submit(rec, flags);
	counter__inc(PG_CNT_EVENTS_EMITTED);
}

/*
 * PG_REC_SYSCALL: the argument registers, the creds after the call, and
 * what each syscall needs read from memory (see struct pg_syscall_exit).
 */
static __always_inline void syscall__emit(struct pt_regs *regs, __u32 id,
					  long ret, __u64 pid_tgid,
					  const __u64 *scm_aux)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;
	const char *p1 = NULL, *p2 = NULL, *p3 = NULL;
	const void *uaddr = NULL;
	long alen = 0, sockfd = -1;
	struct file *kfile = NULL; /* a path read from the kernel, not user memory */
	struct pg_syscall_exit *rec;
	struct user_msghdr msg;
	__u64 aux[3] = {};
	struct sock *sk;
	__u32 off;
	__u8 *buf;

	/* First what the record carries beyond its fixed part. */
	switch (id) {
	case PG_SYS_UNLINK:
	case PG_SYS_RMDIR:
	case PG_SYS_MKDIR:
	case PG_SYS_CHMOD:
	case PG_SYS_CHOWN:
	case PG_SYS_LCHOWN:
	case PG_SYS_CHDIR:
	case PG_SYS_EXECVE:
	case PG_SYS_MEMFD_CREATE:
	case PG_SYS_DELETE_MODULE:
	case PG_SYS_UMOUNT2:
		p1 = (const char *)regs->di;
		break;
	case PG_SYS_UNLINKAT:
	case PG_SYS_MKDIRAT:
	case PG_SYS_FCHMODAT:
	case PG_SYS_FCHOWNAT:
	case PG_SYS_EXECVEAT:
		p1 = (const char *)regs->si;
		break;
	case PG_SYS_RENAME:
	case PG_SYS_LINK:
	case PG_SYS_SYMLINK:
		p1 = (const char *)regs->di;
		p2 = (const char *)regs->si;
		break;
	case PG_SYS_RENAMEAT:
	case PG_SYS_RENAMEAT2:
	case PG_SYS_LINKAT:
		p1 = (const char *)regs->si;
		p2 = (const char *)regs->r10;
		break;
	case PG_SYS_SYMLINKAT:
		p1 = (const char *)regs->di;
		p2 = (const char *)regs->dx;
		break;
	case PG_SYS_MOUNT: /* mount(source, target, fstype, flags, data) */
		p1 = (const char *)regs->di;
		p2 = (const char *)regs->si;
		p3 = (const char *)regs->dx;
		break;
	case PG_SYS_BIND: /* bind(fd, addr, addrlen) */
		sockfd = regs->di;
		uaddr = (const void *)regs->si;
		alen = (int)regs->dx;
		break;
	case PG_SYS_LISTEN:
		sockfd = regs->di;
		break;
	case PG_SYS_ACCEPT: /* accept4(fd, addr, &addrlen, flags) */
	case PG_SYS_ACCEPT4:
		if (ret >= 0) {
			sockfd = ret;
			uaddr = (const void *)regs->si;
			alen = user__socklen((const void *)regs->dx);
			aux[0] = alen;
		}
		break;
	case PG_SYS_SENDTO: /* sendto(fd, buf, len, flags, addr, addrlen) */
		sockfd = regs->di;
		uaddr = (const void *)regs->r8;
		alen = (int)regs->r9;
		break;
	case PG_SYS_RECVFROM: /* recvfrom(fd, buf, len, flags, addr, &addrlen) */
		sockfd = regs->di;
		if (ret >= 0) {
			uaddr = (const void *)regs->r8;
			alen = user__socklen((const void *)regs->r9);
			aux[0] = alen;
		}
		break;
	case PG_SYS_SENDMSG: /* sendmsg(fd, msghdr, flags) */
	case PG_SYS_RECVMSG:
		sockfd = regs->di;
		if ((id == PG_SYS_SENDMSG || ret >= 0) &&
		    !bpf_probe_read_user(&msg, 16, (const void *)regs->si)) {
			uaddr = msg.msg_name;
			alen = msg.msg_namelen;
		}
		break;
	case PG_SYS_SOCKETPAIR: /* socketpair(domain, type, proto, sv[2]) */
		if (ret == 0) {
			int sv[2] = {};

			if (bpf_probe_read_user(sv, sizeof(sv),
						(const void *)regs->r10))
				counter__inc(PG_CNT_READ_FAILED);
			aux[0] = sv[0];
			aux[1] = sv[1];
		}
		break;
	case PG_SYS_CAPSET:
		aux[0] = cred->cap_effective.val;
		aux[1] = cred->cap_permitted.val;
		aux[2] = cred->cap_inheritable.val;
		break;
	case PG_SYS_PIPE: /* pipe(fds[2]), pipe2(fds[2], flags) */
	case PG_SYS_PIPE2:
		if (ret == 0) {
			int fds[2] = { -1, -1 };

			if (bpf_probe_read_user(fds, sizeof(fds),
						(const void *)regs->di))
				counter__inc(PG_CNT_READ_FAILED);
			aux[0] = fds[0];
			aux[1] = fds[1];
			aux[2] = fd__ino(fds[0]);
		}
		break;
	case PG_SYS_OPEN_BY_HANDLE_AT: /* (mount_fd, handle *, flags) */
		/* The path of what it opened: the kernel has only the handle. */
		if (ret >= 0) {
			kfile = fd__file(ret);
			if (kfile) {
				aux[0] = BPF_CORE_READ(kfile, f_inode, i_ino);
				aux[1] = BPF_CORE_READ(kfile, f_inode, i_mode);
			}
		}
		break;
	case PG_SYS_SIGNALFD: /* signalfd4(fd, mask *, sizemask, flags) */
	case PG_SYS_SIGNALFD4:
		/* The first 32 signals of the mask (Falco's "mask"). */
		if (bpf_probe_read_user(aux, 4, (const void *)regs->si))
			counter__inc(PG_CNT_READ_FAILED);
		break;
	case PG_SYS_IO_URING_SETUP: /* io_uring_setup(entries, params *) */
		/* The six u32 the kernel wrote back at the start of struct
		 * io_uring_params (sq_entries … features), two per word. */
		if (ret >= 0 &&
		    bpf_probe_read_user(aux, 24, (const void *)regs->si))
			counter__inc(PG_CNT_READ_FAILED);
		break;
	}
	/* recvmsg: the descriptors it received (read by pg_sys_exit). */
	if (id == PG_SYS_RECVMSG) {
		aux[0] = scm_aux[0];
		aux[1] = scm_aux[1];
		aux[2] = scm_aux[2];
	}

	/* Nothing after the fixed part (a close, dup, set*id, kill …):
	 * written straight into the ring buffer. */
	if (!p1 && !p2 && !p3 && !uaddr && sockfd < 0 && !kfile) {
		syscall__emit_fixed(regs, id, ret, pid_tgid, cred, aux);
		return;
	}
	buf = scratch__get();
	if (!buf)
		return;
	rec = (struct pg_syscall_exit *)buf;
	hdr__fill(buf, PG_REC_SYSCALL, pid_tgid);
	syscall__fill(rec, regs, id, ret, cred, aux);

	off = sizeof(*rec);
	sk = NULL;
	if (sockfd >= 0) {
		sk = sock__from_fd(sockfd);
		if (sk) {
			struct pg_tuple *t = (struct pg_tuple *)(buf + off);

			__builtin_memset(t, 0, sizeof(*t));
			tuple__fill(t, sk);
			rec->tuple_len = sizeof(*t);
			off += sizeof(*t);
			if (t->family != AF_UNIX)
				sk = NULL;
		}
	}
	if (kfile)
		off = path__append_file(buf, off, kfile, &rec->path_len,
					&rec->hdr.flags);
	else
		off = str__append(buf, off, p1, &rec->path_len,
				  &rec->hdr.flags);
	off = str__append(buf, off, p2, &rec->path2_len, &rec->hdr.flags);
	off = str__append(buf, off, p3, &rec->path3_len, &rec->hdr.flags);
	off = addr__append(buf, off, uaddr, alen, &rec->addr_len);
	if (sk) { /* AF_UNIX: the paths live in the socket, not the tuple */
		off = unix__append(buf, off, sk, &rec->unix_local_len);
		off = unix__append(buf, off,
				   BPF_CORE_READ((struct unix_sock *)sk, peer),
				   &rec->unix_peer_len);
	}
	record__submit(buf, off, id);
}


/* An fcntl whose command makes a descriptor (F_DUPFD, F_DUPFD_CLOEXEC). */
static __always_inline bool fcntl__dups(struct pt_regs *regs)
{
	__u32 cmd = regs->si;

	return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
}

/*
 * Everything a syscall exit goes through, for both ways of attaching
 * (pg_sys_exit below, the loader's --attach raw; pg_sys_exit_tp, one
 * tracepoint per syscall): regs are the task's user registers either way.
 */
static __always_inline int sys_exit__run(struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	bool want;
	__u64 scm_aux[3] = {};
	struct scm_fds scm;
	__u32 scm_n = 0;
	__u64 pid_tgid;
	__u32 id;

	/* Hot path: every syscall on the machine passes here. Decide on the
	 * number alone before anything else: one byte of nr_action, which
	 * the loader derived from the filter, so the common cases (not
	 * watched; unwanted) touch one cache line of ours and the counter's,
	 * not the number table, the filter map and the read-only settings. */
	if ((unsigned long)nr >= NR_TABLE_SIZE)
		return 0;
	switch (nr_action[nr]) {
	case PG_NR_IGNORE:
		return 0;
	case PG_NR_FILTERED:
		counter__inc(PG_CNT_FILTERED);
		return 0;
	case PG_NR_FCNTL_DUPS:
		/* F_GETFL, F_SETFD … (most fcntl calls) leave here. */
		if (!fcntl__dups(regs)) {
			counter__inc(PG_CNT_FILTERED);
			return 0;
		}
		break;
	}
	id = nr_to_pg[nr];
	if (!id)
		return 0;
	/* A successful execve returns in the new image: the sched_process_exec
	 * record has told it already. Only failures are reported here. */
	if ((id == PG_SYS_EXECVE || id == PG_SYS_EXECVEAT) && ret == 0)
		return 0;
	/* A 32-bit process uses the ia32 table, where these numbers mean
	 * other syscalls (3 is read there, not close). Not covered
	 * (docs/sensor.md). */
	if (bpf_get_current_task_btf()->thread_info.status & TS_COMPAT)
		return 0;
	/* recvmsg: descriptors received with SCM_RIGHTS (the record carries
	 * them to the fd table). */
	if (id == PG_SYS_RECVMSG && ret >= 0) {
		scm_n = scm__received((const void *)regs->si, &scm);
		if (scm_n)
			scm__pack(&scm, scm_n, scm_aux);
	}
	want = filter__on(id);
	/* A recvmsg that received descriptors matters to the fd table even
	 * when no rule wants recvmsg; an fcntl that makes none matters only
	 * to a rule on fcntl. */
	if (id == PG_SYS_RECVMSG && scm_n && !want)
		want = filter__on(PG_FILTER_RECEIVED_FDS);
	else if (id == PG_SYS_FCNTL && want && !fcntl__dups(regs))
		want = filter__on(PG_FILTER_ALL_FCNTL);
	/* Not wanted (see filter__wants for the counting). */
	if (!want) {
		counter__inc(PG_CNT_FILTERED);
		return 0;
	}
	counter__inc(PG_CNT_EVENTS_SEEN);
	pid_tgid = bpf_get_current_pid_tgid();
	if (self__ignored(pid_tgid >> 32))
		return 0;

	if (id == PG_SYS_CONNECT)
		connect__emit(regs, ret, pid_tgid);
	else if (id <= PG_SYS_CREAT)
		open__emit(regs, nr, ret, pid_tgid);
	else
		syscall__emit(regs, id, ret, pid_tgid, scm_aux);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(pg_sys_exit, struct pt_regs *regs, long ret)
{
	return sys_exit__run(regs, ret);
}

/*
 * A syscalls:sys_exit_<name> record (tracefs events/syscalls/.../format):
 * the common header (type, flags, preempt count, pid), then the number and
 * the return value.
 */
struct syscall_exit_record {
	__u64 common;
	int nr;
	long ret;
};

/*
 * The other way in (the loader's --attach tracepoints; raw, above, is the
 * default): the loader attaches this program to syscalls:sys_exit_<name>
 * of only the numbers whose nr_action is not IGNORE or FILTERED. The
 * kernel tests a per-syscall bit before running any program, so an
 * unwanted syscall costs no program run at all, where pg_sys_exit runs for
 * every syscall of the machine; but each hit goes through the perf path
 * first (perf_syscall_exit, trace_call_bpf), dearer than a raw hit
 * (docs/sensor.md).
 * It still goes through the nr_action dispatch: one byte, which keeps the
 * fast-path actions (fcntl's command check) in one place, and drops what a
 * reload is detaching as filtered.
 * A 32-bit syscall never fires these tracepoints (the kernel skips compat
 * syscalls there); sys_exit__run checks TS_COMPAT anyway.
 */
SEC("tracepoint")
int pg_sys_exit_tp(struct syscall_exit_record *ctx)
{
	struct pt_regs *regs =
		(struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return sys_exit__run(regs, ctx->ret);
}

// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * peregrine-loader: loads and attaches the Peregrine kernel programs, then
 * writes the record stream (include/peregrine_wire.h) to stdout:
 *
 *   struct pg_stream_header   once, when attached: "ready"
 *   records                   ring buffer samples, byte for byte
 *   struct pg_stats           every --stats-interval-ms, and once at exit
 *
 * It is the only part of Peregrine that needs CAP_BPF/CAP_PERFMON, and it is
 * a separate process so that a crash here cannot take the agent down. The
 * agent holds our stdin open as a pipe: EOF on stdin means the agent is gone.
 *
 * Stdin also carries commands, one per line:
 *
 *   syscalls ID[,ID...]   send exactly these enum pg_syscall ids from now on
 *                         (the in-kernel filter; the PG_FILTER_* slots,
 *                         125-127, say how much of recvmsg, fcntl and
 *                         close); "syscalls" alone: none
 *
 * A bad line is reported on stderr and ignored.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The skeleton names the wire types (unused_pg_* variables): wire first. */
#include "peregrine_wire.h"
#include "peregrine_syscalls.h"
#include "peregrine.skel.h"
#include "syscall_names.h"

#define PROG "peregrine-loader"
#define IGNORE_MAX 8 /* size of ignore_tgids[] in peregrine.bpf.c */
#define OUT_BUF_BYTES (1 << 20)
/*
 * Our stdout pipe is grown to this (the default is 64 KiB, and 1 MiB is the
 * unprivileged limit, fs.pipe-max-size): a full out.buf then fits in the
 * pipe, so a flush does not block on the agent reading 16 separate 64 KiB
 * chunks while samples wait in the ring buffer.
 */
#define OUT_PIPE_BYTES (1 << 20)
/*
 * The kernel wakes us only once a quarter of the ring buffer is waiting
 * (wakeup_bytes); below that we drain it on this timer. It bounds the
 * latency of a quiet stream and costs an idle loader 100 cheap wakeups/s.
 */
#define DRAIN_INTERVAL_MS 10
/*
 * ring_buffer__consume() keeps going while producers keep up with it; after
 * this many samples the callback makes it return, so that stdin, stdout,
 * signals and the stats timer are still looked at under sustained load.
 */
#define RING_BATCH 4096
#define RING_YIELD (-EAGAIN)

enum exit_status {
	EXIT_OK = 0, /* stopped by signal, stdin EOF or stdout closed */
	EXIT_IO = 1, /* writing stdout or polling the ring buffer failed */
	EXIT_USAGE = 2, /* bad command line */
	EXIT_BPF = 3, /* BPF object could not be opened, loaded or attached */
};

static const char usage_text[] =
	"Usage: " PROG " [options]\n"
	"\n"
	"Loads the Peregrine eBPF programs and writes the record stream\n"
	"(bpf/include/peregrine_wire.h) to stdout: a stream header once attached,\n"
	"then records. Runs until SIGINT/SIGTERM, until stdout is closed, or until\n"
	"stdin reaches EOF (keep stdin open, e.g. a pipe from the agent).\n"
	"\n"
	"Options:\n"
	"  --ignore-pid N         drop events of process N in the kernel\n"
	"                         (repeatable, up to 8)\n"
	"  --ringbuf-bytes N      ring buffer size: a power of two and a multiple\n"
	"                         of the page size (default 8388608)\n"
	"  --syscalls ID,...      send only these enum pg_syscall ids (default:\n"
	"                         all); change it later with a 'syscalls' line\n"
	"                         on stdin\n"
	"  --stats-interval-ms N  write a PG_REC_STATS record every N ms\n"
	"                         (default 1000; 0: only at exit)\n"
	"  --attach MODE          how the syscall exit program is attached:\n"
	"                         'raw' (default): one tp_btf/sys_exit program that\n"
	"                         every syscall runs; 'tracepoints': to\n"
	"                         syscalls:sys_exit_<name> of only the syscalls the\n"
	"                         filter needs (falls back to raw when tracefs or a\n"
	"                         tracepoint is missing; see docs/sensor.md)\n"
	"  --verbose              also print libbpf debug messages to stderr\n"
	"  --help                 show this help\n"
	"\n"
	"Exit status:\n"
	"  0  stopped cleanly (signal, stdin EOF, stdout closed)\n"
	"  1  I/O error while writing stdout or polling the ring buffer\n"
	"  2  usage error\n"
	"  3  BPF setup failed (needs root / CAP_BPF+CAP_PERFMON, a kernel with BTF)\n";

static volatile sig_atomic_t stop_requested;
static bool verbose;
static unsigned int ring_batch; /* samples since ring_buffer__consume() began */

static struct {
	char buf[OUT_BUF_BYTES];
	size_t len;
	bool closed; /* the reader went away (EPIPE): a clean stop */
	bool failed; /* any other write error */
} out;

static void log__error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int log__libbpf(enum libbpf_print_level level, const char *fmt,
		       va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void signal__on_stop(int sig)
{
	stop_requested = 1;
}

static __u64 clock__ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Wall-clock time of boot: event times (boot clock) + this = epoch. Taking
 * the boot clock on both sides of the wall clock halves the error. */
static __u64 clock__boot_time_ns(void)
{
	__u64 b1 = clock__ns(CLOCK_BOOTTIME);
	__u64 real = clock__ns(CLOCK_REALTIME);
	__u64 b2 = clock__ns(CLOCK_BOOTTIME);

	return real - (b1 + (b2 - b1) / 2);
}

static int out__flush(void)
{
	size_t done = 0;

	while (done < out.len && !out.closed && !out.failed) {
		ssize_t n =
			write(STDOUT_FILENO, out.buf + done, out.len - done);

		if (n >= 0) {
			done += n;
		} else if (errno == EPIPE) {
			out.closed = true;
		} else if (errno == EINTR) {
			/* Blocked on a full pipe and asked to stop: the reader
			 * is not reading, so give up on the rest. */
			if (stop_requested)
				out.closed = true;
		} else {
			log__error("writing stdout: %s", strerror(errno));
			out.failed = true;
		}
	}
	out.len = 0;
	return out.closed || out.failed ? -1 : 0;
}

static int out__write(const void *data, size_t len)
{
	if (len > sizeof(out.buf) - out.len && out__flush())
		return -1;
	if (len > sizeof(out.buf)) /* cannot happen: records are < 64 KiB */
		return -1;
	memcpy(out.buf + out.len, data, len);
	out.len += len;
	return 0;
}

/*
 * Ring buffer callback: pass the sample through untouched. A negative return
 * stops ring_buffer__consume(); libbpf has already moved past this sample,
 * so nothing is lost or repeated.
 */
static int ring__on_sample(void *ctx, void *data, size_t size)
{
	if (out__write(data, size))
		return -EIO;
	if (++ring_batch >= RING_BATCH)
		return RING_YIELD;
	return 0;
}

/* Drains the ring buffer (or a batch of it); false on a real error. */
static bool ring__drain(struct ring_buffer *rb)
{
	int n;

	ring_batch = 0;
	n = ring_buffer__consume(rb);
	return n >= 0 || n == RING_YIELD || out.closed || out.failed;
}

/* Grows the stdout pipe (see OUT_PIPE_BYTES); a file or a tty is left alone. */
static void out__grow_pipe(void)
{
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) || !S_ISFIFO(st.st_mode))
		return;
	if (fcntl(STDOUT_FILENO, F_SETPIPE_SZ, OUT_PIPE_BYTES) < 0 && verbose)
		log__error("stdout pipe stays at its size: F_SETPIPE_SZ: %s",
			   strerror(errno));
}

static int header__write(void)
{
	struct pg_stream_header h;

	memset(&h, 0, sizeof(h));
	h.magic = PG_STREAM_MAGIC;
	h.schema_version = PG_SCHEMA_VERSION;
	h.header_size = sizeof(h);
	h.boot_time_ns = clock__boot_time_ns();
	h.loader_pid = getpid();
	if (gethostname(h.hostname, sizeof(h.hostname) - 1))
		h.hostname[0] = '\0';
	if (out__write(&h, sizeof(h)))
		return -1;
	return out__flush();
}

static int stats__write(struct peregrine_bpf *skel)
{
	struct pg_stats rec;

	memset(&rec, 0, sizeof(rec));
	/* The programs' per-CPU slots (pg_cnt in their .bss, mapped here):
	 * aligned 8-byte words, so a read is never torn. */
	for (int cpu = 0; cpu <= PG_CNT_CPUS; cpu++)
		for (int i = 0; i < PG_CNT_MAX; i++)
			rec.counters[i] += skel->bss->pg_cnt[cpu].n[i];
	/* The kernel counts a hit as seen or as filtered, never both (one
	 * increment on the hot path); seen on the wire is before the filter. */
	rec.counters[PG_CNT_EVENTS_SEEN] += rec.counters[PG_CNT_FILTERED];
	rec.hdr.ts_ns = clock__ns(CLOCK_BOOTTIME);
	rec.hdr.size = sizeof(rec);
	rec.hdr.kind = PG_REC_STATS;
	rec.hdr.tgid = getpid();
	rec.hdr.tid = rec.hdr.tgid;
	return out__write(&rec, sizeof(rec));
}

static bool args__parse_u64(const char *s, unsigned long long max,
			    unsigned long long *v)
{
	char *end;

	errno = 0;
	if (!*s || *s == '-')
		return false;
	*v = strtoull(s, &end, 10);
	return !errno && !*end && *v <= max;
}

struct options {
	__u32 ignore[IGNORE_MAX];
	int n_ignore;
	bool syscalls_given;
	__u8 syscalls[PG_SYS_MAX]; /* 1: send */
	__u64 ringbuf_bytes;
	__u64 stats_interval_ms;
	bool attach_raw; /* not --attach tracepoints (raw is the default) */
};

/*
 * Parses "ID,ID,..." (possibly empty) into set[]. Returns false with the
 * offending token in *bad on a malformed or out-of-range id.
 */
static bool syscalls__parse(const char *list, __u8 *set, char *bad,
			    size_t bad_len)
{
	char tok[32];
	const char *p = list;

	memset(set, 0, PG_SYS_MAX);
	while (*p) {
		size_t n = strcspn(p, ",");
		unsigned long long v;

		if (n == 0 || n >= sizeof(tok)) {
			snprintf(bad, bad_len, "%.*s", (int)(n < 31 ? n : 31), p);
			return false;
		}
		memcpy(tok, p, n);
		tok[n] = '\0';
		if (!args__parse_u64(tok, PG_SYS_MAX - 1, &v) || v == 0) {
			snprintf(bad, bad_len, "%s", tok);
			return false;
		}
		set[v] = 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return true;
}

/* Returns -1 to exit with EXIT_USAGE, 1 to exit 0 (--help), 0 to run. */
static int args__parse(int argc, char **argv, struct options *o)
{
	enum {
		OPT_IGNORE = 256,
		OPT_RINGBUF,
		OPT_STATS,
		OPT_SYSCALLS,
		OPT_ATTACH,
		OPT_VERBOSE,
		OPT_HELP
	};
	static const struct option longopts[] = {
		{ "ignore-pid", required_argument, NULL, OPT_IGNORE },
		{ "ringbuf-bytes", required_argument, NULL, OPT_RINGBUF },
		{ "stats-interval-ms", required_argument, NULL, OPT_STATS },
		{ "syscalls", required_argument, NULL, OPT_SYSCALLS },
		{ "attach", required_argument, NULL, OPT_ATTACH },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long v;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_IGNORE:
			if (!args__parse_u64(optarg, INT_MAX, &v) || v == 0) {
				log__error(
					"--ignore-pid: not a process id: '%s'",
					optarg);
				return -1;
			}
			if (o->n_ignore == IGNORE_MAX) {
				log__error("--ignore-pid: at most %d",
					   IGNORE_MAX);
				return -1;
			}
			o->ignore[o->n_ignore++] = v;
			break;
		case OPT_RINGBUF:
			if (!args__parse_u64(optarg, 1ull << 30, &v) ||
			    v < (unsigned long long)page || (v & (v - 1)) ||
			    v % page) {
				log__error(
					"--ringbuf-bytes: '%s' is not a power of two, a multiple of the page size (%ld) and at most 1 GiB",
					optarg, page);
				return -1;
			}
			o->ringbuf_bytes = v;
			break;
		case OPT_STATS:
			if (!args__parse_u64(optarg, 24ull * 3600 * 1000, &v)) {
				log__error(
					"--stats-interval-ms: not a number of milliseconds: '%s'",
					optarg);
				return -1;
			}
			o->stats_interval_ms = v;
			break;
		case OPT_SYSCALLS: {
			char bad[32];

			if (!syscalls__parse(optarg, o->syscalls, bad,
					     sizeof(bad))) {
				log__error(
					"--syscalls: '%s' is not a syscall id (1..%d)",
					bad, PG_SYS_MAX - 1);
				return -1;
			}
			o->syscalls_given = true;
			break;
		}
		case OPT_ATTACH:
			if (strcmp(optarg, "tracepoints") != 0 &&
			    strcmp(optarg, "raw") != 0) {
				log__error(
					"--attach: '%s' is not 'tracepoints' or 'raw'",
					optarg);
				return -1;
			}
			o->attach_raw = strcmp(optarg, "raw") == 0;
			break;
		case OPT_VERBOSE:
			verbose = true;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			return 1;
		default: /* getopt_long printed the reason */
			fputs("Try '" PROG " --help'.\n", stderr);
			return -1;
		}
	}
	if (optind < argc) {
		log__error("unexpected argument '%s'; try --help",
			   argv[optind]);
		return -1;
	}
	return 0;
}

static const char *bpf__hint(int err)
{
	if (err == EPERM || err == EACCES)
		return " (need root / CAP_BPF and CAP_PERFMON)";
	if (err == ENOENT || err == ESRCH || err == ENOTSUP ||
	    err == EOPNOTSUPP)
		return " (kernel lacks a needed feature or BTF type)";
	if (err == EINVAL)
		return " (see the libbpf / verifier messages above)";
	return "";
}

/*
 * How the syscall exit program is attached (--attach). With
 * --attach tracepoints, pg_sys_exit_tp goes to syscalls:sys_exit_<name> of
 * only the numbers whose nr_action is not IGNORE or FILTERED: the kernel
 * tests a per-syscall bit before it runs any program, so a syscall nobody
 * needs costs no program run, where the raw tp_btf/sys_exit program
 * (pg_sys_exit, the default) runs for every syscall of the machine and
 * drops most of them itself. Not the default: each hit of a needed syscall
 * costs more through the perf path, each detach (a reload, the exit) waits
 * for a tracepoint grace period, ~50 ms here, under the kernel's
 * event_mutex, and calls of syscalls the kernel lacks are not seen
 * (docs/sensor.md). When tracefs or a syscall's tracepoint is missing, or
 * an attach fails, the loader says so on stderr and falls back to raw.
 */
static bool exits_raw;    /* the raw program is the way in (asked, or fallen back to) */
static bool exits_live;   /* attached: filter__set keeps the tracepoints in step */
static struct bpf_link *exit_raw_link;
static struct bpf_link *exit_tp_links[NR_TABLE_SIZE];
/* "sys_exit_<name>" of each watched number; NULL: no tracepoint (below). */
static char *exit_tp_names[NR_TABLE_SIZE];

static const char *const tracefs_syscalls_dirs[] = {
	"/sys/kernel/tracing/events/syscalls",
	"/sys/kernel/debug/tracing/events/syscalls",
};

/*
 * Numbers whose tracepoint is named after the kernel's entry point, not
 * after the number (the fourth column of the kernel's
 * arch/x86/entry/syscalls/syscall_64.tbl differs from the second).
 */
static const char *const exit_tp_aliases[][2] = {
	{ "umount2", "umount" },   { "stat", "newstat" },
	{ "lstat", "newlstat" },   { "fstat", "newfstat" },
	{ "uname", "newuname" },   { "sendfile", "sendfile64" },
};

static bool tracefs__has_exit(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/sys_exit_%s", dir, name);
	return access(path, F_OK) == 0;
}

/* The tracepoint name of a syscall ("sys_exit_<name>"), or NULL. */
static char *exit_tp__find(const char *dir, const char *name)
{
	char buf[128];

	for (size_t i = 0; i < sizeof(exit_tp_aliases) / sizeof(*exit_tp_aliases); i++)
		if (strcmp(name, exit_tp_aliases[i][0]) == 0 &&
		    tracefs__has_exit(dir, exit_tp_aliases[i][1]))
			name = exit_tp_aliases[i][1];
	if (!tracefs__has_exit(dir, name))
		return NULL;
	snprintf(buf, sizeof(buf), "sys_exit_%s", name);
	return strdup(buf);
}

/*
 * Marks in implemented[] which of the n syscalls the kernel implements
 * (its entry point __x64_sys_<name> is a text symbol), in one pass over
 * /proc/kallsyms (~120k lines). One without a tracepoint that is not
 * implemented (a weak alias of sys_ni_syscall, e.g. init_module without
 * CONFIG_MODULES) only ever fails with ENOSYS: leaving it unattached misses
 * nothing a rule could match on a call that did something.
 */
static void kallsyms__implemented(const char *const *names, bool *implemented,
				  int n)
{
	char line[512];
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f) { /* cannot tell: take them as implemented */
		for (int i = 0; i < n; i++)
			implemented[i] = true;
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *sym = strstr(line, " __x64_sys_");

		if (!sym || sym < line + 2 || (sym[-1] != 'T' && sym[-1] != 't'))
			continue;
		sym += strlen(" __x64_sys_");
		sym[strcspn(sym, "\n")] = '\0';
		for (int i = 0; i < n; i++)
			if (strcmp(sym, names[i]) == 0)
				implemented[i] = true;
	}
	fclose(f);
}

/* Says once which watched syscalls this kernel lacks: their calls only
 * fail with ENOSYS, and without a tracepoint they are not seen (the raw
 * program sees them). */
static void exit_tp__note_absent(const char *const *names, int n)
{
	fputs(PROG ": not in this kernel, so not seen with --attach tracepoints (their calls fail with ENOSYS; --attach raw sees them):",
	      stderr);
	for (int i = 0; i < n; i++)
		fprintf(stderr, " %s", names[i]);
	fputc('\n', stderr);
}

static const char *tracefs__syscalls_dir(void)
{
	for (size_t i = 0;
	     i < sizeof(tracefs_syscalls_dirs) / sizeof(*tracefs_syscalls_dirs);
	     i++)
		if (access(tracefs_syscalls_dirs[i], F_OK) == 0)
			return tracefs_syscalls_dirs[i];
	return NULL;
}

/*
 * Finds the tracepoint of every number nr_to_pg watches, once, before
 * anything is attached (tracefs and /proc reads would otherwise be the
 * loader's own syscalls in its stream). 0, or -ENOENT with the reason
 * logged when this kernel cannot do without the raw program.
 */
static int exit_tp__resolve(void)
{
	const char *dir = tracefs__syscalls_dir();
	const char *missing[NR_TABLE_SIZE];
	bool implemented[NR_TABLE_SIZE] = { false };
	int n_missing = 0;

	if (!dir) {
		log__error("no syscall tracepoints: neither %s nor %s exists (tracefs not mounted, or a kernel without CONFIG_FTRACE_SYSCALLS)",
			   tracefs_syscalls_dirs[0], tracefs_syscalls_dirs[1]);
		return -ENOENT;
	}
	for (unsigned int nr = 0; nr < NR_TABLE_SIZE; nr++) {
		const char *name =
			nr < SYSCALL_NAMES_SIZE ? syscall_names[nr] : NULL;

		if (!nr_to_pg[nr])
			continue;
		if (!name) {
			log__error("syscall %u has no name in the asm/unistd_64.h the loader was built with",
				   nr);
			return -ENOENT;
		}
		exit_tp_names[nr] = exit_tp__find(dir, name);
		if (!exit_tp_names[nr])
			missing[n_missing++] = name;
	}
	if (!n_missing)
		return 0;
	kallsyms__implemented(missing, implemented, n_missing);
	for (int i = 0; i < n_missing; i++) {
		if (implemented[i]) {
			log__error("%s/sys_exit_%s: no such tracepoint, but the kernel implements %s",
				   dir, missing[i], missing[i]);
			return -ENOENT;
		}
	}
	exit_tp__note_absent(missing, n_missing);
	return 0;
}

/* Whether number nr's tracepoint must be attached under the current
 * actions (what pg_sys_exit's dispatch would not drop at once). */
static bool exit_tp__needed(struct peregrine_bpf *skel, unsigned int nr)
{
	__u8 a = skel->bss->nr_action[nr];

	return exit_tp_names[nr] && a != PG_NR_IGNORE && a != PG_NR_FILTERED;
}

static void exit_tp__detach(unsigned int nr)
{
	bpf_link__destroy(exit_tp_links[nr]);
	exit_tp_links[nr] = NULL;
	if (verbose)
		log__error("detached syscalls:%s", exit_tp_names[nr]);
}

static void exit_tp__detach_all(void)
{
	for (unsigned int nr = 0; nr < NR_TABLE_SIZE; nr++)
		if (exit_tp_links[nr])
			exit_tp__detach(nr);
}

/* Attaches the tracepoints the actions need that are not attached yet. */
static int exit_tp__attach_needed(struct peregrine_bpf *skel)
{
	for (unsigned int nr = 0; nr < NR_TABLE_SIZE; nr++) {
		if (exit_tp_links[nr] || !exit_tp__needed(skel, nr))
			continue;
		exit_tp_links[nr] = bpf_program__attach_tracepoint(
			skel->progs.pg_sys_exit_tp, "syscalls", exit_tp_names[nr]);
		if (!exit_tp_links[nr]) {
			int err = -errno;

			log__error("attaching syscalls:%s: %s%s", exit_tp_names[nr],
				   strerror(-err), bpf__hint(-err));
			return err;
		}
		if (verbose)
			log__error("attached syscalls:%s", exit_tp_names[nr]);
	}
	return 0;
}

/*
 * The raw program instead of the tracepoints: attached first, then the
 * tracepoints go, so no exit is missed (one that both see meanwhile is sent
 * twice).
 */
static int exits__fall_back(struct peregrine_bpf *skel)
{
	log__error("falling back to --attach raw: one tp_btf/sys_exit program runs for every syscall (slower)");
	exit_raw_link = bpf_program__attach(skel->progs.pg_sys_exit);
	if (!exit_raw_link) {
		int err = -errno;

		log__error("attaching tp_btf/sys_exit: %s%s", strerror(-err),
			   bpf__hint(-err));
		return err;
	}
	exits_raw = true;
	exit_tp__detach_all();
	return 0;
}

/*
 * Brings the tracepoints in line with the actions just written: the newly
 * needed ones are attached before the ones no longer needed go, so a
 * syscall needed before and after a filter change is never unwatched.
 * Meanwhile the dispatch drops (as filtered) what is on its way out.
 */
static int exits__sync(struct peregrine_bpf *skel)
{
	if (!exits_live || exits_raw)
		return 0;
	if (exit_tp__attach_needed(skel))
		return exits__fall_back(skel);
	for (unsigned int nr = 0; nr < NR_TABLE_SIZE; nr++)
		if (exit_tp_links[nr] && !exit_tp__needed(skel, nr))
			exit_tp__detach(nr);
	return 0;
}

/* Attaches the exit program the chosen way (after the filter is set). */
static int exits__start(struct peregrine_bpf *skel, bool raw)
{
	exits_live = true;
	if (!raw && exit_tp__resolve() == 0)
		return exits__sync(skel);
	if (raw) {
		exits_raw = true;
		exit_raw_link = bpf_program__attach(skel->progs.pg_sys_exit);
		return exit_raw_link ? 0 : -errno;
	}
	return exits__fall_back(skel);
}

static void exits__stop(void)
{
	exit_tp__detach_all();
	bpf_link__destroy(exit_raw_link);
	exit_raw_link = NULL;
	exits_live = false;
}

static void bpf__teardown(struct peregrine_bpf *skel)
{
	exits__stop();
	peregrine_bpf__destroy(skel);
}

/* Writes the whole filter map from set[]. */
static int filter__apply(struct peregrine_bpf *skel, const __u8 *set)
{
	/*
	 * Closes are in the filter only when the agent asks for them (a rule
	 * can match close), and then every one is sent: the fd table replaces
	 * an entry whenever its number is reused (every syscall that makes a
	 * descriptor is watched), so it needs no close, of a file or a socket.
	 */
	for (__u32 id = 0; id < PG_SYS_MAX; id++) {
		__u32 on = set[id];
		int err = bpf_map__update_elem(skel->maps.pg_filter, &id,
					       sizeof(id), &on, sizeof(on), 0);

		if (err)
			return err;
	}
	/* Then the per-number actions the program looks at first (its .bss,
	 * mapped: plain stores the program sees at once). After the filter
	 * map, so that an action never gets ahead of it: the full path
	 * checks the map again. */
	for (unsigned int nr = 0; nr < NR_TABLE_SIZE; nr++)
		skel->bss->nr_action[nr] = nr__action(nr, set);
	return 0;
}

/* The filter, then the per-syscall tracepoints in step with the actions
 * filter__apply wrote (nothing to do before exits__start, or in raw mode). */
static int filter__set(struct peregrine_bpf *skel, const __u8 *set)
{
	int err = filter__apply(skel, set);

	return err ? err : exits__sync(skel);
}

static struct peregrine_bpf *bpf__setup(const struct options *o)
{
	struct peregrine_bpf *skel;
	int err, slot = 0;

	skel = peregrine_bpf__open();
	if (!skel) {
		err = errno;
		log__error("failed to open BPF object: %s%s", strerror(err),
			   bpf__hint(err));
		return NULL;
	}
	for (int i = 0; i < o->n_ignore; i++)
		skel->rodata->ignore_tgids[slot++] = o->ignore[i];
	/* Ourselves too when a slot is left. Once attached we only poll,
	 * read, write and look up maps, none of which is recorded, so the
	 * slot is a safety net, not a requirement. */
	if (slot < IGNORE_MAX)
		skel->rodata->ignore_tgids[slot++] = getpid();

	skel->rodata->wakeup_bytes = o->ringbuf_bytes / 4;
	err = bpf_map__set_max_entries(skel->maps.pg_events, o->ringbuf_bytes);
	if (err) {
		log__error("failed to size the ring buffer: %s",
			   strerror(-err));
		goto fail;
	}
	/* exits__start attaches one of the two exit programs; the raw one
	 * alone need not be loaded (the other is, as the fallback's). */
	bpf_program__set_autoattach(skel->progs.pg_sys_exit, false);
	bpf_program__set_autoload(skel->progs.pg_sys_exit_tp, !o->attach_raw);
	err = peregrine_bpf__load(skel);
	if (err) {
		log__error("failed to load BPF object: %s%s", strerror(-err),
			   bpf__hint(-err));
		goto fail;
	}
	/* The filter is in place before the first event can fire. */
	err = filter__set(skel, o->syscalls);
	if (err) {
		log__error("failed to set the syscall filter: %s",
			   strerror(-err));
		goto fail;
	}
	err = peregrine_bpf__attach(skel);
	if (err) {
		log__error("failed to attach BPF programs: %s%s",
			   strerror(-err), bpf__hint(-err));
		goto fail;
	}
	err = exits__start(skel, o->attach_raw);
	if (err) {
		log__error("failed to attach the syscall exit program: %s%s",
			   strerror(-err), bpf__hint(-err));
		goto fail;
	}
	return skel;
fail:
	bpf__teardown(skel);
	return NULL;
}

static struct {
	char buf[1024]; /* a command line: "syscalls " + up to 127 ids */
	size_t len;
	bool overlong; /* discarding the rest of a too-long line */
} cmd;

static void command__run(struct peregrine_bpf *skel, char *line)
{
	__u8 set[PG_SYS_MAX];
	char bad[32];
	int err;

	if (strncmp(line, "syscalls", 8) != 0 ||
	    (line[8] != '\0' && line[8] != ' ')) {
		log__error("stdin: unknown command '%.40s'", line);
		return;
	}
	if (!syscalls__parse(line[8] ? line + 9 : "", set, bad, sizeof(bad))) {
		log__error("stdin: syscalls: '%s' is not a syscall id (1..%d)",
			   bad, PG_SYS_MAX - 1);
		return;
	}
	err = filter__set(skel, set);
	if (err)
		log__error("stdin: updating the syscall filter: %s",
			   strerror(-err));
}

/* Reads what the agent wrote: commands, or EOF (the agent is gone). */
static bool stdin__closed(struct peregrine_bpf *skel)
{
	char buf[1024];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		return true;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (!cmd.overlong) {
				cmd.buf[cmd.len] = '\0';
				command__run(skel, cmd.buf);
			} else {
				log__error("stdin: command line too long");
			}
			cmd.len = 0;
			cmd.overlong = false;
		} else if (cmd.len < sizeof(cmd.buf) - 1) {
			cmd.buf[cmd.len++] = buf[i];
		} else {
			cmd.overlong = true;
		}
	}
	return false;
}

static int loop__run(struct peregrine_bpf *skel, struct ring_buffer *rb,
		     const struct options *o)
{
	__u64 interval_ns = o->stats_interval_ms * 1000000ull;
	__u64 next_stats = clock__ns(CLOCK_MONOTONIC) + interval_ns;
	struct pollfd fds[3] = {
		{ .fd = ring_buffer__epoll_fd(rb), .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
		/* events 0: POLLERR alone tells that the pipe's reader left. */
		{ .fd = STDOUT_FILENO, .events = 0 },
	};

	while (!stop_requested) {
		int timeout = DRAIN_INTERVAL_MS;
		__u64 now;

		if (interval_ns) {
			now = clock__ns(CLOCK_MONOTONIC);
			if (now >= next_stats)
				timeout = 0;
			else if (next_stats - now <
				 DRAIN_INTERVAL_MS * 1000000ull)
				timeout = (next_stats - now) / 1000000 + 1;
		}
		if (poll(fds, 3, timeout) < 0 && errno != EINTR) {
			log__error("poll: %s", strerror(errno));
			return EXIT_IO;
		}
		/* Drain whatever is there, woken or not: the kernel does not
		 * wake us for every record. */
		if (!ring__drain(rb)) {
			log__error("reading the ring buffer failed");
			return EXIT_IO;
		}
		if (fds[1].revents & POLLNVAL)
			fds[1].fd = -1; /* no stdin at all: nothing to watch */
		else if (fds[1].revents && stdin__closed(skel))
			break;
		if (fds[2].revents & (POLLERR | POLLHUP))
			out.closed = true;
		if (interval_ns && clock__ns(CLOCK_MONOTONIC) >= next_stats) {
			stats__write(skel);
			next_stats += interval_ns;
		}
		out__flush();
		if (out.closed)
			return EXIT_OK;
		if (out.failed)
			return EXIT_IO;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct options opts = { .ringbuf_bytes = 8 << 20,
				.stats_interval_ms = 1000,
				.attach_raw = true };

	memset(opts.syscalls, 1, sizeof(opts.syscalls));
	opts.syscalls[PG_SYS_UNKNOWN] = 0;
	struct sigaction sa = { .sa_handler = signal__on_stop };
	struct peregrine_bpf *skel;
	struct ring_buffer *rb;
	int status;

	switch (args__parse(argc, argv, &opts)) {
	case -1:
		return EXIT_USAGE;
	case 1:
		return EXIT_OK;
	}

	/* No SA_RESTART: a blocked write() or poll() must return so that the
	 * stop request is seen. EPIPE instead of SIGPIPE when the reader goes. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	libbpf_set_print(log__libbpf);

	/* Everything that touches files happens before attach, so the loader
	 * never shows up in its own stream. */
	skel = bpf__setup(&opts);
	if (!skel)
		return EXIT_BPF;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.pg_events),
			      ring__on_sample, NULL, NULL);
	if (!rb) {
		log__error("failed to set up the ring buffer reader: %s",
			   strerror(errno));
		bpf__teardown(skel);
		return EXIT_BPF;
	}

	out__grow_pipe();
	if (header__write()) {
		status = out.closed ? EXIT_OK : EXIT_IO;
	} else {
		status = loop__run(skel, rb, &opts);
		/* What is left (one batch at most, should producers keep
		 * going) and the last counters, so a reader always gets
		 * totals at the end. */
		if (!out.closed && !out.failed) {
			ring__drain(rb);
			stats__write(skel);
			out__flush();
		}
	}

	ring_buffer__free(rb);
	bpf__teardown(skel);
	if (out.failed)
		status = EXIT_IO;
	return status;
}

/**
 * Which evt.type values a condition can match, so the engine can index rules
 * by event type (an event meets only the rules that can match it) and the
 * sensor can ask the kernel for just those syscalls.
 *
 * For every node we compute two sets: the types for which the node may be
 * true, and those for which it may be false. `evt.type = open` is true only
 * for open and false for every other type; a check on any other field may be
 * either for any type. Then not swaps the two, and/or combine them. A set is
 * finite or "all types except …" (co-finite).
 */
import { SENSOR_EVENT_TYPES, type SensorEvent } from "../decode/events.js";
import type { CheckNode, Expr, ListModifier } from "./ast.js";

/** `negated: false` → exactly `names`; `negated: true` → every type except `names`. */
export interface EventTypeSet {
  readonly negated: boolean;
  readonly names: ReadonlySet<string>;
}

export const ALL_EVENT_TYPES: EventTypeSet = { negated: true, names: new Set() };
const NO_EVENT_TYPES: EventTypeSet = { negated: false, names: new Set() };

export function setContains(s: EventTypeSet, type: string): boolean {
  return s.names.has(type) !== s.negated;
}

export function isAllEventTypes(s: EventTypeSet): boolean {
  return s.negated && s.names.size === 0;
}

function complement(s: EventTypeSet): EventTypeSet {
  return { negated: !s.negated, names: s.names };
}

function inter(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...a].filter((x) => b.has(x)));
}
function union(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...a, ...b]);
}
function minus(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...a].filter((x) => !b.has(x)));
}

function intersect(a: EventTypeSet, b: EventTypeSet): EventTypeSet {
  if (!a.negated && !b.negated) return { negated: false, names: inter(a.names, b.names) };
  if (!a.negated) return { negated: false, names: minus(a.names, b.names) };
  if (!b.negated) return { negated: false, names: minus(b.names, a.names) };
  return { negated: true, names: union(a.names, b.names) };
}

function unite(a: EventTypeSet, b: EventTypeSet): EventTypeSet {
  return complement(intersect(complement(a), complement(b)));
}

interface Sides {
  readonly whenTrue: EventTypeSet;
  readonly whenFalse: EventTypeSet;
}

const ANY_SIDES: Sides = { whenTrue: ALL_EVENT_TYPES, whenFalse: ALL_EVENT_TYPES };

/** The evt.type constants of a check, if it is `evt.type = x`, `evt.type in (…)` or `evt.type != x`. */
export function eventTypeCheck(c: CheckNode): { names: Set<string>; negated: boolean } | undefined {
  if (c.left.kind !== "field" || c.left.name !== "evt.type" || c.left.arg !== undefined) return undefined;
  const r = c.right;
  if (c.modifier !== undefined) return modifiedEventTypeCheck(c.op, c.modifier, r);
  if ((c.op === "=" || c.op === "==" || c.op === "!=") && r?.kind === "value") {
    return { names: new Set([r.text]), negated: c.op === "!=" };
  }
  if ((c.op === "in" || c.op === "intersects") && r?.kind === "list") {
    return { names: new Set(r.items.map((i) => i.text)), negated: false };
  }
  return undefined;
}

/**
 * `evt.type = anyof (…)` is `in`, `evt.type != allof (…)` is `not in`, and
 * `= oneof` is `in` when no type is listed twice; other modifier checks on
 * evt.type (and empty lists, which never match) are not narrowed.
 */
function modifiedEventTypeCheck(
  op: string,
  modifier: ListModifier,
  r: CheckNode["right"],
): { names: Set<string>; negated: boolean } | undefined {
  if (r?.kind !== "list" || r.items.length === 0) return undefined;
  const names = new Set(r.items.map((i) => i.text));
  const equality = op === "=" || op === "==";
  if (equality && (modifier === "anyof" || (modifier === "oneof" && names.size === r.items.length))) {
    return { names, negated: false };
  }
  if (op === "!=" && modifier === "allof") return { names, negated: true };
  return undefined;
}

function sides(e: Expr): Sides {
  switch (e.kind) {
    case "check": {
      const t = eventTypeCheck(e);
      if (t === undefined) return ANY_SIDES;
      const exact: EventTypeSet = { negated: false, names: t.names };
      return t.negated
        ? { whenTrue: complement(exact), whenFalse: exact }
        : { whenTrue: exact, whenFalse: complement(exact) };
    }
    case "not": {
      const s = sides(e.child);
      return { whenTrue: s.whenFalse, whenFalse: s.whenTrue };
    }
    case "and":
    case "or": {
      const parts = e.children.map(sides);
      const isAnd = e.kind === "and";
      let t = isAnd ? ALL_EVENT_TYPES : NO_EVENT_TYPES;
      let f = isAnd ? NO_EVENT_TYPES : ALL_EVENT_TYPES;
      for (const p of parts) {
        t = isAnd ? intersect(t, p.whenTrue) : unite(t, p.whenTrue);
        f = isAnd ? unite(f, p.whenFalse) : intersect(f, p.whenFalse);
      }
      return { whenTrue: t, whenFalse: f };
    }
    case "macro-body":
      return sides(e.body);
    case "macro":
      return ANY_SIDES;
  }
}

/** The event types for which a (macro-expanded) condition can be true. */
export function matchingEventTypes(e: Expr): EventTypeSet {
  return sides(e).whenTrue;
}

/** Every evt.type constant a condition mentions, with the check it is in (for validation). */
export function eventTypeConstants(e: Expr, out: { name: string; check: CheckNode }[] = []): typeof out {
  switch (e.kind) {
    case "check": {
      const t = eventTypeCheck(e);
      if (t !== undefined) for (const name of t.names) out.push({ name, check: e });
      break;
    }
    case "not":
      eventTypeConstants(e.child, out);
      break;
    case "and":
    case "or":
      for (const c of e.children) eventTypeConstants(c, out);
      break;
    case "macro-body":
      eventTypeConstants(e.body, out);
      break;
    case "macro":
      break;
  }
  return out;
}

/** The event types the sensor produces (the decoder's list, src/decode/events.ts). */
export const CAPTURED_EVENT_TYPES: readonly SensorEvent["evtType"][] = SENSOR_EVENT_TYPES;

export const CAPTURED: ReadonlySet<string> = new Set(CAPTURED_EVENT_TYPES);

/**
 * Event type names Falco knows: Linux syscalls plus its own events. A name
 * outside this list is most likely a typo; the engine warns about it.
 */
export const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set(
  `accept accept4 access acct add_key adjtimex alarm arch_prctl bind bpf brk capget capset chdir chmod chown
  chroot clock_adjtime clock_getres clock_gettime clock_nanosleep clock_settime clone clone3 close close_range
  connect copy_file_range creat delete_module dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_pwait
  epoll_pwait2 epoll_wait eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
  fallocate fanotify_init fanotify_mark fchdir fchmod fchmodat fchown fchownat fcntl fdatasync fgetxattr
  finit_module flistxattr flock fork fremovexattr fsconfig fsetxattr fsmount fsopen fspick fstat fstatfs fsync
  ftruncate futex futimesat get_mempolicy get_robust_list getcpu getcwd getdents getdents64 getegid geteuid
  getgid getgroups getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
  getresuid getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid getxattr init_module
  inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_setup
  io_submit io_uring_enter io_uring_register io_uring_setup ioctl ioperm iopl ioprio_get ioprio_set kcmp
  kexec_file_load kexec_load keyctl kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
  lgetxattr link linkat listen listxattr llistxattr llseek lookup_dcookie lremovexattr lseek lsetxattr lstat
  madvise mbind membarrier memfd_create memfd_secret migrate_pages mincore mkdir mkdirat mknod mknodat mlock
  mlock2 mlockall mmap mmap2 modify_ldt mount mount_setattr move_mount move_pages mprotect mq_getsetattr
  mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock
  munlockall munmap name_to_handle_at nanosleep newfstatat open open_by_handle_at open_tree openat openat2
  pause perf_event_open personality pidfd_getfd pidfd_open pidfd_send_signal pipe pipe2 pivot_root pkey_alloc
  pkey_free pkey_mprotect poll ppoll prctl pread pread64 preadv preadv2 prlimit prlimit64 process_madvise
  process_vm_readv process_vm_writev pselect6 ptrace pwrite pwrite64 pwritev pwritev2 quotactl read
  readahead readlink readlinkat readv reboot recv recvfrom recvmmsg recvmsg remap_file_pages removexattr
  rename renameat renameat2 request_key restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
  rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo sched_get_priority_max
  sched_get_priority_min sched_getaffinity sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
  sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget
  semop semtimedop send sendfile sendfile64 sendmmsg sendmsg sendto set_mempolicy set_robust_list
  set_tid_address setdomainname setfsgid setfsuid setgid setgroups sethostname setitimer setns setpgid
  setpriority setregid setresgid setresuid setreuid setrlimit setsid setsockopt settimeofday setuid setxattr
  shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 socket socketpair splice stat statfs statx
  swapoff swapon symlink symlinkat sync sync_file_range syncfs sysinfo syslog tee tgkill time timer_create
  timer_delete timer_getoverrun timer_gettime timer_settime timerfd timerfd_create timerfd_gettime
  timerfd_settime times tkill truncate umask umount umount2 uname unlink unlinkat unshare userfaultfd ustat
  utime utimensat utimes vfork vhangup vmsplice wait4 waitid write writev
  procexit container switch signaldeliver pluginevent drop notification infra page_fault cpu_hotplug
  asyncevent k8s tracer mesos meta`
    .split(/\s+/)
    .filter((s) => s !== ""),
);

/**
 * What each syscall that makes a descriptor with no path and no socket
 * makes (Falco's fd.type for it) and how it says close-on-exec: the fd
 * table records the new number as that, so a number reused after a close
 * the kernel did not send never keeps the closed file's name.
 */
import type { GenericSyscallName, SyscallArgs } from "../decode/events.js";
import type { FdType } from "./fd-info.js";

/** O_CLOEXEC; EFD_/SFD_/TFD_/IN_/EPOLL_CLOEXEC and OPEN_TREE_CLOEXEC share its value. */
const O_CLOEXEC = 0o2000000;
/** perf_event_open's PERF_FLAG_FD_CLOEXEC. */
const PERF_FLAG_FD_CLOEXEC = 8;
/** FAN_CLOEXEC, FSOPEN_CLOEXEC, FSMOUNT_CLOEXEC, FSPICK_CLOEXEC. */
const LOW_BIT_CLOEXEC = 1;

export interface AnonDescriptor {
  readonly type: FdType;
  /** Whether the new descriptor is close-on-exec, from the call's arguments. */
  readonly cloexec: (args: SyscallArgs) => boolean;
  /** False when a successful call returned something else than a descriptor. */
  readonly makesFd?: (args: SyscallArgs) => boolean;
  /** True when the call returned the descriptor it was given (nothing new at that number). */
  readonly returnsGiven?: (args: SyscallArgs) => boolean;
}

const flagBit =
  (bit: number) =>
  (a: SyscallArgs): boolean =>
    ((a.flags ?? 0) & bit) !== 0;
const always = (): boolean => true;
const never = (): boolean => false;
const givenFd = (a: SyscallArgs): boolean => (a.fd ?? -1) >= 0;

/**
 * By evt.type; the return value is the new descriptor. Types as Falco names
 * the anon inodes (eventfd → event, epoll → eventpoll …); the kinds it has
 * no type for (perf events, fanotify groups, secret memory, message queues,
 * mount contexts, landlock rulesets) are unknown ('o').
 */
export const ANON_DESCRIPTORS: Readonly<Partial<Record<GenericSyscallName, AnonDescriptor>>> = {
  eventfd: { type: "event", cloexec: never },
  eventfd2: { type: "event", cloexec: flagBit(O_CLOEXEC) },
  // On an existing signalfd (fd >= 0) signalfd changes its mask and returns it.
  signalfd: { type: "signalfd", cloexec: never, returnsGiven: givenFd },
  signalfd4: { type: "signalfd", cloexec: flagBit(O_CLOEXEC), returnsGiven: givenFd },
  timerfd_create: { type: "timerfd", cloexec: flagBit(O_CLOEXEC) },
  inotify_init: { type: "inotify", cloexec: never },
  inotify_init1: { type: "inotify", cloexec: flagBit(O_CLOEXEC) },
  epoll_create: { type: "eventpoll", cloexec: never },
  epoll_create1: { type: "eventpoll", cloexec: flagBit(O_CLOEXEC) },
  // pidfd_open and io_uring_setup always set close-on-exec.
  pidfd_open: { type: "pidfd", cloexec: always },
  io_uring_setup: { type: "io_uring", cloexec: always },
  perf_event_open: { type: "unknown", cloexec: flagBit(PERF_FLAG_FD_CLOEXEC) },
  fanotify_init: { type: "unknown", cloexec: flagBit(LOW_BIT_CLOEXEC) },
  memfd_secret: { type: "unknown", cloexec: flagBit(O_CLOEXEC) },
  mq_open: { type: "unknown", cloexec: always },
  fsopen: { type: "unknown", cloexec: flagBit(LOW_BIT_CLOEXEC) },
  fsmount: { type: "unknown", cloexec: flagBit(LOW_BIT_CLOEXEC) },
  fspick: { type: "unknown", cloexec: flagBit(LOW_BIT_CLOEXEC) },
  open_tree: { type: "unknown", cloexec: flagBit(O_CLOEXEC) },
  // LANDLOCK_CREATE_RULESET_VERSION (flags bit 0) returns the ABI version, not a descriptor.
  landlock_create_ruleset: { type: "unknown", cloexec: always, makesFd: (a) => ((a.flags ?? 0) & 1) === 0 },
};

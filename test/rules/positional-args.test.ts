/**
 * Positional evt.arg[N]: the Nth parameter of the event in Falco's order
 * (modern libsinsp exit events: the exit parameters, then the enter ones it
 * does not repeat), answered like the named argument it is.
 */
import { describe, expect, it } from "vitest";
import type { GenericSyscallName, SyscallArgs, SyscallEvent } from "../../src/decode/events.js";
import { SENSOR_EVENT_TYPES } from "../../src/decode/events.js";
import { blankFd } from "../../src/enrich/fd-info.js";
import { FALCO_PARAMS } from "../../src/rules/event-args.js";
import { ALL_EVENT_TYPES, type EventTypeSet } from "../../src/rules/event-types.js";
import { DEFAULT_FIELDS } from "../../src/rules/fields.js";
import type { RuntimeValue } from "../../src/rules/values.js";
import { fileFd } from "../support/detection-fixtures.js";
import {
  connectEvent,
  enriched,
  execEvent,
  load,
  matches,
  openEvent,
  proc,
  ruleText,
  TS,
} from "./helpers.js";

function syscall(evtType: GenericSyscallName, args: SyscallArgs, ret = 0): SyscallEvent {
  return {
    tsNs: TS,
    tgid: 100,
    tid: 101,
    recordFlags: 0,
    kind: "syscall",
    evtType,
    ret,
    args,
    tuple: undefined,
    uid: 1000,
    gid: 1000,
    euid: 1000,
    egid: 1000,
  };
}

function value(field: string, arg: string, e = enriched(), types: EventTypeSet = ALL_EVENT_TYPES) {
  const bound = DEFAULT_FIELDS.bind(field, arg, { eventTypes: types });
  if (typeof bound === "string") throw new Error(bound);
  return bound.extract(e) as RuntimeValue | undefined;
}

const cwd = proc({ cwd: "/home/alice" });

describe("evt.arg[N] follows Falco's parameter order", () => {
  it.each([
    // openat exit: fd, dirfd, name, flags, mode, dev, ino
    ["2", enriched(openEvent()), "/etc/shadow"],
    ["2", enriched(openEvent({ path: "notes.txt" }), { process: cwd }), "/home/alice/notes.txt"],
    ["3", enriched(openEvent()), "O_RDONLY|O_CLOEXEC"],
    // open exit: fd, name, flags, mode, dev, ino
    ["1", enriched(openEvent({ evtType: "open" })), "/etc/shadow"],
    ["2", enriched(openEvent({ evtType: "open" })), "O_RDONLY|O_CLOEXEC"],
    // connect exit: res, tuple, fd, addr
    ["0", enriched(connectEvent({ ret: -111 })), "ECONNREFUSED"],
    ["1", enriched(connectEvent()), "10.0.0.5:41000->93.184.216.34:443"],
    // execve exit: res, exe, …, comm (13), …, uid (26)
    ["0", enriched(execEvent()), "0"],
    ["1", enriched(execEvent()), "cat"],
    ["13", enriched(execEvent({ comm: "cat" })), "cat"],
    ["26", enriched(execEvent({ euid: 0 })), "root"],
    // a failed execve is a syscall event with res and filename (28)
    ["0", enriched(syscall("execve", { filename: "/nope" }, -2)), "ENOENT"],
    ["28", enriched(syscall("execve", { filename: "/nope" }, -2)), "/nope"],
    // socket exit: fd, domain, type, proto
    ["1", enriched(syscall("socket", { domain: 17, type: 3, proto: 768 }, 4)), "AF_PACKET"],
    ["2", enriched(syscall("socket", { domain: 2, type: 1, proto: 6 }, 4)), "1"],
    ["1", enriched(syscall("socket", { domain: 1, type: 1, proto: 0 }, 4)), undefined],
    // chmod exit: res, filename, mode (PT_MODE names in Falco's table order)
    [
      "2",
      enriched(syscall("chmod", { filename: "/tmp/x", mode: 0o4755 })),
      "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID",
    ],
    ["1", enriched(syscall("chmod", { filename: "x", mode: 0o644 }), { process: cwd }), "/home/alice/x"],
    // setuid exit: res, uid (PT_UID: the name, or the number)
    ["1", enriched(syscall("setuid", { uid: 0 })), "root"],
    ["1", enriched(syscall("setuid", { uid: 4242 })), "4242"],
    // linkat exit: res, olddir, oldpath, newdir, newpath, flags (Falco's "olddir" is our olddirfd)
    [
      "2",
      enriched(syscall("linkat", { olddirfd: -100, oldpath: "a", newdirfd: -100, newpath: "/b", flags: 0 }), {
        process: cwd,
      }),
      "/home/alice/a",
    ],
    [
      "4",
      enriched(syscall("linkat", { olddirfd: -100, oldpath: "a", newdirfd: -100, newpath: "/b", flags: 0 })),
      "/b",
    ],
    // open* exit: fd 0 renders through the fd table ("<f>/path"), an error as its errno name
    [
      "0",
      enriched(openEvent(), {
        fd: fileFd(3, "/etc/shadow"),
      }),
      "<f>/etc/shadow",
    ],
    ["0", enriched(openEvent({ ret: -13 })), "EACCES"],
    ["0", enriched(openEvent()), undefined],
    // fchmod exit: res, fd, mode — a file descriptor renders, a socket's has no text here
    [
      "1",
      enriched(syscall("fchmod", { fd: 5, mode: 0o600 }), {
        fd: { ...blankFd(5, "directory"), name: "/srv" },
      }),
      "<d>/srv",
    ],
    [
      "1",
      enriched(syscall("fchmod", { fd: 5, mode: 0o600 }), {
        fd: {
          ...blankFd(5, "ipv4"),
          name: "1.2.3.4:5->6.7.8.9:10",
          l4proto: "tcp",
          localAddr: "1.2.3.4",
          localPort: 5,
          remoteAddr: "6.7.8.9",
          remotePort: 10,
          role: "client",
          connected: true,
        },
      }),
      undefined,
    ],
    // unlinkat/renameat2/linkat flags by name; no known bit set: no text
    ["3", enriched(syscall("unlinkat", { dirfd: -100, name: "/tmp/d", flags: 0x200 })), "AT_REMOVEDIR"],
    ["3", enriched(syscall("unlinkat", { dirfd: -100, name: "/tmp/f", flags: 0 })), undefined],
    [
      "5",
      enriched(
        syscall("renameat2", { olddirfd: -100, oldpath: "/a", newdirfd: -100, newpath: "/b", flags: 3 }),
      ),
      "RENAME_NOREPLACE|RENAME_EXCHANGE",
    ],
    // kill exit: res, pid, sig — PT_PID renders as the process's comm when the table knows it
    ["1", enriched(syscall("kill", { pid: 1, sig: 9 })), "bash"],
    ["1", enriched(syscall("kill", { pid: 4242, sig: 9 })), "4242"],
    // ptrace exit: res, addr, data, request, pid
    ["3", enriched(syscall("ptrace", { request: 4, pid: 7 })), "PTRACE_POKETEXT"],
    // unlinkat exit: res, dirfd, name, flags; a relative name whose dirfd the fd table does not know stays unknown
    ["2", enriched(syscall("unlinkat", { dirfd: 9, name: "x", flags: 0 })), undefined],
  ])("evt.arg[%s] → %s", (index, e, expected) => {
    expect(value("evt.arg", index, e)).toEqual(expected);
  });

  it("gives raw values with evt.rawarg[N]", () => {
    const types: EventTypeSet = { negated: false, names: new Set(["openat"]) };
    expect(value("evt.rawarg", "1", enriched(openEvent()), types)).toBe(-100);
    expect(value("evt.rawarg", "0", enriched(openEvent()), types)).toBe(3);
  });

  it("refuses evt.rawarg[N] whose types differ across the rule's event types", () => {
    const types: EventTypeSet = { negated: false, names: new Set(["open", "openat"]) };
    const bound = DEFAULT_FIELDS.bind("evt.rawarg", "1", { eventTypes: types });
    expect(bound).toMatch(/evt\.rawarg\[1\] has different types .* restrict evt.type/);
  });

  it("matches in rules, and reports the positions it cannot render for the rule's event types", () => {
    expect(
      matches(
        "evt.type = socket and evt.arg[1] contains AF_PACKET",
        enriched(syscall("socket", { domain: 17, type: 3, proto: 768 }, 4)),
      ),
    ).toBe(true);
    expect(
      matches(
        "evt.type = socket and evt.arg[1] contains AF_PACKET",
        enriched(syscall("socket", { domain: 2, type: 1, proto: 6 }, 4)),
      ),
    ).toBe(false);
    // Upstream's "Packet socket created in container" tests evt.arg[0]: the fd of socket's exit event,
    // which Falco renders through its fd table — reported, never compared with a bare number.
    const rs = load(ruleText("evt.type = socket and evt.arg[0] contains AF_PACKET", "info=%evt.arg[1]"));
    expect(rs.unsupportedFields.map((u) => [u.field, u.reason])).toEqual([
      ["evt.arg[0]", expect.stringContaining("evt.arg[0] of socket events is not available yet")],
    ]);
  });

  it("warns about a position no event type of the rule has", () => {
    const rs = load(ruleText("evt.type = openat and evt.arg[9] = x"));
    expect(rs.warnings.map((w) => w.message).join("\n")).toContain(
      "evt.arg[9] is not an argument of any event type this rule can match",
    );
  });

  it("lists Falco's parameters for every event type the sensor produces", () => {
    for (const t of SENSOR_EVENT_TYPES) {
      expect(FALCO_PARAMS[t]?.length, t).toBeGreaterThan(0);
      // Every position names an argument our tables know (answerable or known-missing), except the few
      // libsinsp-only ones listed here.
      expect(new Set(FALCO_PARAMS[t]).size, `${t}: no repeated parameter`).toBe(FALCO_PARAMS[t]?.length);
    }
  });
});

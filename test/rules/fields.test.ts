import { describe, expect, it } from "vitest";
import type { EnrichedEvent } from "../../src/enrich/enriched-event.js";
import { parseFieldExpression } from "../../src/rules/condition-parser.js";
import { ALL_EVENT_TYPES } from "../../src/rules/event-types.js";
import { DEFAULT_FIELDS } from "../../src/rules/fields.js";
import { renderOpenFlags } from "../../src/rules/open-flags.js";
import { plainSourceText } from "../../src/rules/source-text.js";
import type { RuntimeValue } from "../../src/rules/values.js";
import {
  connectEvent,
  DEFAULT_PARENT,
  enriched,
  execEvent,
  exitEvent,
  fakeUsers,
  forkEvent,
  openEvent,
  proc,
  TS,
} from "./helpers.js";

/** The value of a field (as written in a condition, e.g. "proc.aname[2]") for an event. */
function value(field: string, e: EnrichedEvent): RuntimeValue | undefined {
  const node = parseFieldExpression(plainSourceText(field, "test"));
  if (node.kind !== "field") throw new Error("plain fields only");
  // Bound as in a rule that matches this event's type only.
  const eventTypes = { negated: false, names: new Set([e.event.evtType]) };
  const bound = DEFAULT_FIELDS.bind(node.name, node.arg, { eventTypes });
  if (typeof bound === "string") throw new Error(bound);
  return bound.extract(e);
}

const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_CLOEXEC = 0o2000000;
const O_DIRECTORY = 0o200000;

// Ancestry: cat(100) ← bash(1) for the default scene; a deeper one here.
const grandparent = proc({
  pid: 10,
  ppid: 0,
  name: "sshd",
  exePath: "/usr/sbin/sshd",
  argv: ["sshd:", "alice"],
});
const parent = proc({ pid: 50, ppid: 10, name: "bash", exePath: "/usr/bin/bash", argv: ["-bash"] });
const deep = enriched(openEvent(), { process: proc({ ppid: 50 }), others: [parent, grandparent] });

const open = enriched(openEvent());
const connect = enriched(connectEvent());
const exec = enriched(execEvent());

describe("evt.* fields", () => {
  it.each<[string, EnrichedEvent, RuntimeValue | undefined]>([
    ["evt.type", open, "openat"],
    ["evt.type", connect, "connect"],
    ["evt.type", exec, "execve"],
    ["evt.time", open, TS],
    ["evt.rawtime", open, TS],
    ["evt.dir", open, "<"],
    ["evt.res", open, "SUCCESS"],
    ["evt.res", enriched(openEvent({ ret: -2 })), "ENOENT"],
    ["evt.res", enriched(openEvent({ ret: -13 })), "EACCES"],
    ["evt.res", enriched(connectEvent({ ret: -115 })), "EINPROGRESS"],
    ["evt.res", enriched(openEvent({ ret: -9999 })), "-9999"],
    ["evt.res", enriched(exitEvent()), undefined],
    ["evt.rawres", open, 3],
    ["evt.rawres", enriched(openEvent({ ret: -2 })), -2],
    ["evt.rawres", enriched(forkEvent()), 200],
    ["evt.failed", enriched(openEvent({ ret: -2 })), true],
    ["evt.failed", open, false],
    ["evt.is_open_read", open, true],
    ["evt.is_open_write", open, false],
    ["evt.is_open_read", enriched(openEvent({ openFlags: O_WRONLY })), false],
    ["evt.is_open_write", enriched(openEvent({ openFlags: O_WRONLY })), true],
    ["evt.is_open_read", enriched(openEvent({ openFlags: O_RDWR })), true],
    ["evt.is_open_write", enriched(openEvent({ openFlags: O_RDWR })), true],
    ["evt.is_open_write", enriched(openEvent({ evtType: "creat", openFlags: O_WRONLY | O_CREAT })), false],
    ["evt.is_open_read", connect, false],
    ["evt.is_open_exec", open, false],
    ["evt.is_open_exec", enriched(openEvent({ openFlags: O_WRONLY | O_CREAT, mode: 0o755 })), true],
    ["evt.is_open_exec", enriched(openEvent({ openFlags: O_WRONLY | O_CREAT, mode: 0o644 })), false],
    ["evt.is_open_exec", enriched(openEvent({ openFlags: O_WRONLY, mode: 0o755 })), false],
    ["evt.is_open_exec", enriched(openEvent({ evtType: "creat", mode: 0o700 })), true],
    ["evt.arg.flags", open, "O_RDONLY|O_CLOEXEC"],
    ["evt.arg[flags]", open, "O_RDONLY|O_CLOEXEC"],
    ["evt.rawarg.flags", open, 1 | 4096],
    ["evt.arg.name", open, "/etc/shadow"],
    ["evt.arg.name", enriched(openEvent({ path: "../bob/./x" })), "/home/bob/x"],
    ["evt.rawarg.name", enriched(openEvent({ path: "../bob/./x" })), "../bob/./x"],
    ["evt.rawarg.fd", open, 3],
    ["evt.rawarg.dirfd", open, -100],
    ["evt.rawarg.mode", enriched(openEvent({ mode: 0o644 })), 0o644],
    ["evt.arg.res", enriched(connectEvent({ ret: -111 })), "ECONNREFUSED"],
    ["evt.arg.res", connect, "0"],
    ["evt.arg.tuple", connect, "10.0.0.5:41000->93.184.216.34:443"],
    ["evt.rawarg.fd", connect, 5],
    ["evt.arg.exe", exec, "cat"],
    // PT_UID: the user's name when the user database knows it, the number otherwise.
    ["evt.arg.uid", enriched(execEvent({ euid: 0 })), "root"],
    ["evt.arg.uid", enriched(execEvent({ euid: 4242 })), "4242"],
    ["evt.arg.flags", connect, undefined],
    ["evt.arg.path", open, undefined],
  ])("%s", (field, e, expected) => {
    expect(value(field, e)).toEqual(expected);
  });
});

describe("open flags render like Falco", () => {
  it.each([
    [0, "O_RDONLY"],
    [O_CLOEXEC, "O_RDONLY|O_CLOEXEC"],
    [O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, "O_TRUNC|O_CREAT|O_WRONLY|O_CLOEXEC"],
    [O_RDWR, "O_RDWR"],
    [O_RDWR | O_APPEND, "O_APPEND|O_RDWR"],
    [O_DIRECTORY | O_CLOEXEC, "O_DIRECTORY|O_RDONLY|O_CLOEXEC"],
  ])("%o → %s", (flags, text) => {
    expect(renderOpenFlags(flags)).toBe(text);
  });
});

describe("proc.*, user.*, group.* fields", () => {
  it.each<[string, EnrichedEvent, RuntimeValue | undefined]>([
    ["proc.pid", open, 100],
    ["thread.tid", open, 101],
    ["proc.ppid", open, 1],
    ["proc.name", open, "cat"],
    ["proc.exe", open, "cat"],
    ["proc.exe", enriched(openEvent(), { process: proc({ argv: ["/bin/cat", "x"] }) }), "/bin/cat"],
    ["proc.exepath", open, "/usr/bin/cat"],
    ["proc.exepath", enriched(openEvent(), { process: proc({ exePath: "" }) }), undefined],
    ["proc.args", open, "/etc/shadow"],
    ["proc.args", enriched(openEvent(), { process: proc({ argv: ["cat", "-n", "a b"] }) }), "-n a b"],
    ["proc.args", enriched(openEvent(), { process: proc({ argv: ["cat"] }) }), ""],
    ["proc.cmdline", open, "cat /etc/shadow"],
    ["proc.cmdline", enriched(openEvent(), { process: proc({ argv: ["/bin/cat"] }) }), "cat"],
    ["proc.cwd", open, "/home/alice"],
    ["proc.cwd", enriched(openEvent(), { process: proc({ cwd: "" }) }), undefined],
    ["proc.duration", open, 5_000_000_000n],
    ["proc.pname", open, "bash"],
    ["proc.pexe", open, "-bash"],
    ["proc.pexepath", open, "/usr/bin/bash"],
    ["proc.pcmdline", open, "bash"],
    ["proc.pname", enriched(openEvent(), { process: proc({ ppid: 77 }) }), undefined],
    ["proc.aname[0]", deep, "cat"],
    ["proc.aname[1]", deep, "bash"],
    ["proc.aname[2]", deep, "sshd"],
    ["proc.aname[3]", deep, undefined],
    ["proc.apid[2]", deep, 10],
    ["proc.aexepath[2]", deep, "/usr/sbin/sshd"],
    ["proc.acmdline[2]", deep, "sshd alice"],
    ["proc.aexe[1]", deep, "-bash"],
    ["proc.name", enriched(openEvent(), { process: null }), undefined],
    ["proc.pid", enriched(openEvent(), { process: null }), 100],
    ["user.uid", open, 1000],
    ["user.uid", enriched(openEvent(), { process: proc({ uid: 1000, euid: 0 }) }), 0],
    ["user.name", open, "alice"],
    ["user.name", enriched(openEvent(), { users: fakeUsers({}, {}) }), undefined],
    ["user.loginuid", open, 1000],
    ["user.loginuid", enriched(openEvent(), { process: proc({ loginuid: 4294967295 }) }), -1],
    ["user.loginname", open, "alice"],
    ["user.loginname", enriched(openEvent(), { process: proc({ loginuid: 4294967295 }) }), undefined],
    ["group.gid", open, 1000],
    ["group.name", open, "alice"],
    ["container.id", open, "host"],
  ])("%s", (field, e, expected) => {
    expect(value(field, e)).toEqual(expected);
  });

  it("stops ancestry walks on a ppid cycle", () => {
    const a = proc({ pid: 2, ppid: 3, name: "a" });
    const b = proc({ pid: 3, ppid: 2, name: "b" });
    const e = enriched(openEvent(), { process: proc({ ppid: 2 }), others: [a, b] });
    expect(value("proc.aname[5]", e)).toBe("a");
    expect(value("proc.aname[65]", e)).toBeUndefined();
    const bound = DEFAULT_FIELDS.bind("proc.aname", undefined, { eventTypes: ALL_EVENT_TYPES });
    if (typeof bound === "string" || bound.anyOf === undefined)
      throw new Error("expected a multi-valued field");
    let visited = 0;
    expect(bound.anyOf(e, () => ++visited > 1000)).toBe(false);
    expect(visited).toBe(64);
  });

  it("matches any ancestor with an unindexed proc.aname, the process itself excluded", () => {
    const bound = DEFAULT_FIELDS.bind("proc.aname", undefined, { eventTypes: ALL_EVENT_TYPES });
    if (typeof bound === "string" || bound.anyOf === undefined)
      throw new Error("expected a multi-valued field");
    const seen: RuntimeValue[] = [];
    bound.anyOf(deep, (v) => {
      seen.push(v);
      return false;
    });
    expect(seen).toEqual(["bash", "sshd"]);
    expect(bound.filterOnly).toBe(true);
  });

  it("keeps DEFAULT_PARENT as the default scene's parent", () => {
    expect(value("proc.ppid", open)).toBe(DEFAULT_PARENT.pid);
  });
});

describe("fd.* fields", () => {
  const relative = enriched(openEvent({ path: "notes/../todo.txt" }));
  const relativeToDirfd = enriched(openEvent({ path: "todo.txt", dirfd: 7 }));
  const failed = enriched(openEvent({ ret: -2, path: "/nope" }));
  const dir = enriched(openEvent({ path: "/etc", openFlags: O_DIRECTORY }));
  const v6 = enriched(connectEvent({ family: 10, saddr: "2001:db8::5", daddr: "2001:db8::1", dport: 80 }));
  const mapped = enriched(connectEvent({ family: 10, saddr: "::ffff:10.0.0.5", daddr: "::ffff:1.2.3.4" }));
  const unbound = enriched(connectEvent({ saddr: "", sport: 0 }));
  const udp = enriched(connectEvent({ protocol: 0, sockType: 2 }));
  const unix = enriched(
    connectEvent({ family: 1, daddr: "/run/docker.sock", saddr: "", dport: 0, sport: 0 }),
  );

  it.each<[string, EnrichedEvent, RuntimeValue | undefined]>([
    ["fd.num", open, 3],
    ["fd.num", failed, -2],
    ["fd.num", connect, 5],
    ["fd.num", exec, undefined],
    ["fd.name", open, "/etc/shadow"],
    ["fd.name", relative, "/home/alice/todo.txt"],
    ["fd.name", relativeToDirfd, undefined],
    ["fd.name", enriched(openEvent({ path: "x" }), { process: proc({ cwd: "" }) }), undefined],
    ["fd.name", enriched(openEvent({ path: "//etc///passwd/" })), "/etc/passwd"],
    ["fd.name", failed, "/nope"],
    ["fd.nameraw", relative, "notes/../todo.txt"],
    ["fd.directory", open, "/etc"],
    ["fd.filename", open, "shadow"],
    ["fd.directory", enriched(openEvent({ path: "/vmlinuz" })), "/"],
    ["fd.directory", connect, undefined],
    ["fd.typechar", open, "f"],
    ["fd.type", open, "file"],
    ["fd.typechar", dir, "d"],
    ["fd.type", dir, "directory"],
    ["fd.typechar", failed, undefined],
    ["fd.typechar", connect, "4"],
    ["fd.type", connect, "ipv4"],
    ["fd.typechar", v6, "6"],
    ["fd.type", v6, "ipv6"],
    ["fd.typechar", mapped, "4"],
    ["fd.typechar", unix, "u"],
    ["fd.type", unix, "unix"],
    ["fd.sockfamily", connect, "ip"],
    ["fd.sockfamily", unix, "unix"],
    ["fd.name", connect, "10.0.0.5:41000->93.184.216.34:443"],
    ["fd.name", v6, "2001:db8::5:41000->2001:db8::1:80"],
    ["fd.name", mapped, "10.0.0.5:41000->1.2.3.4:443"],
    ["fd.name", unbound, "0.0.0.0:0->93.184.216.34:443"],
    ["fd.name", unix, "/run/docker.sock"],
    ["fd.l4proto", connect, "tcp"],
    ["fd.l4proto", udp, "udp"],
    ["fd.l4proto", unix, undefined],
    ["fd.cip", connect, "10.0.0.5"],
    ["fd.cport", connect, 41000],
    ["fd.sip", connect, "93.184.216.34"],
    ["fd.sport", connect, 443],
    ["fd.lip", connect, "10.0.0.5"],
    ["fd.lport", connect, 41000],
    ["fd.rip", connect, "93.184.216.34"],
    ["fd.rport", connect, 443],
    ["fd.sip", mapped, "1.2.3.4"],
    ["fd.cip", unbound, undefined],
    ["fd.sip", unix, undefined],
    ["fd.sport", unix, undefined],
    ["fd.sip", open, undefined],
  ])("%s", (field, e, expected) => {
    expect(value(field, e)).toEqual(expected);
  });
});

describe("the registry", () => {
  it("documents every field", () => {
    for (const f of DEFAULT_FIELDS.entries) {
      expect(f.description.length, f.name).toBeGreaterThan(10);
    }
  });

  it("knows no field as both supported and unsupported", () => {
    const supported = new Set(DEFAULT_FIELDS.entries.map((f) => f.name));
    for (const u of DEFAULT_FIELDS.unsupported) expect(supported.has(u.name), u.name).toBe(false);
  });
});

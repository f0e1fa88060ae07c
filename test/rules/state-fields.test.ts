/**
 * Fields answered from the enricher's state: the fd table's view of the
 * event's fd (falling back to the event itself), process depth (session,
 * terminal, namespaces, capabilities, executable facts) and containers.
 */
import { describe, expect, it } from "vitest";
import type { FdInfo } from "../../src/enrich/fd-info.js";
import { HOST_CONTAINER } from "../../src/enrich/process-info.js";
import { capabilityNames, imageRepository } from "../../src/rules/fields.js";
import { connectEvent, DEFAULT_PARENT, enriched, load, matches, openEvent, proc } from "./helpers.js";

function fd(overrides: Partial<FdInfo> = {}): FdInfo {
  return {
    num: 5,
    type: "ipv4",
    name: "10.0.0.1:40000->93.184.216.34:443",
    openFlags: 0,
    ino: 0,
    l4proto: "tcp",
    localAddr: "10.0.0.1",
    localPort: 40000,
    remoteAddr: "93.184.216.34",
    remotePort: 443,
    role: "client",
    connected: true,
    ...overrides,
  };
}

const container = {
  id: "0123456789ab",
  fullId: "0123456789ab".padEnd(64, "0"),
  runtime: "containerd",
  name: "web",
  image: "registry.example:5000/team/web:1.2@sha256:abcd",
  labels: new Map<string, string>(),
  k8s: {
    podUid: "1111-2222",
    podName: "web-7d9f",
    namespace: "shop",
    containerName: "web",
    podLabels: new Map<string, string>(),
  },
};

describe("fd.* from the fd table", () => {
  const conn = connectEvent();
  it.each([
    ["fd.num = 5", fd(), true],
    ["fd.typechar = 4 and fd.type = ipv4 and fd.sockfamily = ip", fd(), true],
    ["fd.connected = true", fd(), true],
    ["fd.connected = false", fd({ connected: false }), true],
    ["fd.cip = 10.0.0.1 and fd.sip = 93.184.216.34 and fd.cport = 40000 and fd.sport = 443", fd(), true],
    // An accepted socket: the client is the remote end.
    ["fd.cip = 93.184.216.34 and fd.sip = 10.0.0.1 and fd.sport = 40000", fd({ role: "server" }), true],
    ["fd.lip = 10.0.0.1 and fd.rport = 443 and fd.lport = 40000", fd(), true],
    ["fd.name = '10.0.0.1:40000->93.184.216.34:443'", fd(), true],
    ["fd.snet = 93.184.0.0/16 and not fd.cnet = 192.168.0.0/16", fd(), true],
    ["fd.ip = 93.184.216.34 and fd.port = 40000", fd(), true],
    ["fd.rip = 1.2.3.4", fd({ remoteAddr: "::ffff:1.2.3.4", type: "ipv6" }), true],
    ["fd.l4proto = udp", fd({ l4proto: "udp" }), true],
    ["fd.typechar = p and fd.type = pipe", fd({ type: "pipe", name: "pipe:[123]", l4proto: "" }), true],
  ])("%s", (condition, info, expected) => {
    expect(matches(`evt.type = connect and ${condition}`, enriched(conn, { fd: info }))).toBe(expected);
  });

  it("answers file fds with directory and file name, and fd.ino", () => {
    const file = fd({
      type: "file",
      name: "/etc/shadow",
      l4proto: "",
      ino: 42,
      localAddr: "",
      remoteAddr: "",
    });
    const e = enriched(openEvent({ path: "/x/y" }), { fd: file });
    expect(
      matches(
        "evt.type = openat and fd.name = /etc/shadow and fd.directory = /etc and fd.filename = shadow",
        e,
      ),
    ).toBe(true);
    expect(matches("evt.type = openat and fd.ino = 42 and fd.cip exists", e)).toBe(false);
    expect(matches("evt.type = openat and fd.ino = 42", e)).toBe(true);
  });

  it("falls back to the event when the table does not know the fd", () => {
    expect(
      matches("evt.type = openat and fd.name = /etc/shadow and fd.typechar = f", enriched(openEvent())),
    ).toBe(true);
  });
});

describe("process depth", () => {
  const p = proc({
    pid: 100,
    sid: 1,
    pgid: 100,
    vpid: 1,
    tty: 34816,
    egid: 27,
    gid: 0,
    capEffective: (1n << 21n) | 1n,
    capPermitted: 1n << 12n,
    exeIno: 777,
    exeCtimeNs: 1_000n,
    exeMtimeNs: 900n,
    startNs: 5_000n,
    exeUpperLayer: true,
    exeFromMemfd: false,
  });
  const e = enriched(openEvent(), { process: p });
  it.each([
    "proc.tty = 34816",
    "proc.vpid = 1",
    "proc.sid = 1 and proc.sname = bash and proc.is_sid_leader = false",
    "proc.vpgid = 100 and proc.is_vpgid_leader = true",
    "thread.cap_effective contains CAP_SYS_ADMIN and thread.cap_effective contains CAP_CHOWN",
    "thread.cap_permitted = CAP_NET_ADMIN",
    "proc.exe_ino = 777 and proc.exe_ino.ctime = 1000 and proc.exe_ino.mtime = 900",
    "proc.exe_ino.ctime_duration_proc_start = 4000",
    "proc.is_exe_upper_layer = true and proc.is_exe_from_memfd = false",
    "group.gid = 27",
    "evt.hostname = testhost",
  ])("%s", (condition) => {
    expect(matches(`evt.type = openat and ${condition}`, e)).toBe(true);
  });

  it("names capabilities like Falco", () => {
    expect(capabilityNames(0n)).toBe("");
    expect(capabilityNames((1n << 39n) | (1n << 38n))).toBe("CAP_PERFMON CAP_BPF");
  });

  it("proc.sname is missing when the session leader is unknown", () => {
    const orphan = proc({ sid: 4242 });
    expect(
      matches("evt.type = openat and proc.sname exists", enriched(openEvent(), { process: orphan })),
    ).toBe(false);
    expect(DEFAULT_PARENT.pid).toBe(1);
  });
});

describe("container.* and k8s.*", () => {
  const inContainer = enriched(openEvent(), { process: proc({ container }) });
  const onHost = enriched(openEvent(), { process: proc({ container: HOST_CONTAINER }) });
  it.each([
    "container.id = 0123456789ab",
    "container.name = web and container.type = containerd",
    "container.image.repository = registry.example:5000/team/web",
    "container.image.tag = 1.2",
    "k8s.ns.name = shop and k8s.pod.name = web-7d9f and k8s.pod.uid = 1111-2222",
  ])("%s", (condition) => {
    expect(matches(`evt.type = openat and ${condition}`, inContainer)).toBe(true);
    expect(matches(`evt.type = openat and ${condition}`, onHost)).toBe(false);
  });

  it("the host is 'host'", () => {
    expect(matches("evt.type = openat and container.id = host", onHost)).toBe(true);
  });

  it("image repository drops tag and digest but keeps a registry port", () => {
    expect(imageRepository("nginx")).toBe("nginx");
    expect(imageRepository("nginx:1.25")).toBe("nginx");
    expect(imageRepository("localhost:5000/nginx")).toBe("localhost:5000/nginx");
    expect(imageRepository("docker.io/library/nginx@sha256:ab")).toBe("docker.io/library/nginx");
  });
});

describe("required_plugin_versions", () => {
  const text = (name: string) =>
    `- required_plugin_versions:\n    - name: ${name}\n      version: 0.4.0\n- rule: r\n  desc: d\n  condition: evt.type = openat and container.id != host\n  output: o\n  priority: INFO\n`;
  it("the container plugin is met by the built-in fields", () => {
    const rs = load(text("container"));
    expect(rs.warnings).toEqual([]);
    expect(rs.requiredPluginVersions.map((p) => p.name)).toEqual(["container"]);
  });
  it("any other plugin is reported by name", () => {
    const rs = load(text("k8saudit"));
    expect(rs.warnings.map((w) => w.message)).toEqual([
      "requires plugin 'k8saudit' 0.4.0, which Peregrine does not have: rules for its event source are skipped, its fields are unknown",
    ]);
  });
});

describe("list items written with their own quotes", () => {
  it("are the quoted token's value, as when Falco pastes them into the condition", () => {
    const prelude = `- list: nets\n  items: ['"10.0.0.0/8"', '"192.168.0.0/16"']\n- list: names\n  items: ['"(systemd)"', "plain"]\n`;
    const conn = enriched(connectEvent());
    expect(matches("evt.type = connect and fd.snet in (nets)", conn, prelude)).toBe(false);
    const p = proc({ name: "(systemd)" });
    expect(
      matches("evt.type = openat and proc.name in (names)", enriched(openEvent(), { process: p }), prelude),
    ).toBe(true);
  });
});

describe("checks on fields the sensor cannot answer", () => {
  const e = enriched(openEvent());
  it.each([
    ["fd.sip.name = example.com", false],
    ["not fd.sip.name = example.com", true],
    ["fd.sip.name != example.com", false],
    ['container.mount.dest[/proc*] in ("<NA>","N/A")', true],
    ['not container.mount.dest[/proc*] in ("<NA>","N/A")', false],
    ['evt.args != "<NA>"', false],
    // Answered now, but missing here (a host process, no runtime): the same missing-value rules.
    ["container.privileged = true", false],
    ["not container.privileged = true", true],
    ["container.privileged != true", false],
    // Never 0: upstream's never_true macro.
    ["evt.num = 0", false],
    ["not evt.num = 0", true],
  ])("%s → %s", (condition, expected) => {
    expect(matches(`evt.type = openat and ${condition}`, e)).toBe(expected);
  });
});

// The detection the export benches send (bench/export-throughput.mjs,
// bench/export-cost.mjs): attributes as the default rules produce them, so
// both benches measure the same record.
export const epochNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

// --- a realistic detection (attributes as the default rules produce) ---------------------------
const rule = {
  name: "Credential file read by unexpected program",
  desc: "A program opened a file holding password hashes for reading.",
  priority: "WARNING",
  source: "syscall",
  tags: ["maturity_stable", "host", "filesystem", "mitre_credential_access", "T1003.008"],
  rulesetName: "10-credential-access.yaml",
};
const proc = {
  pid: 4242,
  ppid: 4200,
  name: "cat",
  exePath: "/usr/bin/cat",
  argv: ["cat", "/etc/shadow"],
  uid: 1000,
  gid: 1000,
  euid: 1000,
  egid: 1000,
  loginuid: 1000,
  cwd: "/home/alice",
  startNs: 1_795_887_724_000_000_000n,
  cgroupId: 0n,
  tty: 0,
  sid: 4100,
  pgid: 4242,
  vpid: 4242,
  capEffective: 0n,
  capPermitted: 0n,
  capInheritable: 0n,
  exeIno: 0,
  exeUpperLayer: false,
  exeFromMemfd: false,
  container: {
    id: "host",
    fullId: "",
    runtime: "host",
    name: "host",
    image: "",
    labels: new Map(),
    k8s: undefined,
  },
  env: new Map([["OTEL_SERVICE_NAME", "checkout"]]),
  source: "exec",
};
const users = { userName: (u) => (u === 1000 ? "alice" : "root"), groupName: () => undefined };
// FRESH_PROCESS=1: every detection from a process never seen before (the per-process
// encoding cache never hits: the worst case); default: all from one process (a burst).
export const FRESH_PROCESS = process.env.FRESH_PROCESS === "1";
export function detection(tsNs) {
  const p = FRESH_PROCESS ? { ...proc } : proc;
  return {
    rule,
    event: {
      event: {
        kind: "open",
        evtType: "openat",
        tsNs,
        tgid: 4242,
        tid: 4242,
        ret: 3,
        openFlags: 0,
        mode: 0,
        dirfd: -100,
        path: "/etc/shadow",
      },
      process: p,
      fd: undefined,
      fds: { get: () => undefined },
      processes: { get: () => p },
      users,
      hostname: "bench-host",
    },
    output:
      "Credential file opened for reading by unexpected program (file=/etc/shadow flags=O_RDONLY process=cat exe=/usr/bin/cat cmdline=cat /etc/shadow pid=4242 user=alice uid=1000 parent=bash pcmdline=bash)",
    outputFields: {
      "fd.name": "/etc/shadow",
      "evt.arg.flags": "O_RDONLY",
      "proc.name": "cat",
      "proc.exepath": "/usr/bin/cat",
      "proc.cmdline": "cat /etc/shadow",
      "proc.pid": 4242,
      "user.name": "alice",
      "user.uid": 1000,
      "proc.pname": "bash",
      "proc.pcmdline": "bash",
    },
  };
}

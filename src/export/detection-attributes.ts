import { posix } from "node:path";
import type { AnyValue, LogAttributes } from "@opentelemetry/api-logs";
import type { ConnectEvent, OpenEvent } from "../decode/events.js";
import type { FdInfo } from "../enrich/fd-info.js";
import type { ProcessInfo, UserLookup } from "../enrich/process-info.js";
import type { Detection, FieldValue, RuleInfo } from "../rules/detection.js";
import { detectionId } from "./detection-id.js";
import { ruleIdentity } from "./rule-identity.js";
import { NO_SANITIZER, type Sanitizer } from "./sanitize.js";
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_CLIENT_PORT,
  ATTR_FILE_DIRECTORY,
  ATTR_FILE_NAME,
  ATTR_FILE_PATH,
  ATTR_NETWORK_LOCAL_ADDRESS,
  ATTR_NETWORK_LOCAL_PORT,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_TRANSPORT,
  ATTR_NETWORK_TYPE,
  ATTR_PEREGRINE_DETECTION_ID,
  ATTR_PEREGRINE_EVENT_TYPE,
  ATTR_PEREGRINE_RULE_SOURCE,
  ATTR_PEREGRINE_RULE_TAGS,
  ATTR_PROCESS_ARGS_COUNT,
  ATTR_PROCESS_COMMAND_ARGS,
  ATTR_PROCESS_COMMAND_LINE,
  ATTR_PROCESS_CREATION_TIME,
  ATTR_PROCESS_EXECUTABLE_NAME,
  ATTR_PROCESS_EXECUTABLE_PATH,
  ATTR_PROCESS_INTERACTIVE,
  ATTR_PROCESS_PARENT_PID,
  ATTR_PROCESS_PID,
  ATTR_PROCESS_REAL_USER_ID,
  ATTR_PROCESS_SESSION_LEADER_PID,
  ATTR_PROCESS_USER_ID,
  ATTR_PROCESS_USER_NAME,
  ATTR_PROCESS_VPID,
  ATTR_PROCESS_WORKING_DIRECTORY,
  ATTR_SECURITY_RULE_CATEGORY,
  ATTR_SECURITY_RULE_DESCRIPTION,
  ATTR_SECURITY_RULE_NAME,
  ATTR_SECURITY_RULE_REFERENCE,
  ATTR_SECURITY_RULE_RULESET_NAME,
  ATTR_SECURITY_RULE_UUID,
  ATTR_SECURITY_RULE_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_THREAD_ID,
  ATTR_USER_ID,
  ATTR_USER_NAME,
  PEREGRINE_FIELD_PREFIX,
  WORKLOAD_ATTR_CONTAINER_ID,
  WORKLOAD_ATTR_CONTAINER_IMAGE_NAME,
  WORKLOAD_ATTR_CONTAINER_NAME,
  WORKLOAD_ATTR_CONTAINER_RUNTIME_NAME,
  WORKLOAD_ATTR_K8S_CONTAINER_NAME,
  WORKLOAD_ATTR_K8S_NAMESPACE_NAME,
  WORKLOAD_ATTR_K8S_POD_NAME,
  WORKLOAD_ATTR_K8S_POD_UID,
} from "./semconv.js";
import { rfc3339Nano } from "./time.js";

export interface DetectionAttributeOptions {
  /**
   * Include process.command_line and process.command_args (sanitized, see
   * `sanitizer`). Default on: Falco's own outputs carry proc.cmdline.
   */
  includeCommandLine?: boolean;
  /** Cleans command lines and env values; default none (the sinks pass the configured one). */
  sanitizer?: Sanitizer;
  /**
   * Put the workload's container.* and k8s.* on the record: when the
   * resource is the sensor (otherwise they are on the resource).
   */
  workloadOnRecord?: boolean;
  /** Leave processAttributes() out (the OTLP sink adds them pre-encoded). */
  skipProcess?: boolean;
}

const AT_FDCWD = -100;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;

/** Output field names are a small closed set (those named in rule outputs): cache their keys. */
const fieldKeys = new Map<string, string>();

export function outputFieldKey(falcoName: string): string {
  let key = fieldKeys.get(falcoName);
  if (key === undefined) {
    key = PEREGRINE_FIELD_PREFIX + falcoName;
    fieldKeys.set(falcoName, key);
  }
  return key;
}

/**
 * OTLP has int64 but the JS SDK's AnyValue has no bigint: a bigint within the
 * exact range of a double becomes a number (sent as int_value), beyond it a
 * decimal string so no digit is lost.
 */
export function toAnyValue(value: FieldValue): AnyValue {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  return value;
}

/**
 * security_rule.category is one keyword; Falco rules carry no category key,
 * and their first tag is usually a maturity marker ("maturity_stable"). The
 * closest thing to a category is the MITRE ATT&CK tactic tag
 * ("mitre_credential_access"): the first tag starting with "mitre_", else none.
 */
export function ruleCategory(tags: readonly string[]): string | undefined {
  for (const tag of tags) if (tag.startsWith("mitre_")) return tag;
  return undefined;
}

/** The path the open was about, made absolute where the cwd tells us how. */
export function openedPath(event: OpenEvent, cwd: string | undefined): string {
  const { path } = event;
  if (path.startsWith("/") || path === "") return path;
  if (event.dirfd === AT_FDCWD && cwd !== undefined && cwd.startsWith("/")) return posix.resolve(cwd, path);
  return path; // relative to a directory fd we do not track: keep it as given
}

function transportOf(event: ConnectEvent): string | undefined {
  if (event.family === AF_UNIX) return "unix";
  if (event.protocol === IPPROTO_TCP) return "tcp";
  if (event.protocol === IPPROTO_UDP) return "udp";
  if (event.sockType === SOCK_STREAM) return "tcp";
  if (event.sockType === SOCK_DGRAM) return "udp";
  return undefined;
}

function addFileAttributes(attrs: LogAttributes, event: OpenEvent, cwd: string | undefined): void {
  const path = openedPath(event, cwd);
  if (path === "") return;
  attrs[ATTR_FILE_PATH] = path;
  attrs[ATTR_FILE_NAME] = posix.basename(path);
  if (path.startsWith("/")) attrs[ATTR_FILE_DIRECTORY] = posix.dirname(path);
}

/** Output fields whose text can carry secrets typed on a command line or set in the environment. */
function sensitiveField(name: string): "text" | "env" | undefined {
  if (name === "proc.env" || name.startsWith("proc.env[")) return "env";
  if (/cmdline|\.args\b|^evt\.args$|^evt\.arg/.test(name)) return "text";
  return undefined;
}

function addWorkloadAttributes(attrs: LogAttributes, process: ProcessInfo): void {
  const container = process.container;
  if (container.id === "" || container.id === "host") return;
  attrs[WORKLOAD_ATTR_CONTAINER_ID] = container.fullId !== "" ? container.fullId : container.id;
  if (container.name !== "") attrs[WORKLOAD_ATTR_CONTAINER_NAME] = container.name;
  if (container.image !== "") attrs[WORKLOAD_ATTR_CONTAINER_IMAGE_NAME] = container.image;
  if (container.runtime !== "") attrs[WORKLOAD_ATTR_CONTAINER_RUNTIME_NAME] = container.runtime;
  const k8s = container.k8s;
  if (k8s === undefined) return;
  if (k8s.namespace !== "") attrs[WORKLOAD_ATTR_K8S_NAMESPACE_NAME] = k8s.namespace;
  if (k8s.podName !== "") attrs[WORKLOAD_ATTR_K8S_POD_NAME] = k8s.podName;
  if (k8s.podUid !== "") attrs[WORKLOAD_ATTR_K8S_POD_UID] = k8s.podUid;
  if (k8s.containerName !== "") attrs[WORKLOAD_ATTR_K8S_CONTAINER_NAME] = k8s.containerName;
}

/**
 * A socket from the fd table, for events other than connect (accept,
 * sendto, …): the fd's role tells which end is the server.
 */
function addSocketAttributes(attrs: LogAttributes, fd: FdInfo): void {
  const inet = fd.type === "ipv4" || fd.type === "ipv6";
  if (!inet && fd.type !== "unix") return;
  if (fd.l4proto === "tcp" || fd.l4proto === "udp") attrs[ATTR_NETWORK_TRANSPORT] = fd.l4proto;
  else if (fd.type === "unix") attrs[ATTR_NETWORK_TRANSPORT] = "unix";
  if (inet) attrs[ATTR_NETWORK_TYPE] = fd.type;
  if (fd.remoteAddr !== "") {
    attrs[ATTR_NETWORK_PEER_ADDRESS] = fd.remoteAddr;
    if (inet) attrs[ATTR_NETWORK_PEER_PORT] = fd.remotePort;
  }
  if (inet && fd.localAddr !== "") {
    attrs[ATTR_NETWORK_LOCAL_ADDRESS] = fd.localAddr;
    attrs[ATTR_NETWORK_LOCAL_PORT] = fd.localPort;
  }
  // Direction known only when this process connected (client) or accepted (server).
  const [server, serverPort, client, clientPort] =
    fd.role === "client"
      ? [fd.remoteAddr, fd.remotePort, fd.localAddr, fd.localPort]
      : fd.role === "server"
        ? [fd.localAddr, fd.localPort, fd.remoteAddr, fd.remotePort]
        : ["", 0, "", 0];
  if (server !== "") {
    attrs[ATTR_SERVER_ADDRESS] = server;
    if (inet) attrs[ATTR_SERVER_PORT] = serverPort;
  }
  if (client !== "") {
    attrs[ATTR_CLIENT_ADDRESS] = client;
    if (inet) attrs[ATTR_CLIENT_PORT] = clientPort;
  }
}

function addNetworkAttributes(attrs: LogAttributes, event: ConnectEvent): void {
  const transport = transportOf(event);
  if (transport !== undefined) attrs[ATTR_NETWORK_TRANSPORT] = transport;
  if (event.family === AF_INET) attrs[ATTR_NETWORK_TYPE] = "ipv4";
  else if (event.family === AF_INET6) attrs[ATTR_NETWORK_TYPE] = "ipv6";
  // connect() makes this process the client: the destination is the server and the peer.
  if (event.daddr !== "") {
    attrs[ATTR_SERVER_ADDRESS] = event.daddr;
    attrs[ATTR_NETWORK_PEER_ADDRESS] = event.daddr;
  }
  if (event.family !== AF_UNIX) {
    attrs[ATTR_SERVER_PORT] = event.dport;
    attrs[ATTR_NETWORK_PEER_PORT] = event.dport;
    if (event.saddr !== "") {
      attrs[ATTR_NETWORK_LOCAL_ADDRESS] = event.saddr;
      attrs[ATTR_NETWORK_LOCAL_PORT] = event.sport;
      attrs[ATTR_CLIENT_ADDRESS] = event.saddr;
      attrs[ATTR_CLIENT_PORT] = event.sport;
    }
  }
}

/** process.creation.time per process, formatted once (a process raises many detections). */
const creationTimes = new WeakMap<ProcessInfo, { readonly ns: bigint; readonly text: string }>();

function creationTime(process: ProcessInfo): string {
  const cached = creationTimes.get(process);
  if (cached !== undefined && cached.ns === process.startNs) return cached.text;
  const text = rfc3339Nano(process.startNs);
  creationTimes.set(process, { ns: process.startNs, text });
  return text;
}

/**
 * The attributes of a detection's log record: semantic-convention names for
 * the rule, process, user, file and network; every output field under
 * `peregrine.field.<falco name>`; the rule's tags as `peregrine.rule.tags`.
 * Attributes with no known value are left out rather than sent empty.
 */
export function detectionAttributes(
  detection: Detection,
  options: DetectionAttributeOptions = {},
): LogAttributes {
  return { ...ruleAttributes(detection.rule), ...detectionOwnAttributes(detection, options) };
}

const ruleAttributeCache = new WeakMap<RuleInfo, LogAttributes>();

/**
 * The attributes that depend on the rule alone (security_rule.*, its tags
 * and source): the same for every detection of the rule, so the OTLP sink
 * encodes them once per rule.
 */
export function ruleAttributes(rule: RuleInfo): LogAttributes {
  let attrs = ruleAttributeCache.get(rule);
  if (attrs !== undefined) return attrs;
  const identity = ruleIdentity(rule);
  attrs = {
    [ATTR_SECURITY_RULE_NAME]: rule.name,
    [ATTR_SECURITY_RULE_UUID]: identity.uuid,
    [ATTR_SECURITY_RULE_VERSION]: identity.version,
    [ATTR_SECURITY_RULE_DESCRIPTION]: rule.desc,
    [ATTR_SECURITY_RULE_RULESET_NAME]: rule.rulesetName,
  };
  const category = ruleCategory(rule.tags);
  if (category !== undefined) attrs[ATTR_SECURITY_RULE_CATEGORY] = category;
  if (identity.reference !== undefined) attrs[ATTR_SECURITY_RULE_REFERENCE] = identity.reference;
  attrs[ATTR_PEREGRINE_RULE_TAGS] = [...rule.tags];
  attrs[ATTR_PEREGRINE_RULE_SOURCE] = rule.source;
  ruleAttributeCache.set(rule, attrs);
  return attrs;
}

/**
 * The attributes that depend on the process alone (process.*, user.*, and
 * the workload when it goes on the record): the OTLP sink encodes them once
 * per process state and reuses the bytes.
 */
export function processAttributes(
  process: ProcessInfo,
  users: UserLookup,
  options: DetectionAttributeOptions = {},
): LogAttributes {
  const sanitizer = options.sanitizer ?? NO_SANITIZER;
  const attrs: LogAttributes = {};
  if (process.ppid > 0) attrs[ATTR_PROCESS_PARENT_PID] = process.ppid;
  if (process.exePath !== "") {
    attrs[ATTR_PROCESS_EXECUTABLE_PATH] = process.exePath;
    attrs[ATTR_PROCESS_EXECUTABLE_NAME] = posix.basename(process.exePath);
  } else if (process.name !== "") {
    // No exe path (a kernel thread, or a process gone before /proc was read): comm is the best name left.
    attrs[ATTR_PROCESS_EXECUTABLE_NAME] = process.name;
  }
  if (process.argv.length > 0) {
    attrs[ATTR_PROCESS_ARGS_COUNT] = process.argv.length;
    if (options.includeCommandLine !== false) {
      const argv = sanitizer.argv(process.argv);
      attrs[ATTR_PROCESS_COMMAND_LINE] = argv.join(" ");
      attrs[ATTR_PROCESS_COMMAND_ARGS] = argv as string[];
    }
  }
  if (process.vpid > 0 && process.vpid !== process.pid) attrs[ATTR_PROCESS_VPID] = process.vpid;
  if (process.cwd !== "") attrs[ATTR_PROCESS_WORKING_DIRECTORY] = process.cwd;
  if (process.startNs > 0n) attrs[ATTR_PROCESS_CREATION_TIME] = creationTime(process);
  attrs[ATTR_PROCESS_INTERACTIVE] = process.tty !== 0;
  if (process.sid > 0) attrs[ATTR_PROCESS_SESSION_LEADER_PID] = process.sid;
  attrs[ATTR_PROCESS_USER_ID] = process.euid;
  attrs[ATTR_PROCESS_REAL_USER_ID] = process.uid;
  attrs[ATTR_USER_ID] = String(process.euid);
  const userName = users.userName(process.euid);
  if (userName !== undefined) {
    attrs[ATTR_PROCESS_USER_NAME] = userName;
    attrs[ATTR_USER_NAME] = userName;
  }
  if (options.workloadOnRecord === true) addWorkloadAttributes(attrs, process);
  return attrs;
}

/** Everything but ruleAttributes(): the event, process, user, file, network and output fields. */
export function detectionOwnAttributes(
  detection: Detection,
  options: DetectionAttributeOptions = {},
  /** Added to this object (the OTLP sink passes one already holding the rule's and process's). */
  attrs: LogAttributes = {},
): LogAttributes {
  const { event: enriched } = detection;
  const { event, process } = enriched;
  const sanitizer = options.sanitizer ?? NO_SANITIZER;
  attrs[ATTR_PEREGRINE_DETECTION_ID] = detectionId(detection);
  attrs[ATTR_PEREGRINE_EVENT_TYPE] = event.evtType;

  attrs[ATTR_PROCESS_PID] = event.tgid;
  attrs[ATTR_THREAD_ID] = event.tid;
  if (process !== undefined && options.skipProcess !== true) {
    Object.assign(attrs, processAttributes(process, enriched.users, options));
  }

  if (event.kind === "open") addFileAttributes(attrs, event, process?.cwd);
  else if (event.kind === "connect") addNetworkAttributes(attrs, event);
  else if (enriched.fd !== undefined) addSocketAttributes(attrs, enriched.fd);

  const fields = detection.outputFields;
  for (const name in fields) {
    const value = fields[name] as FieldValue;
    if (typeof value === "string" && sanitizer.enabled) {
      const kind = sensitiveField(name);
      attrs[outputFieldKey(name)] =
        kind === "env" ? sanitizer.envText(value) : kind === "text" ? sanitizer.text(value) : value;
    } else {
      attrs[outputFieldKey(name)] = toAnyValue(value);
    }
  }
  return attrs;
}

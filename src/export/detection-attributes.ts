import { posix } from "node:path";
import type { AnyValue, LogAttributes } from "@opentelemetry/api-logs";
import type { ConnectEvent, OpenEvent } from "../decode/events.js";
import type { Detection, FieldValue } from "../rules/detection.js";
import {
  ATTR_FILE_DIRECTORY,
  ATTR_FILE_NAME,
  ATTR_FILE_PATH,
  ATTR_NETWORK_LOCAL_ADDRESS,
  ATTR_NETWORK_LOCAL_PORT,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_TRANSPORT,
  ATTR_NETWORK_TYPE,
  ATTR_PEREGRINE_EVENT_TYPE,
  ATTR_PEREGRINE_RULE_SOURCE,
  ATTR_PEREGRINE_RULE_TAGS,
  ATTR_PROCESS_COMMAND_ARGS,
  ATTR_PROCESS_COMMAND_LINE,
  ATTR_PROCESS_EXECUTABLE_NAME,
  ATTR_PROCESS_EXECUTABLE_PATH,
  ATTR_PROCESS_PARENT_PID,
  ATTR_PROCESS_PID,
  ATTR_PROCESS_REAL_USER_ID,
  ATTR_PROCESS_USER_ID,
  ATTR_PROCESS_WORKING_DIRECTORY,
  ATTR_SECURITY_RULE_CATEGORY,
  ATTR_SECURITY_RULE_DESCRIPTION,
  ATTR_SECURITY_RULE_NAME,
  ATTR_SECURITY_RULE_RULESET_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_THREAD_ID,
  ATTR_USER_ID,
  ATTR_USER_NAME,
  PEREGRINE_FIELD_PREFIX,
} from "./semconv.js";

export interface DetectionAttributeOptions {
  /**
   * Include process.command_line and process.command_args. The semantic
   * conventions say not to collect them without sanitization; Falco's own
   * outputs carry proc.cmdline anyway, so the default is on and a user who
   * needs otherwise turns it off.
   */
  includeCommandLine?: boolean;
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
    }
  }
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
  const { rule, event: enriched } = detection;
  const { event, process } = enriched;
  const attrs: LogAttributes = {
    [ATTR_SECURITY_RULE_NAME]: rule.name,
    [ATTR_SECURITY_RULE_DESCRIPTION]: rule.desc,
    [ATTR_SECURITY_RULE_RULESET_NAME]: rule.rulesetName,
  };
  const category = ruleCategory(rule.tags);
  if (category !== undefined) attrs[ATTR_SECURITY_RULE_CATEGORY] = category;
  attrs[ATTR_PEREGRINE_RULE_TAGS] = [...rule.tags];
  attrs[ATTR_PEREGRINE_RULE_SOURCE] = rule.source;
  attrs[ATTR_PEREGRINE_EVENT_TYPE] = event.evtType;

  attrs[ATTR_PROCESS_PID] = event.tgid;
  attrs[ATTR_THREAD_ID] = event.tid;
  if (process !== undefined) {
    if (process.ppid > 0) attrs[ATTR_PROCESS_PARENT_PID] = process.ppid;
    if (process.exePath !== "") {
      attrs[ATTR_PROCESS_EXECUTABLE_PATH] = process.exePath;
      attrs[ATTR_PROCESS_EXECUTABLE_NAME] = posix.basename(process.exePath);
    } else if (process.name !== "") {
      // No exe path (a kernel thread, or a process gone before /proc was read): comm is the best name left.
      attrs[ATTR_PROCESS_EXECUTABLE_NAME] = process.name;
    }
    if (options.includeCommandLine !== false && process.argv.length > 0) {
      attrs[ATTR_PROCESS_COMMAND_LINE] = process.argv.join(" ");
      attrs[ATTR_PROCESS_COMMAND_ARGS] = [...process.argv];
    }
    if (process.cwd !== "") attrs[ATTR_PROCESS_WORKING_DIRECTORY] = process.cwd;
    attrs[ATTR_PROCESS_USER_ID] = process.euid;
    attrs[ATTR_PROCESS_REAL_USER_ID] = process.uid;
    attrs[ATTR_USER_ID] = String(process.euid);
    const userName = enriched.users.userName(process.euid);
    if (userName !== undefined) attrs[ATTR_USER_NAME] = userName;
  }

  if (event.kind === "open") addFileAttributes(attrs, event, process?.cwd);
  else if (event.kind === "connect") addNetworkAttributes(attrs, event);

  const fields = detection.outputFields;
  for (const name in fields) {
    attrs[outputFieldKey(name)] = toAnyValue(fields[name] as FieldValue);
  }
  return attrs;
}

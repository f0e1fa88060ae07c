/**
 * Attribute keys, from the OpenTelemetry semantic conventions (v1.44) where
 * one exists. Copied here rather than imported: most are still incubating,
 * and @opentelemetry/semantic-conventions suggests copying the few you use
 * (it is not a dependency of ours). Keys of our own live under `peregrine.`.
 */

// security_rule.* (development)
export const ATTR_SECURITY_RULE_NAME = "security_rule.name";
export const ATTR_SECURITY_RULE_DESCRIPTION = "security_rule.description";
export const ATTR_SECURITY_RULE_CATEGORY = "security_rule.category";
export const ATTR_SECURITY_RULE_RULESET_NAME = "security_rule.ruleset.name";

// process.* (release candidate); process.user.id is the EUID, an int.
export const ATTR_PROCESS_PID = "process.pid";
export const ATTR_PROCESS_PARENT_PID = "process.parent_pid";
export const ATTR_PROCESS_EXECUTABLE_PATH = "process.executable.path";
export const ATTR_PROCESS_EXECUTABLE_NAME = "process.executable.name";
export const ATTR_PROCESS_COMMAND_LINE = "process.command_line";
export const ATTR_PROCESS_COMMAND_ARGS = "process.command_args";
export const ATTR_PROCESS_WORKING_DIRECTORY = "process.working_directory";
export const ATTR_PROCESS_USER_ID = "process.user.id";
export const ATTR_PROCESS_REAL_USER_ID = "process.real_user.id";
export const ATTR_THREAD_ID = "thread.id";

// user.* — user.id is a string.
export const ATTR_USER_ID = "user.id";
export const ATTR_USER_NAME = "user.name";

// file.* (development)
export const ATTR_FILE_PATH = "file.path";
export const ATTR_FILE_NAME = "file.name";
export const ATTR_FILE_DIRECTORY = "file.directory";

// network.*, server.* (stable)
export const ATTR_NETWORK_TRANSPORT = "network.transport";
export const ATTR_NETWORK_TYPE = "network.type";
export const ATTR_NETWORK_PEER_ADDRESS = "network.peer.address";
export const ATTR_NETWORK_PEER_PORT = "network.peer.port";
export const ATTR_NETWORK_LOCAL_ADDRESS = "network.local.address";
export const ATTR_NETWORK_LOCAL_PORT = "network.local.port";
export const ATTR_SERVER_ADDRESS = "server.address";
export const ATTR_SERVER_PORT = "server.port";

// Resource
export const ATTR_SERVICE_NAME = "service.name";
export const ATTR_SERVICE_VERSION = "service.version";
export const ATTR_HOST_NAME = "host.name";

// Ours
/** The rule's tags, as a string array. */
export const ATTR_PEREGRINE_RULE_TAGS = "peregrine.rule.tags";
/** The rule's event source ("syscall"). */
export const ATTR_PEREGRINE_RULE_SOURCE = "peregrine.rule.source";
/** Falco's evt.type of the event that matched ("openat", "connect", "execve", …). */
export const ATTR_PEREGRINE_EVENT_TYPE = "peregrine.event.type";
/** Prefix of every output field, followed by its Falco name with dots kept: "peregrine.field.proc.name". */
export const PEREGRINE_FIELD_PREFIX = "peregrine.field.";

/** The LogRecord EventName of every detection (the `event.name` attribute is deprecated). */
export const DETECTION_EVENT_NAME = "peregrine.detection";

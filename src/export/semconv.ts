/**
 * Attribute keys, from the OpenTelemetry semantic conventions (v1.44) where
 * one exists. Copied here rather than imported: most are still incubating,
 * and @opentelemetry/semantic-conventions suggests copying the few you use
 * (it is not a dependency of ours). Keys of our own live under `peregrine.`.
 *
 * The constant's prefix says where the key appears, and attribute-catalog.ts
 * derives its lists from these prefixes (so a new constant is catalogued by
 * being declared here):
 * - `ATTR_`          on a detection's log record;
 * - `RESOURCE_ATTR_` on the resource;
 * - `WORKLOAD_ATTR_` the workload's container/k8s identity: on the resource
 *   when the resource is the workload (the default), on the log record when
 *   the resource is the sensor.
 */

// security_rule.* (development)
export const ATTR_SECURITY_RULE_NAME = "security_rule.name";
export const ATTR_SECURITY_RULE_UUID = "security_rule.uuid";
export const ATTR_SECURITY_RULE_DESCRIPTION = "security_rule.description";
export const ATTR_SECURITY_RULE_CATEGORY = "security_rule.category";
export const ATTR_SECURITY_RULE_RULESET_NAME = "security_rule.ruleset.name";
export const ATTR_SECURITY_RULE_VERSION = "security_rule.version";
export const ATTR_SECURITY_RULE_REFERENCE = "security_rule.reference";

// process.* (release candidate); process.user.id is the EUID, an int.
export const ATTR_PROCESS_PID = "process.pid";
export const ATTR_PROCESS_PARENT_PID = "process.parent_pid";
export const ATTR_PROCESS_VPID = "process.vpid";
export const ATTR_PROCESS_EXECUTABLE_PATH = "process.executable.path";
export const ATTR_PROCESS_EXECUTABLE_NAME = "process.executable.name";
export const ATTR_PROCESS_COMMAND_LINE = "process.command_line";
export const ATTR_PROCESS_COMMAND_ARGS = "process.command_args";
export const ATTR_PROCESS_ARGS_COUNT = "process.args_count";
export const ATTR_PROCESS_WORKING_DIRECTORY = "process.working_directory";
export const ATTR_PROCESS_CREATION_TIME = "process.creation.time";
export const ATTR_PROCESS_USER_ID = "process.user.id";
export const ATTR_PROCESS_USER_NAME = "process.user.name";
export const ATTR_PROCESS_REAL_USER_ID = "process.real_user.id";
export const ATTR_PROCESS_INTERACTIVE = "process.interactive";
export const ATTR_PROCESS_SESSION_LEADER_PID = "process.session_leader.pid";
export const ATTR_THREAD_ID = "thread.id";

// user.* — user.id is a string.
export const ATTR_USER_ID = "user.id";
export const ATTR_USER_NAME = "user.name";

// file.* (development)
export const ATTR_FILE_PATH = "file.path";
export const ATTR_FILE_NAME = "file.name";
export const ATTR_FILE_DIRECTORY = "file.directory";

// network.*, server.*, client.* (stable)
export const ATTR_NETWORK_TRANSPORT = "network.transport";
export const ATTR_NETWORK_TYPE = "network.type";
export const ATTR_NETWORK_PEER_ADDRESS = "network.peer.address";
export const ATTR_NETWORK_PEER_PORT = "network.peer.port";
export const ATTR_NETWORK_LOCAL_ADDRESS = "network.local.address";
export const ATTR_NETWORK_LOCAL_PORT = "network.local.port";
export const ATTR_SERVER_ADDRESS = "server.address";
export const ATTR_SERVER_PORT = "server.port";
export const ATTR_CLIENT_ADDRESS = "client.address";
export const ATTR_CLIENT_PORT = "client.port";

// The workload's identity (see the header for where these land).
export const WORKLOAD_ATTR_CONTAINER_ID = "container.id";
export const WORKLOAD_ATTR_CONTAINER_NAME = "container.name";
export const WORKLOAD_ATTR_CONTAINER_IMAGE_NAME = "container.image.name";
export const WORKLOAD_ATTR_CONTAINER_RUNTIME_NAME = "container.runtime.name";
export const WORKLOAD_ATTR_K8S_NAMESPACE_NAME = "k8s.namespace.name";
export const WORKLOAD_ATTR_K8S_POD_NAME = "k8s.pod.name";
export const WORKLOAD_ATTR_K8S_POD_UID = "k8s.pod.uid";
export const WORKLOAD_ATTR_K8S_CONTAINER_NAME = "k8s.container.name";

// Resource: the service (the workload's, or the sensor's), the host.
export const RESOURCE_ATTR_SERVICE_NAME = "service.name";
export const RESOURCE_ATTR_SERVICE_NAMESPACE = "service.namespace";
export const RESOURCE_ATTR_SERVICE_VERSION = "service.version";
export const RESOURCE_ATTR_SERVICE_INSTANCE_ID = "service.instance.id";
export const RESOURCE_ATTR_DEPLOYMENT_ENVIRONMENT_NAME = "deployment.environment.name";
export const RESOURCE_ATTR_DEPLOYMENT_ENVIRONMENT = "deployment.environment";
export const RESOURCE_ATTR_HOST_NAME = "host.name";
export const RESOURCE_ATTR_HOST_ID = "host.id";
export const RESOURCE_ATTR_HOST_ARCH = "host.arch";
export const RESOURCE_ATTR_OS_TYPE = "os.type";
export const RESOURCE_ATTR_K8S_NODE_NAME = "k8s.node.name";

// Ours
/** The rule's tags, as a string array. */
export const ATTR_PEREGRINE_RULE_TAGS = "peregrine.rule.tags";
/** The rule's event source ("syscall"). */
export const ATTR_PEREGRINE_RULE_SOURCE = "peregrine.rule.source";
/** Falco's evt.type of the event that matched ("openat", "connect", "execve", …). */
export const ATTR_PEREGRINE_EVENT_TYPE = "peregrine.event.type";
/** Unique id of one detection; the exemplar on peregrine_rule_matches_total carries the same. */
export const ATTR_PEREGRINE_DETECTION_ID = "peregrine.detection.id";
/** Prefix of every output field, followed by its Falco name with dots kept: "peregrine.field.proc.name". */
export const PEREGRINE_FIELD_PREFIX = "peregrine.field.";

/** The LogRecord EventName of every detection (the `event.name` attribute is deprecated). */
export const DETECTION_EVENT_NAME = "peregrine.detection";

/**
 * Every error a tool call can end with. Each is a `Schema.TaggedError` whose fields are safe to
 * show, and each carries its own public mapping: `code` and `failure`, the
 * `{code, message, hint?, impact?, details?}` shape of SPEC section 5. Nothing else is copied out:
 * no secrets, no stack traces. A new error is one class here plus its entry in `ToolError`.
 */
import * as Schema from "effect/Schema"

/** The codes no error class produces: the call ended without a typed failure. */
type CallCode = "CANCELLED" | "RATE_LIMITED" | "INTERNAL_ERROR" | "UNKNOWN_TOOL"

export type ErrorCode = ToolError["code"] | CallCode

export interface Failure {
  readonly code: ErrorCode
  readonly message: string
  readonly hint?: string
  readonly impact?: string
  readonly details?: Record<string, unknown>
}

/** What any error a tool fails with offers at the boundary (every class here; SSH's too). */
export interface PublicError {
  readonly _tag: string
  readonly failure: Failure
}

/** Optional fields that must be absent (not `undefined`) when not given. */
const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

const definedOnly = (record: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined))

/** A tool input failed its schema or a PVE format check. Nothing was sent. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  message: Schema.String,
  field: optional(Schema.String),
  issues: optional(Schema.Array(Schema.String)),
}) {
  get code() {
    return "INVALID_INPUT" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      details: definedOnly({ field: this.field, issues: this.issues }),
    }
  }
}

/** NANDI's "at least one field" guard on update tools. */
export class ToolInputRejected extends Schema.TaggedError<ToolInputRejected>()("ToolInputRejected", {
  message: Schema.String,
}) {
  get code() {
    return "TOOL_INPUT_REJECTED" as const
  }
  get failure(): Failure {
    return { code: this.code, message: this.message }
  }
}

export class UnknownNode extends Schema.TaggedError<UnknownNode>()("UnknownNode", {
  node: Schema.String,
  knownNodes: Schema.Array(Schema.String),
}) {
  override get message() {
    return `Unknown node '${this.node}'. Known nodes: ${this.knownNodes.join(", ") || "(none answered)"}`
  }
  get code() {
    return "UNKNOWN_NODE" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      hint: "Use pve_list_nodes to see the cluster's nodes, or omit node when a vmid identifies the guest.",
      details: { node: this.node, knownNodes: this.knownNodes },
    }
  }
}

/** The vmid is in no node's `/cluster/resources`. */
export class GuestNotFound extends Schema.TaggedError<GuestNotFound>()("GuestNotFound", {
  vmid: Schema.Number,
  guestType: optional(Schema.Literal("qemu", "lxc")),
}) {
  override get message() {
    const what = this.guestType === "lxc" ? "container" : this.guestType === "qemu" ? "VM" : "guest"
    return `No ${what} with vmid ${this.vmid} exists in the cluster`
  }
  get code() {
    return "GUEST_NOT_FOUND" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      hint: "Use pve_list_cluster_resources to see the guests that exist.",
      details: definedOnly({ vmid: this.vmid, type: this.guestType }),
    }
  }
}

const ProxmoxErrorCode = Schema.Literal(
  "PROXMOX_AUTH_FAILED",
  "PROXMOX_ACL_FORBIDDEN",
  "PROXMOX_NOT_FOUND",
  "PROXMOX_REQUEST_REJECTED",
  "PROXMOX_SERVER_ERROR",
  "PROXMOX_INVALID_RESPONSE",
  "NO_QUORUM",
  "GUEST_LOCKED",
  "CONNECTION_REFUSED",
  "DNS_RESOLUTION_FAILED",
  "HOST_UNREACHABLE",
  "TIMEOUT",
  "TLS_ERROR",
  "CONNECTION_RESET",
)
export type ProxmoxErrorCode = typeof ProxmoxErrorCode.Type

/**
 * A request to the Proxmox API failed. `message` keeps PVE's own reason and `errors` its
 * per-parameter map, so a model can correct itself.
 */
export class ProxmoxError extends Schema.TaggedError<ProxmoxError>()("ProxmoxError", {
  code: ProxmoxErrorCode,
  message: Schema.String,
  method: Schema.String,
  path: Schema.String,
  endpoint: Schema.String,
  status: optional(Schema.Number),
  errors: optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  hint: optional(Schema.String),
  /** True when the request provably never reached Proxmox (connect failed), so failover or a retry is safe. */
  notSent: optional(Schema.Boolean),
}) {
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      details: definedOnly({
        status: this.status,
        errors: this.errors,
        method: this.method,
        path: this.path,
        endpoint: this.endpoint,
      }),
    }
  }
}

/** A mutation got a 596 or lost its connection after sending: it may or may not have happened. */
export class OutcomeUnknown extends Schema.TaggedError<OutcomeUnknown>()("OutcomeUnknown", {
  message: Schema.String,
  method: Schema.String,
  path: Schema.String,
  endpoint: Schema.String,
}) {
  get code() {
    return "OUTCOME_UNKNOWN" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      hint: "The request may have been carried out. Re-read the object's state before trying again; do not resend blindly.",
      details: { method: this.method, path: this.path, endpoint: this.endpoint },
    }
  }
}

export const TaskResult = Schema.Struct({
  upid: Schema.String,
  node: Schema.String,
  status: Schema.Literal("stopped"),
  exitstatus: Schema.String,
  success: Schema.Boolean,
  warnings: Schema.Number,
  logTail: Schema.Array(Schema.String),
})
export interface TaskResult extends Schema.Schema.Type<typeof TaskResult> {}

export class TaskFailed extends Schema.TaggedError<TaskFailed>()("TaskFailed", { result: TaskResult }) {
  override get message() {
    return `Task ${this.result.upid} failed: ${this.result.exitstatus}`
  }
  get code() {
    return "TASK_FAILED" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      hint: "Read details.logTail (or pve_get_task_log) for the reason.",
      details: { ...this.result },
    }
  }
}

/** `wait: true` ran out before the task stopped; the task keeps running. */
export class TaskWaitTimeout extends Schema.TaggedError<TaskWaitTimeout>()("TaskWaitTimeout", {
  upid: Schema.String,
  node: Schema.String,
  timeoutSeconds: Schema.Number,
}) {
  override get message() {
    return `Task ${this.upid} was still running after ${this.timeoutSeconds} s; it keeps running on ${this.node}.`
  }
  get code() {
    return "TIMEOUT" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      hint: "The task keeps running: continue with pve_wait_task (or pve_get_task_status) using details.upid; do not start it again.",
      details: { upid: this.upid, node: this.node, timeoutSeconds: this.timeoutSeconds },
    }
  }
}

/**
 * Following a task failed (Proxmox stopped answering while we waited); the task itself may
 * still be running. Keeps the UPID so the caller checks on it instead of starting it again.
 */
export class TaskWaitFailed extends Schema.TaggedError<TaskWaitFailed>()("TaskWaitFailed", {
  upid: Schema.String,
  node: Schema.String,
  cause: Schema.Union(ProxmoxError, OutcomeUnknown, InvalidInput),
}) {
  override get message() {
    return `Lost track of task ${this.upid}: ${this.cause.message}`
  }
  get code() {
    return this.cause.code
  }
  get failure(): Failure {
    const cause = this.cause.failure
    return {
      ...cause,
      message: this.message,
      hint: "The task may still be running: check it with pve_get_task_status or pve_wait_task using details.upid before starting it again.",
      details: { ...cause.details, upid: this.upid, node: this.node },
    }
  }
}

export class ConfirmationRequired extends Schema.TaggedError<ConfirmationRequired>()("ConfirmationRequired", {
  message: Schema.String,
  hint: Schema.String,
  impact: Schema.String,
}) {
  get code() {
    return "CONFIRMATION_REQUIRED" as const
  }
  get failure(): Failure {
    return { code: this.code, message: this.message, hint: this.hint, impact: this.impact }
  }
}

/** A policy rule refused the call; `rule` names the setting (e.g. DENIED_OPERATIONS). */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  rule: Schema.String,
  message: Schema.String,
}) {
  get code() {
    return "FORBIDDEN" as const
  }
  get failure(): Failure {
    return { code: this.code, message: this.message, details: { rule: this.rule } }
  }
}

/** The target guest is protected by PVE_PROTECTED_VMIDS or PVE_PROTECTED_TAGS. */
export class ProtectedGuest extends Schema.TaggedError<ProtectedGuest>()("ProtectedGuest", {
  rule: Schema.Literal("PVE_PROTECTED_VMIDS", "PVE_PROTECTED_TAGS"),
  vmid: Schema.Number,
  tag: optional(Schema.String),
}) {
  override get message() {
    return this.tag === undefined
      ? `Guest ${this.vmid} is protected (PVE_PROTECTED_VMIDS): state-changing tools may not act on it.`
      : `Guest ${this.vmid} is protected by its tag '${this.tag}' (PVE_PROTECTED_TAGS): state-changing tools may not act on it.`
  }
  get code() {
    return "PROTECTED_GUEST" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      hint: "Protection is set by the server operator; read-only tools still work on this guest.",
      details: definedOnly({ rule: this.rule, vmid: this.vmid, tag: this.tag }),
    }
  }
}

/** The human declined or cancelled the confirmation; nothing was sent. */
export class ConfirmationDeclined extends Schema.TaggedError<ConfirmationDeclined>()("ConfirmationDeclined", {
  answer: Schema.Literal("decline", "cancel"),
}) {
  override get message() {
    return this.answer === "decline"
      ? "The operation was declined by the user; nothing was sent to Proxmox."
      : "The confirmation was cancelled; nothing was sent to Proxmox."
  }
  get code() {
    return "CONFIRMATION_DECLINED" as const
  }
  get failure(): Failure {
    return { code: this.code, message: this.message, details: { answer: this.answer } }
  }
}

/**
 * When an audit write failed: `before` anything was sent (nothing happened), after a `read`
 * (its result is withheld), or `after` a state-changing operation (it happened; its outcome is in
 * `details`).
 */
const AuditStage = Schema.Literal("before", "read", "after")
export type AuditStage = typeof AuditStage.Type

const auditHints: Record<AuditStage, string> = {
  before:
    "Nothing was sent to Proxmox: the server refuses to act without an audit record. Tell the operator.",
  read: "The read was carried out but could not be recorded, so its result is withheld. Tell the operator.",
  after:
    "The operation ran (its outcome is in details) but its completion could not be recorded. Tell the operator; re-read the state before acting again.",
}

/** The audit log could not be written (fail closed). */
export class AuditFailed extends Schema.TaggedError<AuditFailed>()("AuditFailed", {
  message: Schema.String,
  stage: AuditStage,
  details: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
}) {
  get code() {
    return "AUDIT_WRITE_FAILED" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      hint: auditHints[this.stage],
      details: { stage: this.stage, ...this.details },
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SSH (remote tools)

/** SSH is not configured, or PROXMOX_SSH_STRATEGY=disabled: nothing was attempted. */
export class SshDisabled extends Schema.TaggedError<SshDisabled>()("SshDisabled", {
  message: Schema.String,
}) {
  get code() {
    return "SSH_DISABLED" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      hint: "The operator enables remote tools with PROXMOX_SSH_HOST, PROXMOX_SSH_KEY_PATH and PROXMOX_SSH_KNOWN_HOSTS (or PROXMOX_SSH_HOST_FINGERPRINTS).",
    }
  }
}

const SshErrorCode = Schema.Literal(
  "SSH_HOST_KEY_REJECTED",
  "SSH_AUTH_FAILED",
  "SSH_ERROR",
  "CONNECTION_REFUSED",
  "DNS_RESOLUTION_FAILED",
  "HOST_UNREACHABLE",
  "CONNECTION_RESET",
  "TIMEOUT",
)

/**
 * An SSH connection or command failed. `stage` says how far it got: `connect` (nothing ran on
 * the host) or `command` (the command was started and may have had effects).
 */
export class SshError extends Schema.TaggedError<SshError>()("SshError", {
  code: SshErrorCode,
  message: Schema.String,
  host: Schema.String,
  stage: Schema.Literal("connect", "command"),
  hint: optional(Schema.String),
  /** Host-key refusals: unknown, changed or revoked, and the key's fingerprint. */
  reason: optional(Schema.String),
  fingerprint: optional(Schema.String),
}) {
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      details: definedOnly({
        host: this.host,
        stage: this.stage,
        reason: this.reason,
        fingerprint: this.fingerprint,
      }),
    }
  }
}

/** A Docker container name or id that is not one (NANDI's code). */
export class InvalidContainerName extends Schema.TaggedError<InvalidContainerName>()("InvalidContainerName", {
  containerName: Schema.String,
}) {
  override get message() {
    return `'${this.containerName.slice(0, 80)}' is not a Docker container name or id`
  }
  get code() {
    return "INVALID_CONTAINER_NAME" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      hint: "Use pve_docker_ps_in_container for the names: letters, digits, '_', '.' and '-', starting with a letter or digit.",
    }
  }
}

/** pve_run_remote_diagnostic runs only its fixed allow-list. */
export class DiagnosticNotAllowed extends Schema.TaggedError<DiagnosticNotAllowed>()("DiagnosticNotAllowed", {
  allowed: Schema.Array(Schema.String),
}) {
  override get message() {
    return "This command is not one of the allow-listed diagnostics"
  }
  get code() {
    return "DIAGNOSTIC_COMMAND_NOT_ALLOWED" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      hint: "Pass one of details.allowed exactly as written.",
      details: { allowed: this.allowed },
    }
  }
}

/** A fixed host command (a curated diagnostic) exited non-zero; its output tail is kept. */
export class RemoteCommandFailed extends Schema.TaggedError<RemoteCommandFailed>()("RemoteCommandFailed", {
  command: Schema.String,
  node: Schema.String,
  exitCode: Schema.NullOr(Schema.Number),
  stderr: Schema.String,
}) {
  override get message() {
    return `'${this.command}' on ${this.node} failed (exit ${this.exitCode ?? "none"}): ${this.stderr.slice(0, 300)}`
  }
  get code() {
    return "REMOTE_COMMAND_FAILED" as const
  }
  get failure(): Failure {
    return {
      code: this.code,
      message: this.message,
      details: { command: this.command, node: this.node, exitCode: this.exitCode },
    }
  }
}

/** Every error a tool call can end with: the one list to extend. */
export const ToolError = Schema.Union(
  InvalidInput,
  ToolInputRejected,
  UnknownNode,
  GuestNotFound,
  ProxmoxError,
  OutcomeUnknown,
  TaskFailed,
  TaskWaitTimeout,
  TaskWaitFailed,
  ConfirmationRequired,
  Forbidden,
  ProtectedGuest,
  ConfirmationDeclined,
  AuditFailed,
  SshDisabled,
  SshError,
  InvalidContainerName,
  DiagnosticNotAllowed,
  RemoteCommandFailed,
)
export type ToolError = typeof ToolError.Type

export const toFailure = (error: ToolError): Failure => error.failure

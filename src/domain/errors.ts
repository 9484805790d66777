/**
 * Every error a tool call can end with. Each is a tagged error inside the service; at the
 * boundary `toFailure` turns it into the public `{code, message, hint?, impact?, details?}`
 * shape (SPEC section 5). Only safe fields are copied out: no secrets, no stack traces.
 */
import { Data } from "effect"

export type ErrorCode =
  | "INVALID_INPUT"
  | "TOOL_INPUT_REJECTED"
  | "UNKNOWN_NODE"
  | "GUEST_NOT_FOUND"
  | "CONFIRMATION_REQUIRED"
  | "CONFIRMATION_DECLINED"
  | "FORBIDDEN"
  | "PROTECTED_GUEST"
  | "PROXMOX_AUTH_FAILED"
  | "PROXMOX_ACL_FORBIDDEN"
  | "PROXMOX_NOT_FOUND"
  | "PROXMOX_REQUEST_REJECTED"
  | "PROXMOX_SERVER_ERROR"
  | "PROXMOX_INVALID_RESPONSE"
  | "NO_QUORUM"
  | "GUEST_LOCKED"
  | "CONNECTION_REFUSED"
  | "DNS_RESOLUTION_FAILED"
  | "HOST_UNREACHABLE"
  | "TIMEOUT"
  | "TLS_ERROR"
  | "CONNECTION_RESET"
  | "OUTCOME_UNKNOWN"
  | "TASK_FAILED"
  | "CANCELLED"
  | "RATE_LIMITED"
  | "INTERNAL_ERROR"
  | "AUDIT_WRITE_FAILED"

export interface Failure {
  readonly code: ErrorCode
  readonly message: string
  readonly hint?: string
  readonly impact?: string
  readonly details?: Record<string, unknown>
}

/** A tool input failed its schema or a PVE format check. Nothing was sent. */
export class InvalidInput extends Data.TaggedError("InvalidInput")<{
  readonly message: string
  readonly field?: string
  readonly issues?: ReadonlyArray<string>
}> {}

/** NANDI's "at least one field" guard on update tools. */
export class ToolInputRejected extends Data.TaggedError("ToolInputRejected")<{ readonly message: string }> {}

export class UnknownNode extends Data.TaggedError("UnknownNode")<{
  readonly node: string
  readonly knownNodes: ReadonlyArray<string>
}> {
  override get message() {
    return `Unknown node '${this.node}'. Known nodes: ${this.knownNodes.join(", ") || "(none answered)"}`
  }
}

/** The vmid is in no node's `/cluster/resources`. */
export class GuestNotFound extends Data.TaggedError("GuestNotFound")<{
  readonly vmid: number
  readonly guestType?: "qemu" | "lxc"
}> {
  override get message() {
    const what = this.guestType === "lxc" ? "container" : this.guestType === "qemu" ? "VM" : "guest"
    return `No ${what} with vmid ${this.vmid} exists in the cluster`
  }
}

export type ProxmoxErrorCode = Extract<
  ErrorCode,
  | "PROXMOX_AUTH_FAILED"
  | "PROXMOX_ACL_FORBIDDEN"
  | "PROXMOX_NOT_FOUND"
  | "PROXMOX_REQUEST_REJECTED"
  | "PROXMOX_SERVER_ERROR"
  | "PROXMOX_INVALID_RESPONSE"
  | "NO_QUORUM"
  | "GUEST_LOCKED"
  | "CONNECTION_REFUSED"
  | "DNS_RESOLUTION_FAILED"
  | "HOST_UNREACHABLE"
  | "TIMEOUT"
  | "TLS_ERROR"
  | "CONNECTION_RESET"
>

/**
 * A request to the Proxmox API failed. `message` keeps PVE's own reason and `errors` its
 * per-parameter map, so a model can correct itself.
 */
export class ProxmoxError extends Data.TaggedError("ProxmoxError")<{
  readonly code: ProxmoxErrorCode
  readonly message: string
  readonly method: string
  readonly path: string
  readonly endpoint: string
  readonly status?: number
  readonly errors?: Readonly<Record<string, string>>
  readonly hint?: string
  /** True when the request provably never reached Proxmox (connect failed), so failover or a retry is safe. */
  readonly notSent?: boolean
}> {}

/** A mutation got a 596 or lost its connection after sending: it may or may not have happened. */
export class OutcomeUnknown extends Data.TaggedError("OutcomeUnknown")<{
  readonly message: string
  readonly method: string
  readonly path: string
  readonly endpoint: string
}> {}

export interface TaskResult {
  readonly upid: string
  readonly node: string
  readonly status: "stopped"
  readonly exitstatus: string
  readonly success: boolean
  readonly warnings: number
  readonly logTail: ReadonlyArray<string>
}

export class TaskFailed extends Data.TaggedError("TaskFailed")<{ readonly result: TaskResult }> {
  override get message() {
    return `Task ${this.result.upid} failed: ${this.result.exitstatus}`
  }
}

/** `wait: true` ran out before the task stopped; the task keeps running. */
export class TaskWaitTimeout extends Data.TaggedError("TaskWaitTimeout")<{
  readonly upid: string
  readonly node: string
  readonly timeoutSeconds: number
}> {}

/**
 * Following a task failed (Proxmox stopped answering while we waited); the task itself may
 * still be running. Keeps the UPID so the caller checks on it instead of starting it again.
 */
export class TaskWaitFailed extends Data.TaggedError("TaskWaitFailed")<{
  readonly upid: string
  readonly node: string
  readonly cause: ProxmoxError | OutcomeUnknown | InvalidInput
}> {
  override get message() {
    return `Lost track of task ${this.upid}: ${this.cause.message}`
  }
}

export class ConfirmationRequired extends Data.TaggedError("ConfirmationRequired")<{
  readonly message: string
  readonly hint: string
  readonly impact: string
}> {}

/** A policy rule refused the call; `rule` names the setting (e.g. DENIED_OPERATIONS). */
export class Forbidden extends Data.TaggedError("Forbidden")<{
  readonly rule: string
  readonly message: string
}> {}

/** The target guest is protected by PVE_PROTECTED_VMIDS or PVE_PROTECTED_TAGS. */
export class ProtectedGuest extends Data.TaggedError("ProtectedGuest")<{
  readonly rule: "PVE_PROTECTED_VMIDS" | "PVE_PROTECTED_TAGS"
  readonly vmid: number
  readonly tag?: string
}> {
  override get message() {
    return this.tag === undefined
      ? `Guest ${this.vmid} is protected (PVE_PROTECTED_VMIDS): state-changing tools may not act on it.`
      : `Guest ${this.vmid} is protected by its tag '${this.tag}' (PVE_PROTECTED_TAGS): state-changing tools may not act on it.`
  }
}

/** The human declined or cancelled the confirmation; nothing was sent. */
export class ConfirmationDeclined extends Data.TaggedError("ConfirmationDeclined")<{
  readonly answer: "decline" | "cancel"
}> {
  override get message() {
    return this.answer === "decline"
      ? "The operation was declined by the user; nothing was sent to Proxmox."
      : "The confirmation was cancelled; nothing was sent to Proxmox."
  }
}

/**
 * When an audit write failed: `before` anything was sent (nothing happened), after a `read`
 * (its result is withheld), or `after` a state-changing operation (it happened; its outcome is in
 * `details`).
 */
export type AuditStage = "before" | "read" | "after"

/** The audit log could not be written (fail closed). */
export class AuditFailed extends Data.TaggedError("AuditFailed")<{
  readonly message: string
  readonly stage: AuditStage
  readonly details: Readonly<Record<string, unknown>>
}> {}

export type ToolError =
  | InvalidInput
  | ToolInputRejected
  | UnknownNode
  | GuestNotFound
  | ProxmoxError
  | OutcomeUnknown
  | TaskFailed
  | TaskWaitTimeout
  | TaskWaitFailed
  | ConfirmationRequired
  | Forbidden
  | ProtectedGuest
  | ConfirmationDeclined
  | AuditFailed

const definedOnly = (record: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined))

export const toFailure = (error: ToolError): Failure => {
  switch (error._tag) {
    case "InvalidInput":
      return {
        code: "INVALID_INPUT",
        message: error.message,
        details: definedOnly({ field: error.field, issues: error.issues }),
      }
    case "ToolInputRejected":
      return { code: "TOOL_INPUT_REJECTED", message: error.message }
    case "UnknownNode":
      return {
        code: "UNKNOWN_NODE",
        message: error.message,
        hint: "Use pve_list_nodes to see the cluster's nodes, or omit node when a vmid identifies the guest.",
        details: { node: error.node, knownNodes: error.knownNodes },
      }
    case "GuestNotFound":
      return {
        code: "GUEST_NOT_FOUND",
        message: error.message,
        hint: "Use pve_list_cluster_resources to see the guests that exist.",
        details: definedOnly({ vmid: error.vmid, type: error.guestType }),
      }
    case "ProxmoxError":
      return definedOnly({
        code: error.code,
        message: error.message,
        hint: error.hint,
        details: definedOnly({
          status: error.status,
          errors: error.errors,
          method: error.method,
          path: error.path,
          endpoint: error.endpoint,
        }),
      }) as unknown as Failure
    case "OutcomeUnknown":
      return {
        code: "OUTCOME_UNKNOWN",
        message: error.message,
        hint: "The request may have been carried out. Re-read the object's state before trying again; do not resend blindly.",
        details: { method: error.method, path: error.path, endpoint: error.endpoint },
      }
    case "TaskFailed":
      return {
        code: "TASK_FAILED",
        message: error.message,
        hint: "Read details.logTail (or pve_get_task_log) for the reason.",
        details: { ...error.result },
      }
    case "TaskWaitTimeout":
      return {
        code: "TIMEOUT",
        message: `Task ${error.upid} was still running after ${error.timeoutSeconds} s; it keeps running on ${error.node}.`,
        hint: "The task keeps running: continue with pve_wait_task (or pve_get_task_status) using details.upid; do not start it again.",
        details: { upid: error.upid, node: error.node, timeoutSeconds: error.timeoutSeconds },
      }
    case "TaskWaitFailed": {
      const cause = toFailure(error.cause)
      return {
        ...cause,
        message: error.message,
        hint: "The task may still be running: check it with pve_get_task_status or pve_wait_task using details.upid before starting it again.",
        details: { ...cause.details, upid: error.upid, node: error.node },
      }
    }
    case "ConfirmationRequired":
      return { code: "CONFIRMATION_REQUIRED", message: error.message, hint: error.hint, impact: error.impact }
    case "Forbidden":
      return { code: "FORBIDDEN", message: error.message, details: { rule: error.rule } }
    case "ProtectedGuest":
      return {
        code: "PROTECTED_GUEST",
        message: error.message,
        hint: "Protection is set by the server operator; read-only tools still work on this guest.",
        details: definedOnly({ rule: error.rule, vmid: error.vmid, tag: error.tag }),
      }
    case "ConfirmationDeclined":
      return { code: "CONFIRMATION_DECLINED", message: error.message, details: { answer: error.answer } }
    case "AuditFailed":
      return {
        code: "AUDIT_WRITE_FAILED",
        message: error.message,
        hint:
          error.stage === "before"
            ? "Nothing was sent to Proxmox: the server refuses to act without an audit record. Tell the operator."
            : error.stage === "read"
              ? "The read was carried out but could not be recorded, so its result is withheld. Tell the operator."
              : "The operation ran (its outcome is in details) but its completion could not be recorded. Tell the operator; re-read the state before acting again.",
        details: { stage: error.stage, ...error.details },
      }
  }
}

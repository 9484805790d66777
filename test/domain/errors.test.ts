import { describe, expect, expectTypeOf, it } from "vitest"
import {
  AuditFailed,
  type ErrorCode,
  GuestNotFound,
  InvalidInput,
  OutcomeUnknown,
  ProxmoxError,
  TaskWaitFailed,
  TaskWaitTimeout,
  toFailure,
} from "../../src/domain/errors.js"

const rejected = new ProxmoxError({
  code: "PROXMOX_REQUEST_REJECTED",
  message: "parameter verification failed",
  method: "POST",
  path: "/nodes/pve1/qemu",
  endpoint: "pve1",
  status: 400,
  errors: { vmid: "invalid format" },
  hint: "Fix the parameters named in details.errors.",
  notSent: false,
})
const timedOut = new ProxmoxError({
  code: "TIMEOUT",
  message: "no answer",
  method: "GET",
  path: "/x",
  endpoint: "pve1",
})

describe("the public failure of each error", () => {
  it("derives ErrorCode from the error classes plus the codes of calls without a typed failure", () => {
    expectTypeOf<ErrorCode>().toEqualTypeOf<
      | "INVALID_INPUT"
      | "UNKNOWN_TOOL"
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
      | "SSH_DISABLED"
      | "SSH_HOST_KEY_REJECTED"
      | "SSH_AUTH_FAILED"
      | "SSH_ERROR"
      | "INVALID_CONTAINER_NAME"
      | "DIAGNOSTIC_COMMAND_NOT_ALLOWED"
      | "REMOTE_COMMAND_FAILED"
      | "CANCELLED"
      | "RATE_LIMITED"
      | "INTERNAL_ERROR"
      | "AUDIT_WRITE_FAILED"
    >()
  })

  it("keeps PVE's reason and errors map and never copies notSent out", () => {
    expect(toFailure(rejected)).toStrictEqual({
      code: "PROXMOX_REQUEST_REJECTED",
      message: "parameter verification failed",
      hint: "Fix the parameters named in details.errors.",
      details: {
        status: 400,
        errors: { vmid: "invalid format" },
        method: "POST",
        path: "/nodes/pve1/qemu",
        endpoint: "pve1",
      },
    })
  })

  it("omits absent fields instead of sending undefined", () => {
    expect(toFailure(timedOut)).toStrictEqual({
      code: "TIMEOUT",
      message: "no answer",
      details: { method: "GET", path: "/x", endpoint: "pve1" },
    })
    expect(toFailure(new GuestNotFound({ vmid: 100 })).details).toStrictEqual({ vmid: 100 })
    expect(toFailure(new InvalidInput({ message: "Invalid input" }))).toStrictEqual({
      code: "INVALID_INPUT",
      message: "Invalid input",
      details: {},
    })
  })

  it("reports a lost task with its cause's code and details plus the UPID", () => {
    const lost = (cause: ProxmoxError | OutcomeUnknown | InvalidInput) =>
      toFailure(new TaskWaitFailed({ upid: "UPID:pve1:x", node: "pve1", cause }))
    expect(lost(timedOut)).toStrictEqual({
      code: "TIMEOUT",
      message: "Lost track of task UPID:pve1:x: no answer",
      hint: "The task may still be running: check it with pve_get_task_status or pve_wait_task using details.upid before starting it again.",
      details: { method: "GET", path: "/x", endpoint: "pve1", upid: "UPID:pve1:x", node: "pve1" },
    })
    expect(
      lost(new OutcomeUnknown({ message: "reset", method: "POST", path: "/y", endpoint: "pve1" })).code,
    ).toBe("OUTCOME_UNKNOWN")
    expect(lost(new InvalidInput({ message: "bad upid", field: "upid" })).details).toStrictEqual({
      field: "upid",
      upid: "UPID:pve1:x",
      node: "pve1",
    })
  })

  it("gives a timed-out wait the same message as its failure", () => {
    const error = new TaskWaitTimeout({ upid: "UPID:pve1:x", node: "pve1", timeoutSeconds: 30 })
    expect(error.message).toBe("Task UPID:pve1:x was still running after 30 s; it keeps running on pve1.")
    expect(toFailure(error).message).toBe(error.message)
  })

  it("tells by stage whether an unaudited call happened", () => {
    const failure = (stage: "before" | "read" | "after") =>
      toFailure(new AuditFailed({ message: "disk full", stage, details: { upid: "U" } }))
    expect(failure("before").hint).toMatch(/^Nothing was sent/)
    expect(failure("read").hint).toMatch(/result is withheld/)
    expect(failure("after")).toMatchObject({
      code: "AUDIT_WRITE_FAILED",
      details: { stage: "after", upid: "U" },
    })
  })

  it("refuses unsafe fields when an error is built", () => {
    expect(() => new GuestNotFound({ vmid: "100" as unknown as number })).toThrow()
  })
})

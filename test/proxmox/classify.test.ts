import { describe, expect, it } from "vitest"
import { classifyStatus } from "../../src/proxmox/api.js"

// Every status and reason family of WIRE.md 2.3 / 2.6, with the code a model sees.
describe("classifyStatus", () => {
  it.each([
    [400, "Parameter verification failed.", "PROXMOX_REQUEST_REJECTED"],
    [401, "authentication failure", "PROXMOX_AUTH_FAILED"],
    [401, "No ticket", "PROXMOX_AUTH_FAILED"],
    [403, "Permission check failed (/vms/100, VM.PowerMgmt)", "PROXMOX_ACL_FORBIDDEN"],
    [500, "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist", "PROXMOX_NOT_FOUND"],
    [500, "no such user ('x@pve')", "PROXMOX_NOT_FOUND"],
    [
      500,
      "hostname lookup 'x' failed - failed to get address info for: x: Name or service not known",
      "PROXMOX_NOT_FOUND",
    ],
    [500, "cluster not ready - no quorum?", "NO_QUORUM"],
    [500, "cfs-lock 'storage-rbd' error: no quorum!", "NO_QUORUM"],
    [500, "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout", "GUEST_LOCKED"],
    [500, "cfs-lock 'storage-rbd' error: got lock request timeout", "GUEST_LOCKED"],
    [500, "VM is locked (backup)", "GUEST_LOCKED"],
    [500, "create user failed: user 'x' already exists", "PROXMOX_SERVER_ERROR"],
    [500, "VM 100 not running", "PROXMOX_SERVER_ERROR"],
    [501, "Method 'GET /nodes/pve/foo' not implemented", "PROXMOX_REQUEST_REJECTED"],
    [506, "upload 'Content-Type 'text/plain'' not implemented", "PROXMOX_SERVER_ERROR"],
    [595, "Connection refused", "HOST_UNREACHABLE"],
    [596, "Connection timed out", "TIMEOUT"],
    [597, "body error", "PROXMOX_SERVER_ERROR"],
  ] as const)("%i %s -> %s", (status, reason, code) => {
    expect(classifyStatus(status, reason).code).toBe(code)
  })

  it("403 explains privilege separation", () => {
    expect(classifyStatus(403, "Permission check failed").hint).toMatch(/privilege separation/)
  })
})

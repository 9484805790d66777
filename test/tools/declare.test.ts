/** Declaration mistakes that types cannot catch fail when the tool is declared, not at a call. */
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { StorageId, UserId } from "../../src/domain/ids.js"
import { nodeField } from "../../src/tools/common.js"
import * as Endpoint from "../../src/tools/endpoint.js"
import * as Tool from "../../src/tools/tool.js"

describe("tool declarations", () => {
  it("a read-only tool that would write is refused", () => {
    expect(() =>
      Tool.make({
        name: "pve_sneaky",
        title: "Sneaky",
        description: "Claims to read but stops a VM.",
        category: "qemu",
        tier: "read-only",
        input: {},
        endpoints: [Endpoint.post("/nodes/{node}/qemu/{vmid}/status/stop")],
        targets: () => [],
        run: () => Effect.succeed({ data: null }),
      }),
    ).toThrow(/read-only tool cannot POST/)
  })

  it("a path placeholder without an input field is refused", () => {
    expect(() =>
      Tool.request({
        name: "pve_storage_without_field",
        title: "Storage",
        description: "Forgets the storage field.",
        category: "storage",
        tier: "read-only",
        endpoint: Endpoint.get("/nodes/{node}/storage/{storage}/status"),
        input: { node: nodeField },
      }),
    ).toThrow(/\{storage\}.*no input field/)
  })

  it("an /access path is an Access target with its concrete path, so resource patterns apply", () => {
    const tool = Tool.request({
      name: "pve_get_user_probe",
      title: "User",
      description: "One user of the access control list.",
      category: "access",
      tier: "read-only",
      endpoint: Endpoint.get("/access/users/{userid}"),
      input: { userid: UserId },
    })
    expect(tool.targets({ userid: "alice@pve" })).toEqual([
      { _tag: "Access", path: "/access/users/alice@pve" },
    ])
  })

  it("a storage path is a Storage target", () => {
    const tool = Tool.request({
      name: "pve_storage_probe",
      title: "Storage",
      description: "One storage's status on a node.",
      category: "storage",
      tier: "read-only",
      endpoint: Endpoint.get("/nodes/{node}/storage/{storage}/status"),
      input: { node: nodeField, storage: StorageId },
    })
    expect(tool.targets({ node: "pve1", storage: "local" })).toEqual([
      { _tag: "Storage", storage: "local", node: "pve1" },
    ])
  })

  it("a task-starting answer that is no UPID is PROXMOX_INVALID_RESPONSE, never a made-up id", () => {
    const start = Endpoint.post("/nodes/{node}/qemu/{vmid}/status/start")
    const upid = "UPID:pve1:000CFC5C:03E8D0C3:6194806C:qmstart:100:root@pam:"
    expect(Effect.runSync(Tool.startedUpid(upid, start, "pve1"))).toBe(upid)
    for (const answer of [null, undefined, "", "OK", 42]) {
      const error = Effect.runSync(Effect.flip(Tool.startedUpid(answer, start, "pve1")))
      expect(error.failure).toMatchObject({ code: "PROXMOX_INVALID_RESPONSE" })
    }
  })
})

import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { buildPath } from "../../src/proxmox/path.js"

describe("buildPath", () => {
  it("encodes every value as exactly one segment", () => {
    expect(
      Either.getOrThrow(
        buildPath("/nodes/{node}/tasks/{upid}/status", { node: "pve1", upid: "UPID:pve1:a/b:" }),
      ),
    ).toBe("/nodes/pve1/tasks/UPID%3Apve1%3Aa%2Fb%3A/status")
    expect(Either.getOrThrow(buildPath("/storage/{storage}", { storage: "%2F" }))).toBe("/storage/%252F")
  })

  it.each(["", ".", ".."])("refuses the value %j", (value) => {
    const result = buildPath("/nodes/{node}/qemu/{vmid}/snapshot/{snapname}", {
      node: "pve1",
      vmid: 100,
      snapname: value,
    })
    expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "InvalidInput", field: "snapname" })
  })

  it("refuses a placeholder without a value instead of sending {node}", () => {
    const result = buildPath("/nodes/{node}/status", {})
    expect(Either.isLeft(result) && result.left).toMatchObject({
      _tag: "InvalidInput",
      field: "node",
      message: "node is required",
    })
  })
})

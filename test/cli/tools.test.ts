import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { renderPermissions } from "../../src/cli/permissions.js"
import { renderTools } from "../../src/cli/tools.js"
import { builtin } from "../../src/tools/catalog.js"
import { runCli } from "../support/cli.js"

const entries = builtin.entries

const cli = runCli

describe("proxmox-mcp tools", () => {
  it("--all --json prints every name with the documented fields", async () => {
    const result = await cli(["tools", "--all", "--json"])
    expect(result.status).toBe(0)
    const rows = JSON.parse(result.stdout) as Array<Record<string, unknown>>
    expect(rows.map((r) => r.name)).toEqual(entries.map((e) => e.name))
    const start = rows.find((r) => r.name === "pve_start_qemu_vm")!
    expect(start).toEqual({
      name: "pve_start_qemu_vm",
      title: "Start VM",
      category: "qemu",
      tier: "read-execute",
      module: "core",
      destructive: true,
      confirmRequired: false,
      idempotent: false,
      aliasFor: null,
      deprecated: false,
      endpoints: [
        { method: "GET", path: "/nodes/{node}/qemu/{vmid}/status/current" },
        { method: "POST", path: "/nodes/{node}/qemu/{vmid}/status/start" },
      ],
      ssh: null,
    })
    expect(rows.find((r) => r.name === "startVM")).toMatchObject({
      aliasFor: "pve_start_qemu_vm",
      deprecated: true,
    })
  })

  it("without --all shows only what the policy exposes (read-only by default)", async () => {
    const rows = JSON.parse((await cli(["tools", "--json"])).stdout) as Array<{ tier: string }>
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.every((r) => r.tier === "read-only")).toBe(true)
    const full = JSON.parse(
      (await cli(["tools", "--json"], { PVE_ACCESS_TIER: "full" })).stdout,
    ) as Array<unknown>
    expect(full).toHaveLength(entries.length)
  })

  it("an invalid policy value is an error naming the variable", async () => {
    const result = await cli(["tools"], { PVE_ACCESS_TIER: "root" })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain("PVE_ACCESS_TIER")
  })

  it("docs/tools.md is the generated catalog", async () => {
    const docs = fs.readFileSync(path.resolve(import.meta.dirname, "../../docs/tools.md"), "utf8")
    expect(docs).toContain(renderTools(entries, "markdown"))
  })

  it("docs/PERMISSIONS.md is the generated privilege table", () => {
    const docs = fs.readFileSync(path.resolve(import.meta.dirname, "../../docs/PERMISSIONS.md"), "utf8")
    expect(docs).toBe(renderPermissions(entries))
  })

  it("an unknown command or option is a usage error", async () => {
    expect((await cli(["frobnicate"])).status).toBe(2)
    expect((await cli(["tools", "--bogus"])).status).toBe(2)
  })
})

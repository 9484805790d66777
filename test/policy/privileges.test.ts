/**
 * The privilege table (`src/policy/privileges.ts`) against the official PVE API schema's
 * permission annotations, for every endpoint in it and every endpoint a tool uses. Needs
 * `../shared/reference/pve-api/pve-api-schema.json` (skipped cleanly without it; CI has it).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  ENDPOINT_PRIVILEGES,
  requirementsOf,
  rolePrivileges,
  shortfalls,
  unknownEndpoints,
} from "../../src/policy/privileges.js"
import { builtin } from "../../src/tools/catalog.js"

const SCHEMA = path.resolve(import.meta.dirname, "../../../shared/reference/pve-api/pve-api-schema.json")
const haveSchema = fs.existsSync(SCHEMA)

interface SchemaNode {
  readonly path: string
  readonly info?: Record<
    string,
    {
      readonly permissions?: {
        readonly check?: unknown
        readonly description?: string
        readonly user?: string
      }
    }
  >
  readonly children?: ReadonlyArray<SchemaNode>
}

const permissionsOf = (): Map<string, { check?: unknown; description?: string; user?: string }> => {
  const out = new Map<string, { check?: unknown; description?: string; user?: string }>()
  const walk = (node: SchemaNode) => {
    for (const [method, info] of Object.entries(node.info ?? {}))
      out.set(`${method} ${node.path}`, info.permissions ?? {})
    for (const child of node.children ?? []) walk(child)
  }
  for (const node of JSON.parse(fs.readFileSync(SCHEMA, "utf8")) as ReadonlyArray<SchemaNode>) walk(node)
  return out
}

interface PermNode {
  readonly path: string
  readonly privileges: ReadonlyArray<string>
  readonly any: boolean
  /** Under an `or`: one alternative among others, so the table may pick another. */
  readonly optional: boolean
}

/** The `["perm", path, [privs], "any"?]` nodes of a check, through `and` / `or`. */
const permNodes = (check: unknown, optional = false): ReadonlyArray<PermNode> => {
  if (!Array.isArray(check) || check.length === 0) return []
  const [head, ...rest] = check as [unknown, ...Array<unknown>]
  if (head === "perm") {
    return [
      {
        path: String(rest[0]),
        privileges: (rest[1] as ReadonlyArray<string>) ?? [],
        any: rest.slice(2).includes("any"),
        optional,
      },
    ]
  }
  if (head === "and") return rest.flatMap((c) => permNodes(c, optional))
  if (head === "or") return rest.flatMap((c) => permNodes(c, true))
  return []
}

/** Privilege names a check or a description mentions. */
const mentioned = (permissions: { check?: unknown; description?: string }) => {
  const names = new Set<string>()
  for (const match of JSON.stringify(permissions.check ?? null).matchAll(/"([A-Z][a-zA-Z]+\.[A-Za-z.]+)"/g))
    names.add(match[1]!)
  for (const match of (permissions.description ?? "").matchAll(/([A-Z][a-zA-Z]+\.[A-Z][A-Za-z.]*[a-z])/g))
    names.add(match[1]!)
  return names
}

/**
 * Entries whose privileges the schema does not spell out for that endpoint, each with the reason.
 * Kept short: everything else must be the schema's own.
 */
const INTERPRETED: Readonly<Record<string, string>> = {
  "GET /cluster/resources": "lists only the guests the token holds VM.Audit on (PVE filters per object)",
  "GET /nodes/{node}/tasks/{upid}/log": "the description names Sys.Audit for tasks of others",
  "POST /nodes/{node}/vzdump": "the description names VM.Backup and Datastore.AllocateSpace",
  "GET /nodes/{node}/qemu/{vmid}/snapshot": "filtered like the config: VM.Audit",
  "GET /nodes/{node}/lxc/{vmid}/snapshot": "filtered like the config: VM.Audit",
  "GET /cluster/replication": "lists jobs of guests with VM.Audit",
  "GET /access/acl": "the ACL list shows what the token may audit on /access",
  "POST /nodes/{node}/storage/{storage}/download-url": "the description names both",
  "PUT /access/acl": "perm-modify on the ACL's path means Permissions.Modify there",
}

describe.skipIf(!haveSchema)("privilege table vs. the PVE API schema", () => {
  const schema = haveSchema ? permissionsOf() : new Map()

  it("knows every endpoint a built-in tool uses", () => {
    expect(unknownEndpoints(builtin.entries.map((e) => e.tool))).toEqual([])
  })

  it("names only real endpoints", () => {
    expect(Object.keys(ENDPOINT_PRIVILEGES).filter((key) => !schema.has(key))).toEqual([])
  })

  it("holds every privilege the schema's checks require, on the same path", () => {
    const problems: Array<string> = []
    for (const [key, checks] of Object.entries(ENDPOINT_PRIVILEGES)) {
      const permissions = schema.get(key)
      if (permissions === undefined) continue
      for (const node of permNodes(permissions.check)) {
        if (node.optional) continue
        const match = checks.find((c) => c.path === node.path)
        if (match === undefined) {
          problems.push(`${key}: the schema checks ${node.privileges.join("|")} on ${node.path}`)
          continue
        }
        if (node.any !== (match.any === true)) problems.push(`${key}: 'any' differs on ${node.path}`)
        const missing = node.privileges.filter((p) => !match.privileges.includes(p))
        if (missing.length > 0) problems.push(`${key}: ${missing.join(", ")} missing on ${node.path}`)
      }
    }
    expect(problems).toEqual([])
  })

  it("holds no privilege the schema does not name for that endpoint (or says why)", () => {
    const problems: Array<string> = []
    for (const [key, checks] of Object.entries(ENDPOINT_PRIVILEGES)) {
      const permissions = schema.get(key)
      if (permissions === undefined || INTERPRETED[key] !== undefined) continue
      const named = mentioned(permissions)
      for (const privilege of checks.flatMap((c) => c.privileges)) {
        if (!named.has(privilege)) problems.push(`${key}: ${privilege} is not in the schema's permissions`)
      }
    }
    expect(problems).toEqual([])
  })
})

describe("derived requirements", () => {
  const tools = builtin.entries.filter((e) => e.aliasFor === undefined).map((e) => e.tool)
  const byTier = (tier: string) =>
    tools.filter(
      (t) =>
        ["read-only", "read-execute", "full"].indexOf(t.tier) <=
        ["read-only", "read-execute", "full"].indexOf(tier),
    )

  it("grow with the tier: read-execute adds power management, full adds more", () => {
    const readOnly = rolePrivileges(byTier("read-only"))
    const execute = rolePrivileges(byTier("read-execute"))
    expect(readOnly).toContain("VM.Audit")
    expect(readOnly).not.toContain("VM.PowerMgmt")
    expect(execute).toContain("VM.PowerMgmt")
    expect(execute).toEqual(expect.arrayContaining([...readOnly]))
    expect(rolePrivileges(byTier("full"))).toEqual(expect.arrayContaining([...execute]))
  })

  it("a grant on / or on the subtree covers a requirement; one on a single guest is reported as partial", () => {
    const needed = requirementsOf(byTier("read-execute"))
    const power = needed.find((r) => r.privilege === "VM.PowerMgmt")!
    expect(power.path).toBe("/vms")
    expect(power.tools).toContain("pve_start_qemu_vm")
    const everything = Object.fromEntries(needed.map((r) => [r.privilege, 1]))
    expect(shortfalls(needed, { "/": everything })).toEqual([])
    expect(
      shortfalls(needed, { "/": { ...everything, "VM.PowerMgmt": undefined as never } }).map(
        (s) => s.requirement.privilege,
      ),
    ).toEqual(["VM.PowerMgmt"])
    const { "VM.PowerMgmt": _drop, ...withoutPower } = everything
    const partial = shortfalls(needed, { "/": withoutPower, "/vms/100": { "VM.PowerMgmt": 1 } })
    expect(partial).toHaveLength(1)
    expect(partial[0]!.onlyOn).toEqual(["/vms/100"])
    expect(shortfalls(needed, { "/": withoutPower, "/vms": { "VM.PowerMgmt": 1 } })).toEqual([])
  })
})

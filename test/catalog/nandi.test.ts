/**
 * NANDI compatibility of catalog part 1: every NANDI tool of the categories qemu, lxc, backup,
 * templates, storage, tasks and nodes (and the monitoring rows of guest agent and guest metrics)
 * exists under its name, with NANDI's tier, module, confirm flag and destructive flag, except
 * where `nandiDifferences` (rendered into docs/tools.md) says why not. Reads NANDI's catalog from
 * ../shared; skips when it is absent.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { builtin } from "../../src/tools/catalog.js"
import { nandiDifferences } from "../../src/tools/nandi-differences.js"

const NANDI_CATALOG = path.resolve(import.meta.dirname, "../../../shared/reference/nandi-catalog.md")
const PART1_CATEGORIES = new Set(["qemu", "lxc", "backup", "templates", "storage", "tasks", "nodes"])
/** Monitoring rows this part owns: the guest agent and the QEMU/LXC metrics. */
const PART1_MONITORING = /^pve_get_qemu_agent_|^pve_get_(qemu|lxc)_metrics_/

interface NandiRow {
  readonly name: string
  readonly category: string
  readonly tier: string
  readonly destructive: boolean
  readonly confirm: boolean
  readonly module: string
  readonly aliases: ReadonlyArray<string>
}

const rows = (): ReadonlyArray<NandiRow> =>
  fs
    .readFileSync(NANDI_CATALOG, "utf8")
    .split("\n")
    .filter((line) => /^\| \d+ \|/.test(line))
    .map((line) => {
      const cells = line.split(" | ").map((cell) => cell.replace(/^\|\s*|\s*\|$/g, "").trim())
      const aliases = (cells[9] ?? "").split(",").map((a) => a.trim())
      return {
        name: cells[1]!,
        category: cells[2]!,
        tier: cells[3]!,
        destructive: cells[4] === "Y",
        confirm: cells[5]!.includes("Y"),
        module: cells[6] === "adv" ? "advanced" : "core",
        aliases: aliases.filter((a) => /^[a-zA-Z]+$/.test(a)),
      }
    })

describe.skipIf(!fs.existsSync(NANDI_CATALOG))("NANDI catalog, part 1 (skipped without ../shared)", () => {
  const mine = () => rows().filter((r) => PART1_CATEGORIES.has(r.category) || PART1_MONITORING.test(r.name))
  const deliberate = new Map(nandiDifferences.map((d) => [d.tool, new Set(d.metadata ?? [])]))

  it("reads NANDI's rows of this part", () => {
    expect(mine().length).toBeGreaterThan(60)
  })

  it("every NANDI name of these categories, and their aliases, is callable", () => {
    for (const row of mine()) {
      expect(builtin.lookup(row.name), row.name).toBeDefined()
      for (const alias of row.aliases) {
        if (alias === "legacy") continue
        expect(builtin.lookup(alias)?.tool.name, `${alias} -> ${row.name}`).toBe(
          builtin.lookup(row.name)?.tool.name,
        )
      }
    }
  })

  it("tiers, modules, confirm and destructive flags are NANDI's unless documented", () => {
    for (const row of mine()) {
      const tool = builtin.lookup(row.name)!.tool
      const skip = deliberate.get(row.name) ?? new Set()
      const actual = {
        category: tool.category,
        tier: tool.tier,
        module: tool.module,
        confirm: tool.confirm,
        destructive: tool.destructive,
      }
      const expected = {
        category: row.category,
        tier: row.tier,
        module: row.module,
        confirm: row.confirm,
        destructive: row.destructive,
      }
      for (const key of Object.keys(expected) as Array<keyof typeof expected>) {
        if (skip.has(key)) continue
        expect(actual[key], `${row.name}.${key}`).toBe(expected[key])
      }
    }
  })

  it("every documented difference names a tool of the catalog", () => {
    for (const difference of nandiDifferences)
      expect(builtin.lookup(difference.tool), difference.tool).toBeDefined()
  })
})

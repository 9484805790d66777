/** `proxmox-mcp tools`: the catalog as exposed under the current policy, or all of it. */
import type { CatalogEntry } from "../tools/catalog.js"
import { catalogRow, descriptionOf } from "../tools/describe.js"

export type ToolsFormat = "text" | "json" | "markdown"

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

export const renderTools = (entries: ReadonlyArray<CatalogEntry>, format: ToolsFormat): string => {
  if (format === "json") return JSON.stringify(entries.map(catalogRow), null, 2)
  if (format === "markdown") {
    const header = [
      "| name | category | tier | module | destructive | confirm | endpoints | description |",
      "|---|---|---|---|---|---|---|---|",
    ]
    const rows = entries.map((entry) => {
      const row = catalogRow(entry)
      const endpoints = row.endpoints.map((e) => `\`${e.method} ${e.path}\``).join("<br>")
      return `| \`${row.name}\` | ${row.category} | ${row.tier} | ${row.module} | ${row.destructive ? "yes" : "no"} | ${row.confirmRequired ? "yes" : "no"} | ${endpoints} | ${cell(descriptionOf(entry))} |`
    })
    return [...header, ...rows].join("\n")
  }
  return entries
    .map((entry) => {
      const row = catalogRow(entry)
      const flags = [
        row.tier,
        row.category,
        row.confirmRequired ? "confirm" : "",
        row.aliasFor ? `alias of ${row.aliasFor}` : "",
      ]
      return `${row.name.padEnd(30)} ${flags.filter((f) => f !== "").join(", ")}`
    })
    .join("\n")
}

/**
 * Public descriptions of catalog entries, derived from the declarations: MCP annotations and
 * `_meta`, and the `tools --json` row.
 */
import type { CatalogEntry } from "./catalog.js"

export const annotationsOf = (entry: CatalogEntry) => ({
  title: entry.tool.title,
  readOnlyHint: entry.tool.tier === "read-only",
  destructiveHint: entry.tool.destructive,
  idempotentHint: entry.tool.idempotent,
  openWorldHint: false,
})

export const metaOf = (entry: CatalogEntry): Record<string, unknown> => ({
  category: entry.tool.category,
  accessTier: entry.tool.tier,
  module: entry.tool.module,
  destructive: entry.tool.destructive,
  confirmRequired: entry.tool.confirm,
  ...(entry.aliasFor === undefined ? {} : { aliasFor: entry.aliasFor }),
  ...(entry.aliasFor !== undefined || entry.tool.deprecated === true ? { deprecated: true } : {}),
  // NANDI marks tools that need a human's go-ahead this way.
  ...(entry.tool.confirm ? { "anthropic/requiresUserInteraction": true } : {}),
})

export const descriptionOf = (entry: CatalogEntry): string =>
  entry.aliasFor === undefined
    ? entry.tool.description
    : `Deprecated alias of ${entry.aliasFor}; same behaviour and policy. ${entry.tool.description}`

/** One row of `proxmox-mcp tools --json`. */
export const catalogRow = (entry: CatalogEntry) => ({
  name: entry.name,
  title: entry.tool.title,
  category: entry.tool.category,
  tier: entry.tool.tier,
  module: entry.tool.module,
  destructive: entry.tool.destructive,
  confirmRequired: entry.tool.confirm,
  idempotent: entry.tool.idempotent,
  aliasFor: entry.aliasFor ?? null,
  deprecated: entry.aliasFor !== undefined || entry.tool.deprecated === true,
  endpoints: entry.tool.endpoints.map((e) => ({ method: e.method, path: e.path })),
  ssh: entry.tool.ssh,
})

/**
 * Static exposure: which catalog entries a server shows, from the access tier and module mode.
 * A tool above the tier, or an advanced tool in core mode, is not listed and answers as an
 * unknown tool. (The policy issue adds categories, filters, principals and protected guests.)
 */
import { type Module, type Tier, tierRank } from "../domain/ids.js"
import { type CatalogEntry, entries } from "../tools/catalog.js"

export interface ExposureSettings {
  readonly tier: Tier
  readonly moduleMode: Module
}

export const isExposed = (entry: CatalogEntry, settings: ExposureSettings): boolean =>
  tierRank(entry.tool.tier) <= tierRank(settings.tier) &&
  (settings.moduleMode === "advanced" || entry.tool.module === "core")

export const exposedEntries = (settings: ExposureSettings): ReadonlyArray<CatalogEntry> =>
  entries.filter((entry) => isExposed(entry, settings))

/**
 * Resolving the names operators write in policy lists: canonical tool names, aliases (always
 * judged as their canonical tool), Sutian dotted operation names, and `*` globs over all of
 * these. A name that matches nothing known is a configuration error.
 */
import * as Either from "effect/Either"
import type { NamedTool } from "../domain/tool.js"
import { NANDI_ALIASES, NANDI_TOOL_NAMES } from "./nandi-names.js"
import { SUTIAN_OPERATIONS } from "./operations.js"

/**
 * Where NANDI has two names for one operation, the second is an alias of the first
 * (SPEC section 12).
 */
const DUPLICATE_NAMES: ReadonlyArray<readonly [string, string]> = [
  ["pve_create_qemu_template", "pve_qemu_create_template"],
  ["pve_get_cluster_metrics_overview", "pve_list_cluster_resources"],
]

const globToRegExp = (glob: string) =>
  new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`)

export interface ToolNames {
  /** The canonical tool a name stands for, or undefined when the name is no tool name. */
  readonly canonicalOf: (name: string) => string | undefined
  /** Every name a policy list may use: tools, aliases and Sutian operations. */
  readonly known: ReadonlyArray<string>
  /**
   * The canonical tool names one list entry stands for. Globs (`cluster.*`, `pve_delete_*`)
   * match against every known name. Fails with a message naming the variable and the entry.
   */
  readonly resolveEntry: (variable: string, entry: string) => Either.Either<ReadonlySet<string>, string>
  /** A comma-separated list of entries, resolved and merged. */
  readonly resolveList: (variable: string, raw: string) => Either.Either<ReadonlySet<string>, string>
}

/**
 * The names operators may write: NANDI's whole catalog (also the tools this version does not
 * have yet, so a NANDI configuration starts unchanged), the catalog's own names, and Sutian's.
 */
export const makeToolNames = (catalog: ReadonlyArray<NamedTool>): ToolNames => {
  const canonicalByName = new Map<string, string>()
  for (const name of NANDI_TOOL_NAMES) canonicalByName.set(name, name)
  for (const entry of catalog) canonicalByName.set(entry.name, entry.aliasFor ?? entry.name)
  for (const [alias, canonical] of [...NANDI_ALIASES, ...DUPLICATE_NAMES])
    canonicalByName.set(alias, canonical)
  const known = [...canonicalByName.keys(), ...Object.keys(SUTIAN_OPERATIONS)]
  const canonicalOf = (name: string) => canonicalByName.get(name)
  const toolsOfName = (name: string): ReadonlyArray<string> | undefined => {
    const canonical = canonicalOf(name)
    return canonical !== undefined ? [canonical] : SUTIAN_OPERATIONS[name]
  }
  const resolveEntry = (variable: string, entry: string): Either.Either<ReadonlySet<string>, string> => {
    if (entry.includes("*")) {
      const pattern = globToRegExp(entry)
      const matched = known.filter((name) => pattern.test(name))
      if (matched.length === 0)
        return Either.left(`${variable}: '${entry}' matches no known tool or operation name`)
      return Either.right(new Set(matched.flatMap((name) => toolsOfName(name) ?? [])))
    }
    const resolved = toolsOfName(entry)
    if (resolved === undefined)
      return Either.left(`${variable}: '${entry}' is not a known tool or operation name`)
    return Either.right(new Set(resolved))
  }
  const resolveList = (variable: string, raw: string): Either.Either<ReadonlySet<string>, string> => {
    const result = new Set<string>()
    for (const entry of raw.split(/[,\s]+/).filter((e) => e !== "")) {
      const resolved = resolveEntry(variable, entry)
      if (Either.isLeft(resolved)) return Either.left(resolved.left)
      for (const name of resolved.right) result.add(name)
    }
    return Either.right(result)
  }
  return { canonicalOf, known, resolveEntry, resolveList }
}

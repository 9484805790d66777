/** Settings of the MCP server itself: result size, logging, transport. (Policy: src/policy/settings.ts.) */
import * as Config from "effect/Config"
import * as Either from "effect/Either"
import { Categories } from "../domain/ids.js"
import { boundedInt, flag, invalid, oneOf, optionalString } from "./values.js"

export const LogLevels = ["trace", "debug", "info", "warning", "error", "fatal", "none"] as const

/** Toolsets: the categories, `default` (an everyday set, see src/mcp/surface.ts) and `all`. */
export const TOOLSETS: ReadonlyArray<string> = ["default", "all", ...Categories]

export const ToolModes = ["toolsets", "discovery"] as const
export type ToolMode = (typeof ToolModes)[number]

/** `PVE_TOOLSETS`: the toolsets listed at the start of a session (default: `default`). */
const toolsetsConfig = optionalString("PVE_TOOLSETS").pipe(
  Config.mapOrFail((raw) => {
    const names = (raw ?? "default")
      .split(",")
      .map((name) => name.trim().toLowerCase())
      .filter((name) => name !== "")
    const unknown = names.find((name) => !TOOLSETS.includes(name))
    if (unknown !== undefined)
      return Either.left(
        invalid("PVE_TOOLSETS", `unknown toolset '${unknown}' (known: ${TOOLSETS.join(", ")})`),
      )
    return Either.right(names.length === 0 ? ["default"] : names)
  }),
)

export const serverConfig = Config.all({
  maxResultBytes: boundedInt("MCP_MAX_RESULT_BYTES", 256 * 1024, 1024, 64 * 1024 * 1024),
  logLevel: oneOf("LOG_LEVEL", LogLevels, "info"),
  transport: oneOf("MCP_TRANSPORT", ["stdio", "http"] as const, "stdio"),
  /** List NANDI's camelCase aliases and legacy tools in tools/list (they are callable either way). */
  listAliases: flag("PVE_LIST_ALIASES", false),
  /** `toolsets` lists the PVE_TOOLSETS; `discovery` lists search, describe and call only. */
  toolMode: oneOf("PVE_TOOL_MODE", ToolModes, "toolsets"),
  toolsets: toolsetsConfig,
})

export type ServerConfig = Config.Config.Success<typeof serverConfig>

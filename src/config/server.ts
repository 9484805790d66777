/** Settings of the MCP server itself: result size, logging, transport. (Policy: src/policy/settings.ts.) */
import * as Config from "effect/Config"
import { boundedInt, flag, oneOf } from "./values.js"

export const LogLevels = ["trace", "debug", "info", "warning", "error", "fatal", "none"] as const

export const serverConfig = Config.all({
  maxResultBytes: boundedInt("MCP_MAX_RESULT_BYTES", 256 * 1024, 1024, 64 * 1024 * 1024),
  logLevel: oneOf("LOG_LEVEL", LogLevels, "info"),
  transport: oneOf("MCP_TRANSPORT", ["stdio", "http"] as const, "stdio"),
  /** List NANDI's camelCase aliases and legacy tools in tools/list (they are callable either way). */
  listAliases: flag("PVE_LIST_ALIASES", false),
})

export type ServerConfig = Config.Config.Success<typeof serverConfig>

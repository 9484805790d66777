/** Settings of the MCP server itself: exposure policy (minimal for now), result size, logging. */
import { Config } from "effect"
import { Modules, Tiers } from "../domain/ids.js"
import { boundedInt, oneOf } from "./values.js"

export const LogLevels = ["trace", "debug", "info", "warning", "error", "fatal", "none"] as const

export const serverConfig = Config.all({
  tier: oneOf("PVE_ACCESS_TIER", Tiers, "read-only"),
  moduleMode: oneOf("PVE_MODULE_MODE", Modules, "core"),
  maxResultBytes: boundedInt("MCP_MAX_RESULT_BYTES", 256 * 1024, 1024, 64 * 1024 * 1024),
  logLevel: oneOf("LOG_LEVEL", LogLevels, "info"),
  transport: oneOf("MCP_TRANSPORT", ["stdio", "http"] as const, "stdio"),
})

export type ServerConfig = Config.Config.Success<typeof serverConfig>

/**
 * Where configuration comes from: environment variables, then the optional JSON config file
 * (`PROXMOX_MCP_CONFIG`, alias `NANDI_PROXMOX_CONFIG`) holding the same keys. The environment
 * wins. A config file that is too large, unreadable, not a flat JSON object, or readable by other
 * users is a startup error naming the file.
 */
import * as fs from "node:fs"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Either from "effect/Either"
import { redactText } from "../domain/redact.js"

const MAX_CONFIG_BYTES = 64 * 1024

export type Environment = Readonly<Record<string, string | undefined>>

const invalidFile = (variable: string, problem: string) =>
  ConfigError.InvalidData([], `${variable}: ${problem}`)

/** Reads the config file named by the environment, if any, into string key/values. */
export const readConfigFile = (
  env: Environment,
): Either.Either<ReadonlyMap<string, string>, ConfigError.ConfigError> => {
  const variable = env.PROXMOX_MCP_CONFIG !== undefined ? "PROXMOX_MCP_CONFIG" : "NANDI_PROXMOX_CONFIG"
  const file = env[variable]?.trim()
  if (file === undefined || file === "") return Either.right(new Map())
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\u0000-\u001f]/.test(file))
    return Either.left(invalidFile(variable, "path contains control characters"))
  let stat: fs.Stats
  try {
    stat = fs.statSync(file)
  } catch (error) {
    return Either.left(
      invalidFile(variable, `cannot read '${file}': ${(error as NodeJS.ErrnoException).code ?? "error"}`),
    )
  }
  if (!stat.isFile()) return Either.left(invalidFile(variable, `'${file}' is not a regular file`))
  if (stat.size > MAX_CONFIG_BYTES)
    return Either.left(invalidFile(variable, `'${file}' is larger than 64 KiB`))
  if (process.platform !== "win32" && (stat.mode & 0o077) !== 0) {
    return Either.left(
      invalidFile(
        variable,
        `'${file}' is accessible by other users (mode ${(stat.mode & 0o777).toString(8)}); run chmod 600 on it`,
      ),
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"))
  } catch (error) {
    return Either.left(invalidFile(variable, `'${file}' is not valid JSON: ${(error as Error).message}`))
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return Either.left(invalidFile(variable, `'${file}' must hold a JSON object of setting names to values`))
  }
  const entries = new Map<string, string>()
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === "string") entries.set(key, value)
    else if (typeof value === "number" || typeof value === "boolean") entries.set(key, String(value))
    else
      return Either.left(
        invalidFile(variable, `key '${key}' in '${file}' must be a string, number or boolean`),
      )
  }
  return Either.right(entries)
}

/** Environment first, then the config file. */
export const configProvider = (
  env: Environment,
): Either.Either<ConfigProvider.ConfigProvider, ConfigError.ConfigError> =>
  Either.map(readConfigFile(env), (fileEntries) => {
    const merged = new Map(fileEntries)
    for (const [key, value] of Object.entries(env)) if (value !== undefined) merged.set(key, value)
    return ConfigProvider.fromMap(merged)
  })

/** One readable line per problem, for startup errors. */
export const formatConfigError = (error: ConfigError.ConfigError): string => {
  const lines: Array<string> = []
  const walk = (e: ConfigError.ConfigError): void => {
    switch (e._op) {
      case "And":
      case "Or":
        walk(e.left)
        walk(e.right)
        return
      case "InvalidData":
      case "MissingData":
      case "SourceUnavailable":
      case "Unsupported":
        lines.push(e.path.length > 0 ? `${e.path.join(".")}: ${e.message}` : e.message)
    }
  }
  walk(error)
  // A message may quote the value it refuses; whatever in it looks like a secret (a password in
  // a URL, a token) is masked before anyone sees it.
  return redactText([...new Set(lines)].join("\n"))
}

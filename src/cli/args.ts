/** Argument and configuration helpers shared by the commands. */
import type * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { configProvider, type Environment, formatConfigError } from "../config/provider.js"
import { makeToolNames } from "../policy/names.js"
import { policyConfig } from "../policy/settings.js"
import { builtin } from "../tools/catalog.js"

/** A wrong command line: the message and the usage text go to stderr, exit 2. */
export class UsageError extends Error {}

/** The names policy lists may use: the built-in catalog's, NANDI's and Sutian's. */
export const policySettings = policyConfig(makeToolNames(builtin.entries))

export const say = (text: string) => void process.stderr.write(`${text}\n`)

export const flagValue = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const index = args.findIndex((a) => a === name || a.startsWith(`${name}=`))
  if (index < 0) return undefined
  const arg = args[index]!
  if (arg.includes("=")) return arg.slice(arg.indexOf("=") + 1)
  const value = args[index + 1]
  if (value === undefined || value.startsWith("--")) throw new UsageError(`${name} needs a value`)
  return value
}

export const checkFlags = (args: ReadonlyArray<string>, allowed: ReadonlyArray<string>) => {
  for (const arg of args) {
    if (arg.startsWith("--") && !allowed.includes(arg.split("=")[0]!))
      throw new UsageError(`unknown option ${arg}`)
  }
}

/** Loads a config descriptor from env + config file; a failure is one readable message. */
export const load = <A>(env: Environment, config: Config.Config<A>): Either.Either<A, string> => {
  const provider = configProvider(env)
  if (Either.isLeft(provider)) return Either.left(formatConfigError(provider.left))
  return Either.mapLeft(
    Effect.runSync(Effect.either(Effect.withConfigProvider(config, provider.right))),
    formatConfigError,
  )
}

/** The configuration error message, exit 2. */
export const configurationError = (message: string) => {
  say(`proxmox-mcp: configuration error:\n${message}`)
  return 2
}

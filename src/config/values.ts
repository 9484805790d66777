/**
 * Small strict parsers shared by the config descriptors. Each failure names the variable and
 * what is wrong; nothing falls back silently.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"

export const invalid = (variable: string, problem: string): ConfigError.ConfigError =>
  ConfigError.InvalidData([], `${variable}: ${problem}`)

const TRUE = new Set(["1", "true", "yes", "on"])
const FALSE = new Set(["0", "false", "no", "off"])

/** A boolean variable that accepts the usual spellings and rejects anything else. */
export const flag = (variable: string, fallback: boolean): Config.Config<boolean> =>
  Config.string(variable).pipe(
    Config.option,
    Config.mapOrFail((value) => {
      if (value._tag === "None" || value.value.trim() === "") return Either.right(fallback)
      const text = value.value.trim().toLowerCase()
      if (TRUE.has(text)) return Either.right(true)
      if (FALSE.has(text)) return Either.right(false)
      return Either.left(invalid(variable, `expected true or false, got '${value.value}'`))
    }),
  )

/** A positive integer (milliseconds, ports, counts) within bounds. */
export const boundedInt = (
  variable: string,
  fallback: number,
  min: number,
  max: number,
): Config.Config<number> =>
  Config.string(variable).pipe(
    Config.option,
    Config.mapOrFail((value) => {
      if (value._tag === "None" || value.value.trim() === "") return Either.right(fallback)
      const text = value.value.trim()
      const parsed = /^\d+$/.test(text) ? Number(text) : Number.NaN
      if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
        return Either.left(invalid(variable, `expected an integer ${min}..${max}, got '${value.value}'`))
      }
      return Either.right(parsed)
    }),
  )

/** One of a fixed set of words. */
export const oneOf = <const A extends string>(
  variable: string,
  choices: ReadonlyArray<A>,
  fallback: A,
): Config.Config<A> =>
  Config.string(variable).pipe(
    Config.option,
    Config.mapOrFail((value) => {
      if (value._tag === "None" || value.value.trim() === "") return Either.right(fallback)
      const text = value.value.trim().toLowerCase()
      const match = choices.find((choice) => choice === text)
      return match === undefined
        ? Either.left(invalid(variable, `expected one of ${choices.join(", ")}, got '${value.value}'`))
        : Either.right(match)
    }),
  )

/** An optional non-empty string (empty counts as unset). */
export const optionalString = (variable: string): Config.Config<string | undefined> =>
  Config.string(variable).pipe(
    Config.option,
    Config.map((value) =>
      value._tag === "Some" && value.value.trim() !== "" ? value.value.trim() : undefined,
    ),
  )

/** An optional secret; never printed. */
export const optionalSecret = (variable: string) => Config.redacted(variable).pipe(Config.option)

/**
 * Turns a PVE path template and its parameters into a request path. Every value becomes exactly
 * one encoded segment, so no input can change which endpoint is called: empty values, `.` and
 * `..` are refused, and a template placeholder without a value is refused rather than sent as a
 * literal `{node}`.
 */
import * as Either from "effect/Either"
import { InvalidInput } from "../domain/errors.js"

export type PathParams = Readonly<Record<string, string | number>>

export const buildPath = (template: string, params: PathParams = {}): Either.Either<string, InvalidInput> => {
  let failure: InvalidInput | undefined
  const path = template.replace(/\{([a-zA-Z_][a-zA-Z0-9_-]*)\}/g, (_, name: string) => {
    const raw = params[name]
    const value = raw === undefined ? "" : String(raw)
    if (failure === undefined && (value === "" || value === "." || value === "..")) {
      failure = new InvalidInput({
        message: raw === undefined ? `${name} is required` : `${name} must not be empty, '.' or '..'`,
        field: name,
      })
    }
    return encodeURIComponent(value)
  })
  return failure === undefined ? Either.right(path) : Either.left(failure)
}

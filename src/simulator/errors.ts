/**
 * An error answered the way pveproxy answers it: the status line's reason is the first line of
 * `message`, the body is `{"data":null,"message":"...\n"}` plus `errors` for parameter exceptions.
 */
export class PveError extends Error {
  override readonly name = "PveError"

  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Readonly<Record<string, string>>,
  ) {
    super(message)
  }
}

/** 400 "Parameter verification failed." with PVE's per-parameter messages. */
export const parameterError = (errors: Readonly<Record<string, string>>) =>
  new PveError(400, "Parameter verification failed.", errors)

/** PVE reports nearly every semantic failure (not found, locked, wrong state) as a 500. */
export const serverError = (message: string) => new PveError(500, message)

export const notImplemented = (method: string, path: string, bySimulator = false) =>
  new PveError(501, `Method '${method} ${path}' not implemented${bySimulator ? " (simulator)" : ""}`)

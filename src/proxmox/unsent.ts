/**
 * Connection errors known to have happened before a single request byte was written (the
 * pinning connector holds writes until the handshake and the pin check are done). The API layer
 * reads this to tell "nothing was sent" (safe to send elsewhere, even a mutation) from "the
 * outcome is unknown".
 */
const unsent = new WeakSet<object>()

/** Notes that `error` ended a connection before anything was written to it. */
export const markUnsent = (error: Error): void => {
  unsent.add(error)
}

/** Whether `error` (or the error it wraps as `cause`) ended a connection before anything was sent. */
export const wasUnsent = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null) return false
  if (unsent.has(error)) return true
  const cause: unknown = "cause" in error ? error.cause : undefined
  return typeof cause === "object" && cause !== null && unsent.has(cause)
}

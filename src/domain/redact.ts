/**
 * Redaction of secrets in values returned to the model. Keys that name a secret are replaced
 * whatever their value. (The audit issue extends this into the single redaction module used by
 * logs, audit records and tool results.)
 */
export const REDACTED = "[REDACTED]"

const SECRET_KEYS =
  /^(cipassword|password|passwd|secret|privkey|private[-_]?key|ticket|csrfpreventiontoken|authorization)$/i

/** Keys whose values are secrets in PVE objects (guest config, users, tokens). */
export const isSecretKey = (key: string): boolean => SECRET_KEYS.test(key)

export const redactSecrets = (value: unknown, secretKey: (key: string) => boolean = isSecretKey): unknown => {
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, secretKey))
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [
        key,
        secretKey(key) ? REDACTED : redactSecrets(inner, secretKey),
      ]),
    )
  }
  return value
}

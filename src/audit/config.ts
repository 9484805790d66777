/** Audit log settings from the environment: where the log lives, when it rotates, its MAC key. */
import { createSecretKey, type KeyObject } from "node:crypto"
import * as os from "node:os"
import * as path from "node:path"
import * as Config from "effect/Config"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { invalid, optionalString } from "../config/values.js"

export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024
export const DEFAULT_MAX_FILES = 10
/** An HMAC-SHA256 key shorter than this is refused: 32 characters of a random token is 128+ bits. */
export const MIN_HMAC_KEY_LENGTH = 32

export interface AuditSettings {
  readonly path: string
  readonly maxBytes: number
  readonly maxFiles: number
  /** `AUDIT_HMAC_KEY`: records then carry a keyed `mac` (see `chain.ts`). */
  readonly hmacKey?: Redacted.Redacted<string>
}

/** `$XDG_STATE_HOME/proxmox-mcp/audit.jsonl`, else `~/.local/state/proxmox-mcp/audit.jsonl`. */
export const defaultAuditPath = (xdgStateHome: string | undefined, home: string | undefined): string => {
  // The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
  const base =
    xdgStateHome !== undefined && path.isAbsolute(xdgStateHome)
      ? xdgStateHome
      : path.join(home ?? os.homedir(), ".local", "state")
  return path.join(base, "proxmox-mcp", "audit.jsonl")
}

const boundedBytes = (variable: string, fallback: number, min: number) =>
  Config.string(variable).pipe(
    Config.option,
    Config.mapOrFail((value) => {
      if (value._tag === "None" || value.value.trim() === "") return Either.right(fallback)
      const match = /^(\d+)\s*(k|ki|kib|m|mi|mib|g|gi|gib)?$/i.exec(value.value.trim())
      const unit = match?.[2]?.toLowerCase()[0]
      const factor = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1
      const parsed = match ? Number(match[1]) * factor : Number.NaN
      return Number.isSafeInteger(parsed) && parsed >= min
        ? Either.right(parsed)
        : Either.left(
            invalid(variable, `expected a size in bytes >= ${min} (or with K/M/G), got '${value.value}'`),
          )
    }),
  )

const boundedCount = (variable: string, fallback: number, min: number, max: number) =>
  Config.string(variable).pipe(
    Config.option,
    Config.mapOrFail((value) => {
      if (value._tag === "None" || value.value.trim() === "") return Either.right(fallback)
      const parsed = /^\d+$/.test(value.value.trim()) ? Number(value.value.trim()) : Number.NaN
      return Number.isSafeInteger(parsed) && parsed >= min && parsed <= max
        ? Either.right(parsed)
        : Either.left(invalid(variable, `expected an integer ${min}..${max}, got '${value.value}'`))
    }),
  )

/** `AUDIT_HMAC_KEY`, when set: at least 32 characters; the error never shows the value. */
export const hmacKeyConfig: Config.Config<Redacted.Redacted<string> | undefined> = Config.redacted(
  "AUDIT_HMAC_KEY",
).pipe(
  Config.option,
  Config.mapOrFail((value) => {
    if (value._tag === "None" || Redacted.value(value.value) === "") return Either.right(undefined)
    return Redacted.value(value.value).length >= MIN_HMAC_KEY_LENGTH
      ? Either.right(value.value)
      : Either.left(
          invalid(
            "AUDIT_HMAC_KEY",
            `too short: give at least ${MIN_HMAC_KEY_LENGTH} characters (e.g. openssl rand -hex 32)`,
          ),
        )
  }),
)

/** The key as node:crypto wants it. */
export const hmacKeyObject = (key: Redacted.Redacted<string>): KeyObject =>
  createSecretKey(Buffer.from(Redacted.value(key), "utf8"))

/**
 * `AUDIT_LOG_PATH` (default under `$XDG_STATE_HOME/proxmox-mcp/`), `AUDIT_MAX_BYTES` (10 MiB;
 * accepts `10M`), `AUDIT_MAX_FILES` (rotated files kept, 10), `AUDIT_HMAC_KEY` (optional). Errors
 * name the variable.
 */
export const auditConfig: Config.Config<AuditSettings> = Config.all({
  explicit: optionalString("AUDIT_LOG_PATH"),
  xdgStateHome: optionalString("XDG_STATE_HOME"),
  home: optionalString("HOME"),
  maxBytes: boundedBytes("AUDIT_MAX_BYTES", DEFAULT_MAX_BYTES, 4096),
  maxFiles: boundedCount("AUDIT_MAX_FILES", DEFAULT_MAX_FILES, 1, 1000),
  hmacKey: hmacKeyConfig,
}).pipe(
  Config.mapOrFail(({ explicit, xdgStateHome, home, maxBytes, maxFiles, hmacKey }) => {
    if (explicit !== undefined) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
      if (/[\u0000-\u001f]/.test(explicit)) {
        return Either.left(invalid("AUDIT_LOG_PATH", "path contains control characters"))
      }
      if (explicit.endsWith("/") || explicit.endsWith(path.sep)) {
        return Either.left(
          invalid("AUDIT_LOG_PATH", `'${explicit}' names a directory; give the log file's path`),
        )
      }
    }
    return Either.right({
      path: path.resolve(explicit ?? defaultAuditPath(xdgStateHome, home)),
      maxBytes,
      maxFiles,
      ...(hmacKey === undefined ? {} : { hmacKey }),
    })
  }),
)

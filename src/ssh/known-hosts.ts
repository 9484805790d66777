/**
 * Host-key verification. A server's key is accepted only when an OpenSSH known_hosts file or a
 * configured fingerprint says it belongs to that host; an unknown, changed or revoked key is
 * refused. Trust on first use only when the operator enabled it (PROXMOX_SSH_ACCEPT_NEW), and then
 * the key is recorded, so a later change is refused like any other.
 *
 * known_hosts: `[marker] hostpatterns keytype base64key [comment]`; host patterns are
 * comma-separated names (`host`, `[host]:port` for a port other than 22) with `*` / `?`
 * wildcards and `!` negation, or one hashed entry `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
 * Markers: `@revoked` (that key is refused for every host), `@cert-authority` (certificates are
 * not supported: such lines are ignored, never a reason to accept).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto"

export interface KnownHostEntry {
  readonly marker?: "revoked" | "cert-authority"
  readonly patterns: string
  readonly keyType: string
  readonly key: Buffer
}

/** The name a host is looked up by: `host`, or `[host]:port` when the port is not 22. */
export const hostLookupName = (host: string, port: number): string =>
  port === 22 ? host : `[${host}]:${port}`

/** OpenSSH's fingerprint of a public key blob: `SHA256:` + unpadded base64 of its SHA-256. */
export const fingerprintOf = (key: Buffer): string =>
  `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`

/** The key type named inside a public key blob (its first SSH string). */
export const keyTypeOf = (key: Buffer): string | undefined => {
  if (key.length < 4) return undefined
  const length = key.readUInt32BE(0)
  return length > 0 && length < 64 && key.length >= 4 + length
    ? key.subarray(4, 4 + length).toString("latin1")
    : undefined
}

/** Parses a known_hosts file; malformed lines are skipped (as OpenSSH does). */
export const parseKnownHosts = (text: string): ReadonlyArray<KnownHostEntry> => {
  const entries: Array<KnownHostEntry> = []
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const fields = line.split(/\s+/)
    let marker: KnownHostEntry["marker"]
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") {
      marker = fields[0] === "@revoked" ? "revoked" : "cert-authority"
      fields.shift()
    } else if (fields[0]?.startsWith("@")) continue
    const [patterns, keyType, base64] = fields
    if (patterns === undefined || keyType === undefined || base64 === undefined) continue
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) continue
    const key = Buffer.from(base64, "base64")
    // The blob names its own type; a line whose type disagrees is not trusted for anything.
    if (keyTypeOf(key) !== keyType) continue
    entries.push({ ...(marker === undefined ? {} : { marker }), patterns, keyType, key })
  }
  return entries
}

const wildcard = (pattern: string, name: string): boolean => {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replaceAll("*", ".*")
      .replaceAll("?", ".")}$`,
    "i",
  )
  return regex.test(name)
}

const hashedMatches = (entry: string, name: string): boolean => {
  const parts = entry.split("|")
  if (parts.length !== 4 || parts[1] !== "1") return false
  const salt = Buffer.from(parts[2] ?? "", "base64")
  const expected = Buffer.from(parts[3] ?? "", "base64")
  const actual = createHmac("sha1", salt).update(name).digest()
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/** Whether an entry's host patterns cover `name` (a negated match excludes the host). */
export const patternsMatch = (patterns: string, name: string): boolean => {
  if (patterns.startsWith("|")) return hashedMatches(patterns, name)
  let matched = false
  for (const pattern of patterns.split(",")) {
    if (pattern.startsWith("!")) {
      if (wildcard(pattern.slice(1), name)) return false
    } else if (wildcard(pattern, name)) matched = true
  }
  return matched
}

export type HostKeyVerdict =
  | { readonly _tag: "Trusted" }
  | { readonly _tag: "Unknown" }
  | { readonly _tag: "Changed"; readonly expected: ReadonlyArray<string> }
  | { readonly _tag: "Revoked" }

/** What a known_hosts file says about `key` presented by the host looked up as `name`. */
export const verifyKnownHosts = (
  entries: ReadonlyArray<KnownHostEntry>,
  name: string,
  key: Buffer,
): HostKeyVerdict => {
  if (entries.some((e) => e.marker === "revoked" && e.key.equals(key))) return { _tag: "Revoked" }
  const forHost = entries.filter((e) => e.marker === undefined && patternsMatch(e.patterns, name))
  if (forHost.some((e) => e.key.equals(key))) return { _tag: "Trusted" }
  if (forHost.length === 0) return { _tag: "Unknown" }
  return { _tag: "Changed", expected: forHost.map((e) => `${e.keyType} ${fingerprintOf(e.key)}`) }
}

/** The line PROXMOX_SSH_ACCEPT_NEW appends for a newly trusted key (hashed, like `HashKnownHosts`). */
export const knownHostsLine = (name: string, key: Buffer, salt: Buffer): string => {
  const hash = createHmac("sha1", salt).update(name).digest("base64")
  return `|1|${salt.toString("base64")}|${hash} ${keyTypeOf(key) ?? "unknown"} ${key.toString("base64")}\n`
}

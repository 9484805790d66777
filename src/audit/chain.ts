/**
 * The hash chain of the audit log (SPEC section 12, "Audit"). `hash` is the lower-case hex
 * SHA-256 of the UTF-8 bytes of `prev + "\n" + JCS(record without hash)`, JCS being the JSON
 * Canonicalization Scheme of RFC 8785; the first record's `prev` is 64 zeros. Written by the
 * sinks, checked by `proxmox-mcp audit verify`.
 *
 * The keyed chain (`AUDIT_HMAC_KEY`): each record also carries `mac`, the lower-case hex
 * HMAC-SHA256 under the key of `prev + "\n" + JCS(record without hash and mac)`. `hash` covers
 * `mac` like any other member, so the keyless definition above still holds for keyed logs. The
 * hash chain alone shows that records were changed after the fact, unless someone recomputed
 * every hash after the change (and the head with them); without the key nobody can recompute the
 * macs, so `audit verify --key` also catches a rewrite of the whole log plus its head.
 */
import * as crypto from "node:crypto"
import { createHash, createHmac, type KeyObject, timingSafeEqual } from "node:crypto"
import { setMember } from "../domain/json.js"

export const GENESIS = "0".repeat(64)

const SURROGATE = /[\uD800-\uDFFF]/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
/** The cheap test first: almost no string holds a surrogate at all. */
const hasLoneSurrogate = (text: string) => SURROGATE.test(text) && LONE_SURROGATE.test(text)

/**
 * RFC 8785 canonical JSON of a JSON value (what `JSON.parse` produces): object members sorted by
 * their UTF-16 code units, numbers in ECMAScript form, strings with the minimal JSON escapes.
 * Members whose value is `undefined` are left out, as `JSON.stringify` does. Throws on values
 * JSON cannot carry (non-finite numbers, lone surrogates, bigint, functions).
 */
export const canonicalize = (value: unknown): string => {
  if (value === null) return "null"
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false"
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`JCS: ${value} is not a JSON number`)
      // ECMAScript Number-to-String, as RFC 8785 section 3.2.2.3 prescribes; -0 becomes 0.
      return JSON.stringify(value)
    case "string":
      if (hasLoneSurrogate(value)) throw new TypeError("JCS: string holds a lone surrogate")
      // JSON.stringify uses exactly the escapes of RFC 8785 section 3.2.2.2 for well-formed text.
      return JSON.stringify(value)
    case "object": {
      if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`
      const record = value as Record<string, unknown>
      const members: Array<string> = []
      for (const key of Object.keys(record).sort()) {
        const inner = record[key]
        if (inner === undefined) continue
        members.push(`${canonicalize(key)}:${canonicalize(inner)}`)
      }
      return `{${members.join(",")}}`
    }
    default:
      throw new TypeError(`JCS: a ${typeof value} is not a JSON value`)
  }
}

/**
 * The JSON value a record will be read back as: what `JSON.parse(JSON.stringify(value))` gives,
 * except that lone surrogates become U+FFFD (so the record stays canonicalizable) and `__proto__`
 * stays an ordinary member. Hashing this value makes the written line verify as written. Always
 * a copy: a record queued for the writer shares nothing with the caller's entry, and each member
 * is read once (what is hashed is what is written).
 */
export const toJsonValue = (value: unknown): unknown => {
  if (value === null) return null
  switch (typeof value) {
    case "string":
      return hasLoneSurrogate(value) ? value.replace(new RegExp(LONE_SURROGATE, "g"), "\uFFFD") : value
    case "number":
      return Number.isFinite(value) ? value : null
    case "boolean":
      return value
    case "bigint":
      return value.toString()
    case "object": {
      const toJSON = (value as { toJSON?: unknown }).toJSON
      if (typeof toJSON === "function") return toJsonValue(toJSON.call(value))
      if (Array.isArray(value)) {
        const items: Array<unknown> = value.slice()
        for (let i = 0; i < items.length; i++) items[i] = toJsonValue(items[i]) ?? null
        return items
      }
      const record = value as Record<string, unknown>
      const members: Record<string, unknown> = {}
      for (const key of Object.keys(record)) {
        const converted = toJsonValue(record[key])
        if (converted !== undefined) setMember(members, toJsonValue(key) as string, converted)
      }
      return members
    }
    default:
      return undefined
  }
}

/** Node's one-shot hash (20.12+): no Hash object per record. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: "hex") => string }).hash

export const sha256Hex = (text: string): string =>
  oneShot === undefined
    ? createHash("sha256").update(text, "utf8").digest("hex")
    : oneShot("sha256", text, "hex")

/** The `hash` of a record: `record` is the record without its `hash` member. */
export const hashRecord = (prev: string, record: unknown): string =>
  sha256Hex(`${prev}\n${canonicalize(record)}`)

/** The `mac` of a keyed record: `record` is the record without `hash` and `mac`. */
export const macRecord = (key: KeyObject, prev: string, record: unknown): string =>
  createHmac("sha256", key)
    .update(`${prev}\n${canonicalize(record)}`, "utf8")
    .digest("hex")

const macMatches = (expected: string, actual: string) =>
  timingSafeEqual(Buffer.from(expected, "utf8"), Buffer.from(actual, "utf8"))

export interface ChainPosition {
  readonly seq: number
  readonly hash: string
}

const HEX64 = /^[0-9a-f]{64}$/

export type RecordCheck =
  | { readonly ok: true; readonly seq: number; readonly hash: string }
  | { readonly ok: false; readonly seq?: number; readonly reason: string }

export interface ChainVerifier {
  /** Checks the next record of the chain and, when it is sound, advances past it. */
  readonly next: (record: unknown) => RecordCheck
  /** The last sound record, if any. */
  readonly last: () => ChainPosition | undefined
}

export interface VerifierStart {
  /** `prev` the first record must have; 64 zeros unless given. */
  readonly prev?: string
  /** `seq` of the record before the first one: 0 from genesis, else taken from the first record. */
  readonly seq?: number
  /** Accept whatever `prev` and `seq` the first record has (its predecessors are not available). */
  readonly partial?: boolean
  /** The `AUDIT_HMAC_KEY`: every record must then carry a `mac` made with it. */
  readonly key?: KeyObject
}

/**
 * A streaming verifier, so `audit verify` can walk several files and name the file and line of
 * the first bad record. Each record must be a v1 object whose `hash` matches its content, whose
 * `prev` is the previous record's `hash` and whose `seq` is one more than the previous one.
 */
export const makeVerifier = (start: VerifierStart = {}): ChainVerifier => {
  const startPrev = start.prev ?? GENESIS
  let expectedPrev: string | undefined = start.partial ? undefined : startPrev
  let expectedSeq: number | undefined = start.partial
    ? undefined
    : start.seq !== undefined
      ? start.seq + 1
      : startPrev === GENESIS
        ? 1
        : undefined
  let last: ChainPosition | undefined

  const next = (candidate: unknown): RecordCheck => {
    if (typeof candidate !== "object" || candidate === null || Array.isArray(candidate)) {
      return { ok: false, reason: "not a JSON object" }
    }
    const { hash, ...body } = candidate as Record<string, unknown>
    const seq = typeof body.seq === "number" && Number.isSafeInteger(body.seq) ? body.seq : undefined
    const at = seq === undefined ? {} : { seq }
    if (body.v !== 1)
      return { ok: false, ...at, reason: `unsupported record version ${JSON.stringify(body.v)}` }
    if (seq === undefined || seq < 1) return { ok: false, reason: "seq is missing or not a positive integer" }
    if (typeof hash !== "string" || !HEX64.test(hash)) {
      return { ok: false, ...at, reason: "hash is missing or malformed" }
    }
    if (typeof body.prev !== "string" || !HEX64.test(body.prev)) {
      return { ok: false, ...at, reason: "prev is missing or malformed" }
    }
    let actual: string
    try {
      actual = hashRecord(body.prev, body)
    } catch (error) {
      return { ok: false, ...at, reason: `record cannot be canonicalized: ${(error as Error).message}` }
    }
    if (actual !== hash)
      return { ok: false, ...at, reason: "hash does not match the record's content (edited)" }
    if (start.key !== undefined) {
      const { mac, ...unkeyed } = body
      if (typeof mac !== "string" || !HEX64.test(mac)) {
        return {
          ok: false,
          ...at,
          reason:
            "the record has no valid mac: it was forged, or written without AUDIT_HMAC_KEY " +
            "(verify the keyed part of the log alone, with --partial)",
        }
      }
      if (!macMatches(mac, macRecord(start.key, body.prev, unkeyed))) {
        return {
          ok: false,
          ...at,
          reason:
            "mac does not match under this key: the record was forged or rewritten (or the key is wrong)",
        }
      }
    }
    if (last === undefined && expectedPrev !== undefined && body.prev !== expectedPrev) {
      return {
        ok: false,
        ...at,
        reason:
          expectedPrev === GENESIS
            ? "the chain does not start here (prev is not 64 zeros): earlier records are missing; " +
              "give the rotated files oldest first, or --partial if the oldest were rotated away"
            : "prev does not match the expected start of the chain",
      }
    }
    expectedPrev ??= body.prev
    expectedSeq ??= seq
    if (seq !== expectedSeq) {
      const previous = expectedSeq - 1
      const reason =
        seq <= previous
          ? `seq ${seq} after seq ${previous}: records reordered or duplicated`
          : `seq ${seq} after seq ${previous}: ${seq - expectedSeq === 1 ? "a record is" : "records are"} missing (deleted), or records were reordered`
      return { ok: false, ...at, reason }
    }
    if (body.prev !== expectedPrev) {
      return {
        ok: false,
        ...at,
        reason: `prev does not match the hash of seq ${seq - 1}: a record was inserted, replaced or re-hashed`,
      }
    }
    expectedPrev = hash
    expectedSeq = seq + 1
    last = { seq, hash }
    return { ok: true, seq, hash }
  }

  return { next, last: () => last }
}

export type ChainResult =
  | { readonly ok: true; readonly count: number; readonly last?: ChainPosition }
  | { readonly ok: false; readonly index: number; readonly seq?: number; readonly reason: string }

/** Verifies a whole chain held in memory (records as parsed from the log, `hash` included). */
export const verifyChain = (records: ReadonlyArray<unknown>, startPrev: string = GENESIS): ChainResult => {
  const verifier = makeVerifier({ prev: startPrev })
  for (const [index, record] of records.entries()) {
    const check = verifier.next(record)
    if (!check.ok)
      return {
        ok: false,
        index,
        ...(check.seq === undefined ? {} : { seq: check.seq }),
        reason: check.reason,
      }
  }
  const last = verifier.last()
  return last === undefined ? { ok: true, count: records.length } : { ok: true, count: records.length, last }
}

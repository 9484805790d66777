/**
 * Turning a caller's `AuditEntry` into a sealed `AuditRecord`, shared by every sink so the file
 * and the memory sink write identical records. `prepare` runs in the caller's fiber (redaction,
 * JSON normalization, id and time); `seal` assigns the chain fields in write order.
 */
import { type KeyObject, randomUUID } from "node:crypto"
import { setMember } from "../domain/json.js"
import { type ChainPosition, GENESIS, hashRecord, macRecord, toJsonValue } from "./chain.js"
import type { AuditEntry, AuditRecord } from "./port.js"

/** Redacts a JSON-like value (see `src/domain/redact.ts`). */
export type Redact = (value: unknown) => unknown

/** The position before the first record of a log. */
export const START: ChainPosition = { seq: 0, hash: GENESIS }

export interface PreparedRecord {
  readonly id: string
  readonly ts: string
  /** The entry without `id`, redacted and as it reads back from JSON; never holds chain fields. */
  readonly body: Readonly<Record<string, unknown>>
}

const RESERVED = new Set(["v", "seq", "ts", "id", "prev", "hash", "mac"])

/** `now` comes from the caller's `Clock`, so tests can fix the record time with `TestClock`. */
export const prepare = (entry: AuditEntry, redact: Redact, now: Date): PreparedRecord => {
  const { id, ...rest } = entry
  const redacted = toJsonValue(redact(rest))
  const body: Record<string, unknown> = {}
  if (typeof redacted === "object" && redacted !== null && !Array.isArray(redacted)) {
    for (const [key, value] of Object.entries(redacted)) if (!RESERVED.has(key)) setMember(body, key, value)
  }
  return { id: id ?? randomUUID(), ts: now.toISOString(), body }
}

/** The record that follows `after` in the chain; with a key it carries its `mac` (see chain.ts). */
export const seal = (prepared: PreparedRecord, after: ChainPosition, key?: KeyObject): AuditRecord => {
  const { ts, id, body } = prepared
  const prev = after.hash
  // One object, its members in the order the line shows them. `hash` and `mac` are filled in
  // last: canonical JSON leaves members that are undefined out, so each is computed over the
  // record without them, as chain.ts defines.
  const record: Record<string, unknown> = { v: 1, seq: after.seq + 1, ts, id, prev, hash: undefined }
  if (key !== undefined) record.mac = undefined
  for (const member of Object.keys(body)) {
    // `prepare` leaves the chain's own members out; a body from elsewhere must not overwrite them.
    if (!RESERVED.has(member)) setMember(record, member, body[member])
  }
  if (key !== undefined) record.mac = macRecord(key, prev, record)
  record.hash = hashRecord(prev, record)
  return record as unknown as AuditRecord
}

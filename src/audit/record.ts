/**
 * Turning a caller's `AuditEntry` into a sealed `AuditRecord`, shared by every sink so the file
 * and the memory sink write identical records. `prepare` runs in the caller's fiber (redaction,
 * JSON normalization, id and time); `seal` assigns the chain fields in write order.
 */
import { type KeyObject, randomUUID } from "node:crypto"
import { type ChainPosition, GENESIS, hashRecord, macRecord, setMember, toJsonValue } from "./chain.js"
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

const withBody = (record: Record<string, unknown>, body: Readonly<Record<string, unknown>>) => {
  for (const [key, value] of Object.entries(body)) setMember(record, key, value)
  return record
}

/** The record that follows `after` in the chain; with a key it carries its `mac` (see chain.ts). */
export const seal = (prepared: PreparedRecord, after: ChainPosition, key?: KeyObject): AuditRecord => {
  const seq = after.seq + 1
  const { ts, id, body } = prepared
  const prev = after.hash
  const mac =
    key === undefined ? undefined : macRecord(key, prev, withBody({ v: 1, seq, ts, id, prev }, body))
  const hash = hashRecord(
    prev,
    withBody({ v: 1, seq, ts, id, prev, ...(mac === undefined ? {} : { mac }) }, body),
  )
  return withBody(
    { v: 1, seq, ts, id, prev, hash, ...(mac === undefined ? {} : { mac }) },
    body,
  ) as unknown as AuditRecord
}

/**
 * The in-memory audit sink, for tests and for embedders that ship records elsewhere. It redacts,
 * seals and chains records exactly like the file sink, so `verifyChain(records())` holds.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import { redactSecrets } from "../domain/redact.js"
import type { ChainPosition } from "./chain.js"
import { hmacKeyObject } from "./config.js"
import { Audit, type AuditRecord, type AuditService, AuditWriteError } from "./port.js"
import { prepare, type Redact, START, seal } from "./record.js"

export interface MemoryAuditOptions {
  /** Redacts each entry before it is sealed; the default redactor unless given. */
  readonly redactor?: Redact
  /** `AUDIT_HMAC_KEY`: every record then carries a keyed `mac` (see `chain.ts`). */
  readonly hmacKey?: Redacted.Redacted<string>
}

export interface MemoryAudit {
  readonly service: AuditService
  /** The records written so far, oldest first. */
  readonly records: () => ReadonlyArray<AuditRecord>
  /** While on, every write fails with `AuditWriteError` (to test callers that must fail closed). */
  readonly failWrites: (on: boolean) => void
}

export const makeMemory = (options: MemoryAuditOptions = {}): Effect.Effect<MemoryAudit> =>
  Effect.sync(() => {
    const redact = options.redactor ?? redactSecrets
    const key = options.hmacKey === undefined ? undefined : hmacKeyObject(options.hmacKey)
    const records: Array<AuditRecord> = []
    let position: ChainPosition = START
    let failing = false

    const write: AuditService["write"] = (entry) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (failing)
          return Effect.fail(new AuditWriteError({ message: "audit log cannot be written (simulated)" }))
        return Effect.try({
          try: () => {
            const record = seal(prepare(entry, redact, new Date(now)), position, key)
            records.push(record)
            position = { seq: record.seq, hash: record.hash }
            return record.id
          },
          catch: (cause) => new AuditWriteError({ message: "audit record could not be built", cause }),
        })
      })

    const flush: AuditService["flush"] = Effect.suspend(() =>
      failing
        ? Effect.fail(new AuditWriteError({ message: "audit log cannot be written (simulated)" }))
        : Effect.void,
    )

    return {
      service: { write, flush },
      records: () => [...records],
      failWrites: (on: boolean) => {
        failing = on
      },
    }
  })

/** The memory sink itself, next to `Audit` in `layerMemory`, so tests can read what was written. */
export class MemoryAuditRecords extends Context.Tag("proxmox-mcp/MemoryAuditRecords")<
  MemoryAuditRecords,
  MemoryAudit
>() {}

export const layerMemory = (options: MemoryAuditOptions = {}): Layer.Layer<Audit | MemoryAuditRecords> =>
  Layer.effectContext(
    Effect.map(makeMemory(options), (memory) =>
      Context.make(Audit, memory.service).pipe(Context.add(MemoryAuditRecords, memory)),
    ),
  )

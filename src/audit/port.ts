/**
 * The audit port (SPEC section 8). Every tool call, refusal, login and server start/stop is
 * one record. The service assigns `v`, `seq`, `ts`, `prev` and `hash`; callers give the rest.
 * Implementations: the hash-chained file sink (`src/audit/file.ts`) and an in-memory sink for
 * tests and embedding (`src/audit/memory.ts`).
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

export type AuditEventName =
  | "server.start"
  | "server.stop"
  | "tool.call"
  | "tool.started"
  | "tool.completed"
  | "policy.denied"
  | "auth.login"
  | "auth.login_failed"
  | "auth.refresh"
  | "auth.refresh_reuse"
  | "auth.logout"
  /** The sink found its file deleted or replaced while open and continued in a new one. */
  | "audit.reopened"

export type AuditDecision = "allowed" | "denied" | "confirmation_required" | "declined"

export interface AuditPrincipal {
  readonly sub: string
  readonly role: string
  readonly transport: "stdio" | "http" | "rest" | "cli"
  readonly ip?: string
}

export interface AuditTarget {
  readonly node?: string
  readonly type?: string
  readonly vmid?: number
  /** The resource path of a target that is no node or guest (`/access/users/alice@pve`, `/pools/dev`). */
  readonly path?: string
}

export interface UpstreamCall {
  readonly node: string
  readonly method: string
  readonly path: string
  readonly status: number
  readonly upid?: string
  /** SSH commands: `method` is "SSH", `path` the command line, `status` the exit code (-1: none). */
  readonly host?: string
  readonly argv?: ReadonlyArray<string>
}

/** A record as written; absent fields are omitted, never null. */
export interface AuditRecord {
  readonly v: 1
  readonly seq: number
  readonly ts: string
  readonly id: string
  readonly prev: string
  readonly hash: string
  /** Only with `AUDIT_HMAC_KEY`: the keyed MAC of the record (see `chain.ts`). */
  readonly mac?: string
  readonly event: AuditEventName
  readonly principal: AuditPrincipal
  readonly tool?: string
  readonly aliasOf?: string
  readonly args?: Readonly<Record<string, unknown>>
  readonly target?: AuditTarget
  readonly decision?: AuditDecision
  readonly rule?: string
  readonly outcome?: { readonly ok: boolean; readonly code?: string }
  readonly durationMs?: number
  readonly upstream?: ReadonlyArray<UpstreamCall>
  /** Free-form, secret-free detail (e.g. the reason of a failed login). */
  readonly detail?: string
}

/** What a caller supplies; `id` is generated when absent (pass it to pair started/completed). */
export type AuditEntry = Omit<AuditRecord, "v" | "seq" | "ts" | "prev" | "hash" | "mac" | "id"> & {
  readonly id?: string
}

/** The audit log could not be written: the call fails closed. */
export class AuditWriteError extends Data.TaggedError("AuditWriteError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export interface AuditService {
  /**
   * Appends one record (args redacted by the sink) and returns its id. With `durable: true`
   * it resolves only after the record is flushed and fsynced: used before a mutation is sent
   * and for its completion. Without it the record may be batched (reads).
   */
  readonly write: (
    entry: AuditEntry,
    options?: { readonly durable?: boolean },
  ) => Effect.Effect<string, AuditWriteError>
  /** Flushes and fsyncs everything written so far. */
  readonly flush: Effect.Effect<void, AuditWriteError>
  /**
   * The file records go to now, for a sink that writes one: the configured path, or the
   * pid-named sibling when another writer holds it.
   */
  readonly currentFile?: () => string
}

export class Audit extends Context.Tag("proxmox-mcp/Audit")<Audit, AuditService>() {}

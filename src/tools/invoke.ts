/**
 * Runs one tool call, independent of the transport (MCP, the REST API, an embedding app):
 *   decode the input strictly -> resolve the declared targets -> policy (principal rules,
 *   protection, confirmation) -> audit write-ahead for state-changing tools -> the tool's
 *   program (and its task, with `wait`) -> audit completion.
 * Every refusal is audited with the rule that refused. An audit write failure fails the call;
 * before a mutation that means nothing is sent. Interruption (a cancelled call) is audited and
 * then propagates; a call the client cancelled stops the Proxmox task it started.
 *
 * `execute` gives the typed result (the embedding API); `invoke` the result envelope. Both make
 * spans only when a tracer other than Effect's built-in one is installed (`traced`).
 */
import { randomUUID } from "node:crypto"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type { AuditDecision, AuditEntry, AuditPrincipal, UpstreamCall } from "../audit/port.js"
import { Audit } from "../audit/port.js"
import { UpstreamLog } from "../audit/upstream.js"
import {
  AuditFailed,
  type AuditStage,
  type GuestNotFound,
  type InvalidInput,
  type PublicError,
  type UnknownNode,
} from "../domain/errors.js"
import { upidNode } from "../domain/ids.js"
import type { Principal } from "../domain/principal.js"
import { Redactor } from "../domain/redact.js"
import { resourcePath, type Target } from "../domain/target.js"
import { isStateChanging, type NamedTool } from "../domain/tool.js"
import { traced } from "../domain/tracing.js"
import { Policy, type PolicyRefusal } from "../policy/policy.js"
import type { ApiError } from "../proxmox/api.js"
import { Tasks } from "../proxmox/tasks.js"
import { ToolCall } from "./call.js"
import * as Envelope from "./envelope.js"
import type { Tool, ToolOutput } from "./tool.js"

/** What the pipeline itself can fail with (all of it is in every tool's `CallError` too). */
export type PipelineError =
  | InvalidInput
  | UnknownNode
  | GuestNotFound
  | ApiError
  | PolicyRefusal
  | AuditFailed

/** What the pipeline needs besides the tool's own requirements. */
export type InvokeServices = Policy | Audit | ToolCall | UpstreamLog | Tasks | Redactor

const auditPrincipal = (principal: Principal): AuditPrincipal => ({
  sub: principal.sub,
  role: principal.role,
  transport: principal.transport,
  ...(principal.ip === undefined ? {} : { ip: principal.ip }),
})

/** The audit's `target`: the call's first target, when it is more than the cluster. */
const auditTarget = (targets: ReadonlyArray<Target> | undefined) => {
  const target = targets?.[0]
  if (target === undefined) return {}
  if (target.node === undefined && target.type === undefined && target.vmid === undefined) {
    const path = resourcePath(target)
    return path === "/" ? {} : { target: { path } }
  }
  return {
    target: {
      ...(target.node === undefined ? {} : { node: target.node }),
      ...(target.type === undefined ? {} : { type: target.type }),
      ...(target.vmid === undefined ? {} : { vmid: target.vmid }),
    },
  }
}

const refusalDecision = (error: PolicyRefusal): { decision: AuditDecision; rule?: string } => {
  switch (error._tag) {
    case "Forbidden":
    case "ProtectedGuest":
      return { decision: "denied", rule: error.rule }
    case "ConfirmationRequired":
      return { decision: "confirmation_required", rule: "confirmation" }
    case "ConfirmationDeclined":
      return { decision: "declined", rule: "confirmation" }
  }
}

const REFUSALS: ReadonlySet<string> = new Set([
  "Forbidden",
  "ProtectedGuest",
  "ConfirmationRequired",
  "ConfirmationDeclined",
  "AuditFailed",
])

const auditFailed =
  (stage: AuditStage, details: Record<string, unknown> = {}) =>
  (error: { readonly message: string }) =>
    new AuditFailed({ message: `The audit log could not be written: ${error.message}`, stage, details })

/** The task a mutation of this call started, if any (from what Proxmox answered). */
const startedTask = (upstream: ReadonlyArray<UpstreamCall>) =>
  upstream.find((u) => u.method !== "GET" && u.upid !== undefined)?.upid

/** How a call ended, with what the envelope and the caller need to know. */
export interface Ended<A, E> {
  readonly exit: Exit.Exit<ToolOutput<A>, E>
  readonly durationMs: number
  /** The task this call started, if any. */
  readonly upid: string | undefined
  /** Interrupted because the client cancelled (the interruption propagates). */
  readonly cancelledByClient: boolean
}

/**
 * The pipeline. Only the program itself is interruptible: a cancelled call still gets its audit
 * completion, and a client's cancel stops the task the call started. `finish` turns the end into
 * the caller's result inside the same protected region, so an interruption that arrived while
 * the program ran is seen there, not re-raised before it.
 */
const runCall = <Fields extends Schema.Struct.Fields, A, E extends PublicError, R, B, E2, R2>(
  entry: NamedTool<Tool<string, Fields, A, E, R>>,
  args: unknown,
  finish: (ended: Ended<A, E | PipelineError>) => Effect.Effect<B, E2, R2>,
): Effect.Effect<B, E2, R | R2 | InvokeServices | Schema.Struct.Context<Fields>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      const tool = entry.tool
      const call = yield* ToolCall
      const policy = yield* Policy
      const audit = yield* Audit
      const log = yield* UpstreamLog
      const upstream: Array<UpstreamCall> = []
      const stateChanging = isStateChanging(tool)
      const base = {
        principal: auditPrincipal(call.principal),
        tool: entry.name,
        ...(entry.aliasFor === undefined ? {} : { aliasOf: entry.aliasFor }),
        ...(typeof args === "object" && args !== null ? { args: { ...args } } : {}),
      }
      const record = (
        auditEntry: AuditEntry,
        durable: boolean,
        stage: AuditStage,
        details?: Record<string, unknown>,
      ) => audit.write(auditEntry, { durable }).pipe(Effect.mapError(auditFailed(stage, details)))
      const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - started)

      let targets: ReadonlyArray<Target> | undefined
      let writeAheadId: string | undefined
      // Set while the policy decides (which may mean waiting for a human's answer).
      let deciding = false

      const program = Effect.gen(function* () {
        const decoded = yield* tool.decode(args)
        targets = yield* policy.resolveTargets(tool, tool.targets(decoded.input))
        deciding = true
        yield* policy
          .authorize({
            entry,
            confirmArgument: decoded.control.confirm,
            principal: call.principal,
            targets,
            elicit: call.elicit,
          })
          .pipe(
            Effect.tapError((error) =>
              Effect.flatMap(elapsed, (durationMs) =>
                record(
                  {
                    event: "policy.denied",
                    ...base,
                    ...auditTarget(targets),
                    ...refusalDecision(error),
                    outcome: { ok: false, code: error.failure.code },
                    durationMs,
                  },
                  stateChanging,
                  "before",
                ),
              ),
            ),
          )
        deciding = false
        if (stateChanging) {
          // The id is chosen before the write, so an interruption during it cannot orphan the record.
          writeAheadId = randomUUID()
          yield* record(
            {
              event: "tool.started",
              id: writeAheadId,
              ...base,
              ...auditTarget(targets),
              decision: "allowed",
            },
            true,
            "before",
          )
        }
        return yield* tool.run(decoded)
      }).pipe(log.collect(upstream))

      const exit = yield* Effect.exit(restore(program))
      const interrupted = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
      const cancelledByClient = interrupted && call.cancelStopsTask()
      const upid = startedTask(upstream)
      if (cancelledByClient && upid !== undefined) {
        // The client cancelled: stop the task this call started (whatever the tier of pve_stop_task).
        const tasks = yield* Tasks
        yield* tasks.stop(upid).pipe(Effect.timeout("10 seconds"), Effect.ignore)
      }
      const durationMs = yield* elapsed
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      if (Exit.isFailure(exit) && !interrupted && Option.isNone(failure)) {
        yield* Effect.logError("tool defect", Cause.pretty(exit.cause))
      }
      const ended = { exit, durationMs, upid, cancelledByClient }
      if (Option.isSome(failure) && REFUSALS.has(failure.value._tag)) return yield* finish(ended)
      if (interrupted && deciding) {
        // Cancelled while the human was being asked: nothing was confirmed, nothing was sent.
        const written = yield* Effect.either(
          record(
            {
              event: "policy.denied",
              ...base,
              ...auditTarget(targets),
              decision: "declined",
              rule: "confirmation",
              outcome: { ok: false, code: "CANCELLED" },
              durationMs,
            },
            stateChanging,
            "before",
          ),
        )
        return yield* finish(written._tag === "Left" ? { ...ended, exit: Exit.fail(written.left) } : ended)
      }
      // The completion of a started call, or the single record of a read or of a call that
      // ended before its write-ahead (invalid input, unknown guest).
      const outcome = Exit.isSuccess(exit)
        ? { ok: true }
        : {
            ok: false,
            code: Option.isSome(failure)
              ? failure.value.failure.code
              : interrupted
                ? "CANCELLED"
                : "INTERNAL_ERROR",
          }
      // With LOG_LEVEL=debug each call is logged (redacted by the logger, like every line); the
      // line is not even built otherwise.
      if (LogLevel.lessThanEqual(yield* FiberRef.get(FiberRef.currentMinimumLogLevel), LogLevel.Debug)) {
        yield* Effect.logDebug(`tool call ${entry.name}: ${outcome.ok ? "ok" : outcome.code}`).pipe(
          Effect.annotateLogs({
            tool: entry.name,
            durationMs,
            ...(base.args === undefined ? {} : { args: base.args }),
          }),
        )
      }
      const completion: AuditEntry = {
        event: writeAheadId === undefined ? "tool.call" : "tool.completed",
        ...(writeAheadId === undefined ? {} : { id: writeAheadId }),
        ...base,
        ...auditTarget(targets),
        // A call that failed before the policy decided (invalid input, unknown guest) has no decision.
        ...(targets === undefined ? {} : { decision: "allowed" as const }),
        outcome,
        durationMs,
        ...(upstream.length === 0 ? {} : { upstream }),
      }
      const written = yield* Effect.either(
        record(completion, writeAheadId !== undefined, writeAheadId === undefined ? "read" : "after", {
          outcome,
          ...(upid === undefined ? {} : { upid }),
        }),
      )
      return yield* finish(written._tag === "Left" ? { ...ended, exit: Exit.fail(written.left) } : ended)
    }),
  )

/**
 * Runs one call and returns the tool's result, or fails with its typed error (policy refusals
 * and audit failures included). A cancelled call is interrupted.
 */
export const execute = <Fields extends Schema.Struct.Fields, A, E extends PublicError, R>(
  entry: NamedTool<Tool<string, Fields, A, E, R>>,
  args: unknown,
): Effect.Effect<ToolOutput<A>, E | PipelineError, R | InvokeServices | Schema.Struct.Context<Fields>> =>
  runCall(entry, args, (ended) => (ended.cancelledByClient ? Effect.interrupt : ended.exit)).pipe(
    (executed) => traced("tool.execute", { tool: entry.name }, executed),
  )

export interface InvokeOptions {
  /** A result whose JSON is larger is cut (lists) and marked `meta.truncated`. */
  readonly maxResultBytes: number
}

/** Runs one call and returns its result envelope (SPEC section 5), redacted. */
export const invoke = <Fields extends Schema.Struct.Fields, A, E extends PublicError, R>(
  entry: NamedTool<Tool<string, Fields, A, E, R>>,
  args: unknown,
  options: InvokeOptions,
): Effect.Effect<Envelope.Envelope, never, R | InvokeServices | Schema.Struct.Context<Fields>> =>
  runCall(entry, args, ({ exit, durationMs, upid, cancelledByClient }) =>
    Effect.gen(function* () {
      const redact = yield* Redactor
      if (Exit.isSuccess(exit))
        return Envelope.success(exit.value, durationMs, redact, options.maxResultBytes)
      if (cancelledByClient) return yield* Effect.interrupt
      const meta = { durationMs, ...(upid === undefined ? {} : { upid, node: upidNode(upid) ?? "" }) }
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) return Envelope.failure(failure.value.failure, meta, redact)
      if (Cause.isInterruptedOnly(exit.cause)) {
        // Not the client's doing (the server is shutting down): any task keeps running.
        return Envelope.failure(
          {
            code: "CANCELLED",
            message: `The server stopped before the call finished${upid === undefined ? "" : "; the Proxmox task keeps running"}.`,
            ...(upid === undefined ? {} : { details: { upid } }),
          },
          meta,
          redact,
        )
      }
      return Envelope.failure(
        { code: "INTERNAL_ERROR", message: "internal error; see the server log" },
        meta,
        redact,
      )
    }),
  ).pipe((invoked) => traced("tool.invoke", { tool: entry.name }, invoked))

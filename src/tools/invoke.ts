/**
 * Runs one tool call, independent of the transport (MCP now, Sutian's REST API later):
 *   decode the input strictly -> policy (target, principal rules, protection, confirmation)
 *   -> audit write-ahead for state-changing tools -> the tool's program (and its task, with
 *   `wait`) -> audit completion -> the result envelope of SPEC section 5.
 * Every refusal is audited with the rule that refused. An audit write failure fails the call;
 * before a mutation that means nothing is sent. Interruption (a cancelled call) is audited and
 * then propagates; a cancelled `wait` stops the Proxmox task this call started.
 */
import { randomUUID } from "node:crypto"
import { Cause, Effect, Exit, Option, ParseResult, Schema } from "effect"
import type { AuditDecision, AuditEntry, AuditPrincipal, UpstreamCall } from "../audit/port.js"
import { Audit } from "../audit/port.js"
import {
  AuditFailed,
  type AuditStage,
  type Failure,
  InvalidInput,
  type ToolError,
  toFailure,
} from "../domain/errors.js"
import { upidNode } from "../domain/ids.js"
import type { Principal } from "../domain/principal.js"
import { redactSecrets } from "../domain/redact.js"
import { isStateChanging, Policy, type PolicyRefusal, type Target } from "../policy/policy.js"
import { currentUpstreamCalls } from "../proxmox/api.js"
import { Tasks } from "../proxmox/tasks.js"
import type { CatalogEntry } from "./catalog.js"
import { followToEnd } from "./follow.js"
import {
  DEFAULT_WAIT_SECONDS,
  inputSchema,
  ToolCall,
  type ToolDeclaration,
  type ToolOutput,
  type ToolServices,
} from "./tool.js"

export interface ResultMeta {
  readonly durationMs: number
  readonly node?: string
  readonly upid?: string
  readonly warnings?: ReadonlyArray<string>
  readonly truncated?: boolean
}

export type Envelope =
  | { readonly ok: true; readonly data: unknown; readonly meta: ResultMeta }
  | { readonly ok: false; readonly error: Failure; readonly meta: ResultMeta }

export interface InvokeOptions {
  /** A result whose JSON is larger is cut (lists) and marked `meta.truncated`. */
  readonly maxResultBytes: number
  /** Removes secrets from what goes back to the client (default: key and pattern rules only). */
  readonly redact?: (value: unknown) => unknown
}

export type InvokeServices = ToolServices | Policy | Audit

/** Schema failures as `field: problem` lines; the first field is named in `details.field`. */
const describeParseError = (error: ParseResult.ParseError): InvalidInput => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
    // Optional fields report their `undefined` alternative too; that line says nothing useful.
    .filter((issue) => !issue.message.startsWith("Expected undefined"))
    .map((issue) => ({
      field: issue.path.join("."),
      message: issue._tag === "Unexpected" ? "is not a parameter of this tool" : issue.message,
    }))
  const first = issues[0]
  const lines = issues.map((i) => (i.field === "" ? i.message : `${i.field}: ${i.message}`))
  return new InvalidInput({
    message: `Invalid input: ${lines.join("; ") || error.message}`,
    ...(first?.field ? { field: first.field } : {}),
    issues: lines,
  })
}

const decodeInput = (tool: ToolDeclaration, args: unknown) =>
  Schema.decodeUnknown(inputSchema(tool), { onExcessProperty: "error", errors: "all" })(args ?? {}).pipe(
    Effect.mapError(describeParseError),
  ) as Effect.Effect<Record<string, unknown>, InvalidInput>

/** With `wait: true`, follows the task the program started. */
const followTask = (input: Record<string, unknown>, output: ToolOutput) =>
  Effect.gen(function* () {
    const started = output.data as { upid?: unknown } | null
    if (input.wait !== true || typeof started?.upid !== "string") return output
    const timeoutSeconds =
      typeof input.timeoutSeconds === "number" ? input.timeoutSeconds : DEFAULT_WAIT_SECONDS
    const result = yield* followToEnd(started.upid, timeoutSeconds)
    return { ...output, data: result, upid: result.upid, node: result.node } satisfies ToolOutput
  })

/** The task a mutation of this call started, if any (from what Proxmox answered). */
const startedTask = (upstream: ReadonlyArray<UpstreamCall>) =>
  upstream.find((u) => u.method !== "GET" && u.upid !== undefined)?.upid

const cutToSize = (data: unknown, maxBytes: number): { data: unknown; truncated: boolean } => {
  const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? "")
  if (!Array.isArray(data) || size(data) <= maxBytes) return { data, truncated: false }
  let low = 0
  let high = data.length
  while (low < high) {
    const mid = Math.ceil((low + high) / 2)
    if (size(data.slice(0, mid)) <= maxBytes) low = mid
    else high = mid - 1
  }
  return { data: data.slice(0, low), truncated: true }
}

const auditPrincipal = (principal: Principal): AuditPrincipal => ({
  sub: principal.sub,
  role: principal.role,
  transport: principal.transport,
  ...(principal.ip === undefined ? {} : { ip: principal.ip }),
})

const auditTarget = (target: Target | undefined) =>
  target === undefined ||
  (target.node === undefined && target.type === undefined && target.vmid === undefined)
    ? {}
    : {
        target: {
          ...(target.node === undefined ? {} : { node: target.node }),
          ...(target.type === undefined ? {} : { type: target.type }),
          ...(target.vmid === undefined ? {} : { vmid: target.vmid }),
        },
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

const isRefusal = (error: ToolError): error is PolicyRefusal =>
  error._tag === "Forbidden" ||
  error._tag === "ProtectedGuest" ||
  error._tag === "ConfirmationRequired" ||
  error._tag === "ConfirmationDeclined"

const auditFailed =
  (stage: AuditStage, details: Record<string, unknown> = {}) =>
  (error: { readonly message: string }) =>
    new AuditFailed({ message: `The audit log could not be written: ${error.message}`, stage, details })

const envelopeOf = (
  exit: Exit.Exit<ToolOutput, ToolError>,
  durationMs: number,
  options: InvokeOptions,
  /** The task this call started, shown in a failure's meta too. */
  upid?: string,
): Envelope => {
  const redact = options.redact ?? redactSecrets
  if (Exit.isFailure(exit)) {
    const failure = Cause.failureOption(exit.cause)
    const meta = { durationMs, ...(upid === undefined ? {} : { upid, node: upidNode(upid) ?? "" }) }
    return Option.isSome(failure)
      ? { ok: false, error: redact(toFailure(failure.value)) as Failure, meta }
      : { ok: false, error: { code: "INTERNAL_ERROR", message: "internal error; see the server log" }, meta }
  }
  const output = exit.value
  const full = redact(output.data)
  const { data, truncated } = cutToSize(full, options.maxResultBytes)
  const warnings = [
    ...(output.warnings ?? []),
    ...(truncated
      ? [
          `Result cut to ${(data as Array<unknown>).length} of ${(full as Array<unknown>).length} entries (MCP_MAX_RESULT_BYTES); narrow the query with limit/offset or a filter.`,
        ]
      : []),
  ]
  return {
    ok: true,
    data,
    meta: {
      durationMs,
      ...(output.node === undefined ? {} : { node: output.node }),
      ...(output.upid === undefined ? {} : { upid: output.upid }),
      ...(warnings.length === 0 ? {} : { warnings }),
      ...(truncated ? { truncated: true } : {}),
    },
  }
}

const outcomeOf = (exit: Exit.Exit<ToolOutput, ToolError>) => {
  if (Exit.isSuccess(exit)) return { ok: true }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return { ok: false, code: toFailure(failure.value).code }
  return { ok: false, code: Cause.isInterruptedOnly(exit.cause) ? "CANCELLED" : "INTERNAL_ERROR" }
}

export const invoke = (
  entry: CatalogEntry,
  args: unknown,
  options: InvokeOptions,
): Effect.Effect<Envelope, never, InvokeServices> =>
  // Only the program itself is interruptible: a cancelled call still gets its audit completion.
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const started = Date.now()
      const tool = entry.tool
      const call = yield* ToolCall
      const policy = yield* Policy
      const audit = yield* Audit
      const upstream: Array<UpstreamCall> = []
      const stateChanging = isStateChanging(tool)
      const base = {
        principal: auditPrincipal(call.principal),
        tool: entry.name,
        ...(entry.aliasFor === undefined ? {} : { aliasOf: entry.aliasFor }),
        ...(typeof args === "object" && args !== null ? { args: args as Record<string, unknown> } : {}),
      }
      const record = (
        entry: AuditEntry,
        durable: boolean,
        stage: AuditStage,
        details?: Record<string, unknown>,
      ) => audit.write(entry, { durable }).pipe(Effect.mapError(auditFailed(stage, details)))

      let target: Target | undefined
      let writeAheadId: string | undefined

      const program = Effect.gen(function* () {
        const input = yield* decodeInput(tool, args)
        target = yield* policy.resolveTarget(entry, input)
        yield* policy
          .authorize({ entry, input, principal: call.principal, target, elicit: call.elicit })
          .pipe(
            Effect.tapError((error) =>
              record(
                {
                  event: "policy.denied",
                  ...base,
                  ...auditTarget(target),
                  ...refusalDecision(error),
                  outcome: { ok: false, code: toFailure(error).code },
                  durationMs: Date.now() - started,
                },
                stateChanging,
                "before",
              ),
            ),
          )
        if (stateChanging) {
          // The id is chosen before the write, so an interruption during it cannot orphan the record.
          writeAheadId = randomUUID()
          yield* record(
            { event: "tool.started", id: writeAheadId, ...base, ...auditTarget(target), decision: "allowed" },
            true,
            "before",
          )
        }
        // The program sees only its declared fields; wait/timeoutSeconds/confirm are the framework's.
        const declared = Object.fromEntries(Object.entries(input).filter(([key]) => key in tool.input))
        const output = yield* tool.run(declared)
        return tool.startsTask ? yield* followTask(input, output) : output
      }).pipe(Effect.locally(currentUpstreamCalls, upstream))

      const exit = yield* Effect.exit(restore(program))
      const interrupted = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
      const cancelledByClient = interrupted && (call.cancelStopsTask?.() ?? true)
      const upid = startedTask(upstream)
      if (cancelledByClient && upid !== undefined) {
        // The client cancelled: stop the task this call started (whatever the tier of pve_stop_task).
        const tasks = yield* Tasks
        yield* tasks.stop(upid).pipe(Effect.timeout("10 seconds"), Effect.ignore)
      }
      const durationMs = Date.now() - started
      if (Exit.isFailure(exit) && !interrupted && Option.isNone(Cause.failureOption(exit.cause))) {
        yield* Effect.logError("tool defect", Cause.pretty(exit.cause))
      }
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      const refused =
        Option.isSome(failure) && (isRefusal(failure.value) || failure.value._tag === "AuditFailed")
      if (!refused) {
        // The completion of a started call, or the single record of a read or of a call that
        // ended before its write-ahead (invalid input, unknown guest).
        const outcome = outcomeOf(exit)
        const completion: AuditEntry = {
          event: writeAheadId === undefined ? "tool.call" : "tool.completed",
          ...(writeAheadId === undefined ? {} : { id: writeAheadId }),
          ...base,
          ...auditTarget(target),
          // A call that failed before the policy decided (invalid input, unknown guest) has no decision.
          ...(target === undefined ? {} : { decision: "allowed" as const }),
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
        if (written._tag === "Left") return envelopeOf(Exit.fail(written.left), durationMs, options, upid)
      }
      if (cancelledByClient) return yield* Effect.interrupt
      if (interrupted) {
        // Not the client's doing (the server is shutting down): any task keeps running.
        const stopped: Envelope = {
          ok: false,
          error: {
            code: "CANCELLED",
            message: `The server stopped before the call finished${upid === undefined ? "" : "; the Proxmox task keeps running"}.`,
            ...(upid === undefined ? {} : { details: { upid } }),
          },
          meta: { durationMs, ...(upid === undefined ? {} : { upid, node: upidNode(upid) ?? "" }) },
        }
        return stopped
      }
      return envelopeOf(exit, durationMs, options, upid)
    }),
  ).pipe(Effect.withSpan("tool.invoke", { attributes: { tool: entry.name } }))

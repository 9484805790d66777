/**
 * Runs one tool call, independent of the transport: decode the input strictly, apply the
 * confirmation gate, run the program, wait for its task when asked, and wrap everything in the
 * result envelope of SPEC section 5. Interruption (a cancelled call) propagates to the caller;
 * a cancelled `wait` stops the Proxmox task this call started.
 */
import { Cause, Effect, Option, ParseResult, Schema } from "effect"
import {
  ConfirmationRequired,
  type Failure,
  InvalidInput,
  type ToolError,
  toFailure,
} from "../domain/errors.js"
import { Tasks } from "../proxmox/tasks.js"
import { inputSchema, ToolCall, type ToolDeclaration, type ToolOutput, type ToolServices } from "./tool.js"

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
}

export const DEFAULT_WAIT_SECONDS = 300

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

/** NANDI's rule until the full policy layer: a confirm tool runs only with `confirm: true`. */
const requireConfirmation = (tool: ToolDeclaration, input: Record<string, unknown>) =>
  tool.confirm && input.confirm !== true
    ? Effect.fail(
        new ConfirmationRequired({
          message: `${tool.name} changes the state of the cluster and needs confirmation.`,
          hint: "Check the target, then call again with confirm: true.",
          impact: tool.impact ?? tool.description,
        }),
      )
    : Effect.void

/** With `wait: true`, follows the task the program started, reporting progress. */
const followTask = (input: Record<string, unknown>, output: ToolOutput) =>
  Effect.gen(function* () {
    const started = output.data as { upid?: unknown; node?: unknown } | null
    if (input.wait !== true || typeof started?.upid !== "string") return output
    const upid = started.upid
    const tasks = yield* Tasks
    const call = yield* ToolCall
    let step = 0
    const result = yield* tasks
      .wait(upid, {
        timeoutSeconds:
          typeof input.timeoutSeconds === "number" ? input.timeoutSeconds : DEFAULT_WAIT_SECONDS,
        onUpdate: (update) =>
          call.progress({
            progress: ++step,
            ...(update.status === "stopped" ? { total: step } : {}),
            message:
              update.status === "stopped"
                ? `task ${update.exitstatus ?? "stopped"}`
                : `task ${update.status}: ${upid}`,
          }),
      })
      .pipe(
        // Cancelling the call stops the task this call started, whatever the tier of pve_stop_task.
        Effect.onInterrupt(() => tasks.stop(upid).pipe(Effect.timeout("10 seconds"), Effect.ignore)),
      )
    return { ...output, data: result, upid, node: result.node } satisfies ToolOutput
  })

const cutToSize = (data: unknown, maxBytes: number): { data: unknown; truncated: boolean } => {
  const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? "")
  if (size(data) <= maxBytes || !Array.isArray(data)) return { data, truncated: false }
  let low = 0
  let high = data.length
  while (low < high) {
    const mid = Math.ceil((low + high) / 2)
    if (size(data.slice(0, mid)) <= maxBytes) low = mid
    else high = mid - 1
  }
  return { data: data.slice(0, low), truncated: true }
}

export const invoke = (
  tool: ToolDeclaration,
  args: unknown,
  options: InvokeOptions,
): Effect.Effect<Envelope, never, ToolServices> =>
  Effect.gen(function* (): Effect.fn.Return<Envelope, never, ToolServices> {
    const started = Date.now()
    const outcome = yield* Effect.gen(function* () {
      const input = yield* decodeInput(tool, args)
      yield* requireConfirmation(tool, input)
      // The program sees only its declared fields; wait/timeoutSeconds/confirm are the framework's.
      const declared = Object.fromEntries(Object.entries(input).filter(([key]) => key in tool.input))
      const output = yield* tool.run(declared)
      return tool.startsTask ? yield* followTask(input, output) : output
    }).pipe(
      Effect.either,
      Effect.catchAllDefect((defect) =>
        Effect.logError("tool defect", Cause.pretty(Cause.die(defect))).pipe(Effect.as(Option.none<never>())),
      ),
    )
    const durationMs = Date.now() - started
    if (Option.isOption(outcome)) {
      return {
        ok: false,
        error: { code: "INTERNAL_ERROR", message: "internal error; see the server log" },
        meta: { durationMs },
      }
    }
    if (outcome._tag === "Left") {
      return { ok: false, error: toFailure(outcome.left as ToolError), meta: { durationMs } }
    }
    const output = outcome.right
    const { data, truncated } = cutToSize(output.data, options.maxResultBytes)
    const meta: ResultMeta = {
      durationMs,
      ...(output.node === undefined ? {} : { node: output.node }),
      ...(output.upid === undefined ? {} : { upid: output.upid }),
      ...(output.warnings === undefined || output.warnings.length === 0 ? {} : { warnings: output.warnings }),
      ...(truncated ? { truncated: true } : {}),
    }
    return { ok: true, data, meta }
  }).pipe(Effect.withSpan("tool.invoke", { attributes: { tool: tool.name } }))

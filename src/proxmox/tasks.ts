/**
 * Waiting for and stopping Proxmox tasks (UPIDs). A task is polled on the node named inside its
 * UPID; `OK` and `WARNINGS: N` are success, anything else is the error text (WIRE.md 2.5).
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { InvalidInput, TaskFailed, type TaskResult, TaskWaitTimeout } from "../domain/errors.js"
import { upidNode } from "../domain/ids.js"
import { type ApiError, ProxmoxApi } from "./api.js"

export interface TaskUpdate {
  readonly upid: string
  readonly status: string
  readonly exitstatus?: string
}

export interface WaitOptions {
  readonly timeoutSeconds: number
  /** Called once per observed status change. */
  readonly onUpdate?: (update: TaskUpdate) => Effect.Effect<void>
}

export interface TasksService {
  readonly wait: (
    upid: string,
    options: WaitOptions,
  ) => Effect.Effect<TaskResult, TaskFailed | TaskWaitTimeout | ApiError>
  readonly stop: (upid: string) => Effect.Effect<void, ApiError>
  readonly logTail: (upid: string, lines: number) => Effect.Effect<ReadonlyArray<string>, ApiError>
}

export class Tasks extends Context.Tag("proxmox-mcp/Tasks")<Tasks, TasksService>() {}

/** Polls quickly at first (most tasks are short), then every 2 s (WIRE.md 2.8: every 1-2 s). */
export const taskPollSchedule = Schedule.exponential("250 millis", 1.5).pipe(
  Schedule.union(Schedule.spaced("2 seconds")),
)

export const LOG_TAIL_LINES = 20

/** `400 upid: no such task` shortly after a task was started is the task not being visible yet. */
const isTaskNotYetKnown = (error: ApiError) =>
  error._tag === "ProxmoxError" && error.status === 400 && /no such task/i.test(error.errors?.upid ?? "")

const taskLagSchedule = Schedule.spaced("250 millis").pipe(Schedule.upTo("5 seconds"))

/** `WARNINGS: 3` -> 3; OK -> 0; an error text -> undefined. */
export const warningsCount = (exitstatus: string): number | undefined => {
  if (exitstatus === "OK") return 0
  const match = /^WARNINGS: (\d+)$/.exec(exitstatus)
  return match ? Number(match[1]) : undefined
}

const nodeOf = (upid: string) => {
  const node = upidNode(upid)
  return node === undefined
    ? Effect.fail(new InvalidInput({ message: `'${upid}' is not a task UPID`, field: "upid" }))
    : Effect.succeed(node)
}

export const make = Effect.gen(function* () {
  const api = yield* ProxmoxApi

  const status = (upid: string, node: string) =>
    Effect.map(
      api
        .request({ method: "GET", path: "/nodes/{node}/tasks/{upid}/status", pathParams: { node, upid } })
        // Right after dispatch PVE may not know the task yet (WIRE.md 2.6): ask again briefly.
        .pipe(Effect.retry({ schedule: taskLagSchedule, while: isTaskNotYetKnown })),
      (data) => {
        const record = (data ?? {}) as Record<string, unknown>
        return {
          upid,
          status: String(record.status ?? "unknown"),
          ...(record.exitstatus === undefined ? {} : { exitstatus: String(record.exitstatus) }),
        } satisfies TaskUpdate
      },
    )

  const logTail = (upid: string, lines: number) =>
    Effect.gen(function* () {
      const node = yield* nodeOf(upid)
      const probe = yield* api.requestEnvelope({
        method: "GET",
        path: "/nodes/{node}/tasks/{upid}/log",
        pathParams: { node, upid },
        params: { start: 0, limit: 1 },
      })
      const total = probe.total ?? 0
      const tail = yield* api.request({
        method: "GET",
        path: "/nodes/{node}/tasks/{upid}/log",
        pathParams: { node, upid },
        params: { start: Math.max(0, total - lines), limit: lines },
      })
      return (Array.isArray(tail) ? tail : []).map((line) => String((line as { t?: unknown }).t ?? ""))
    })

  const stop = (upid: string) =>
    Effect.gen(function* () {
      const node = yield* nodeOf(upid)
      yield* api.request({ method: "DELETE", path: "/nodes/{node}/tasks/{upid}", pathParams: { node, upid } })
    })

  const wait = (upid: string, options: WaitOptions) =>
    Effect.gen(function* () {
      const node = yield* nodeOf(upid)
      let last: string | undefined
      const observe = (update: TaskUpdate) => {
        const key = `${update.status}/${update.exitstatus ?? ""}`
        if (key === last) return Effect.void
        last = key
        return options.onUpdate?.(update) ?? Effect.void
      }
      const final = yield* status(upid, node).pipe(
        Effect.tap(observe),
        Effect.repeat(
          Schedule.passthrough(
            Schedule.whileInput(taskPollSchedule, (update: TaskUpdate) => update.status !== "stopped"),
          ),
        ),
        Effect.timeoutFail({
          duration: Duration.seconds(options.timeoutSeconds),
          onTimeout: () => new TaskWaitTimeout({ upid, node, timeoutSeconds: options.timeoutSeconds }),
        }),
      )
      const exitstatus = final.exitstatus ?? "unknown"
      const warnings = warningsCount(exitstatus)
      const result: TaskResult = {
        upid,
        node,
        status: "stopped",
        exitstatus,
        success: warnings !== undefined,
        warnings: warnings ?? 0,
        logTail: yield* logTail(upid, LOG_TAIL_LINES),
      }
      if (!result.success) return yield* new TaskFailed({ result })
      return result
    })

  return Tasks.of({ wait, stop, logTail })
})

export const layer = Layer.effect(Tasks, make)

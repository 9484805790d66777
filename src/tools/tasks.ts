import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { IntegerInput, VMID_MAX, VMID_MIN } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { limitField, nodeField, optionalUpidNode, upidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import { followToEnd } from "./follow.js"
import * as Tool from "./tool.js"

const taskStatus = Endpoint.get("/nodes/{node}/tasks/{upid}/status")
const taskLog = Endpoint.get("/nodes/{node}/tasks/{upid}/log")
const stopTask = Endpoint.del("/nodes/{node}/tasks/{upid}")

const taskInput = { node: optionalUpidNode, upid: upidField }

export const taskTools = [
  Tool.request({
    name: "pve_list_tasks",
    title: "List tasks on a node",
    description:
      "One node's recent tasks, newest first (upid, type, id, user, times, status); filter to investigate a failure.",
    category: "tasks",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/tasks"),
    input: {
      node: nodeField,
      limit: limitField("Max tasks (default 50)"),
      start: Schema.optional(IntegerInput({ minimum: 0, maximum: 1_000_000, description: "Tasks to skip" })),
      vmid: Schema.optional(
        IntegerInput({ minimum: VMID_MIN, maximum: VMID_MAX, description: "Only this guest's tasks" }),
      ),
      typefilter: Schema.optional(
        Schema.String.pipe(
          Schema.pattern(/^[a-z][a-z0-9_-]*$/, {
            message: () => "a task type: lower-case letters, digits, _ or -",
          }),
        ).annotations({ description: "Only this type (qmstart, vzdump, ...)" }),
      ),
      errors: Schema.optional(Schema.Boolean.annotations({ description: "Only tasks that failed" })),
      source: Schema.optional(
        Schema.Literal("archive", "active", "all").annotations({
          description: "archive (default), active or all",
        }),
      ),
      since: Schema.optional(
        IntegerInput({
          minimum: 0,
          maximum: 4_102_444_800,
          description: "Only tasks started since (epoch seconds)",
        }),
      ),
      until: Schema.optional(
        IntegerInput({
          minimum: 0,
          maximum: 4_102_444_800,
          description: "Only tasks started until (epoch seconds)",
        }),
      ),
      userfilter: Schema.optional(
        Schema.String.pipe(
          Schema.maxLength(128),
          Schema.pattern(/^[^\s:/]+$/, { message: () => "a user id or part of one" }),
        ).annotations({ description: "Only tasks of users matching this (e.g. root@pam)" }),
      ),
      statusfilter: Schema.optional(
        Schema.String.pipe(
          Schema.pattern(/^(ok|warning|error|unknown)(,(ok|warning|error|unknown))*$/, {
            message: () => "a list of ok, warning, error, unknown",
          }),
        ).annotations({ description: "Only these end states, e.g. error,warning" }),
      ),
    },
    params: ({ node: _node, ...params }) => ({ ...params, limit: params.limit ?? 50 }),
  }),
  Tool.request({
    name: "pve_get_task_status",
    title: "Get task status",
    description: "A task's status: running or stopped, then exitstatus (OK, 'WARNINGS: N' or the error).",
    category: "tasks",
    tier: "read-only",
    endpoint: taskStatus,
    input: taskInput,
  }),
  Tool.request({
    name: "pve_get_task_log",
    title: "Get task log",
    description:
      "A task's log lines (n, t) and total; the last says TASK OK, TASK WARNINGS: N or TASK ERROR.",
    category: "tasks",
    tier: "read-only",
    endpoint: taskLog,
    input: {
      ...taskInput,
      start: Schema.optional(
        IntegerInput({ minimum: 0, maximum: 10_000_000, description: "First line (0-based)" }),
      ),
      limit: limitField("Max lines (default 500)", 50_000),
    },
    params: (input) => ({ start: input.start, limit: input.limit ?? 500 }),
  }),
  Tool.make({
    name: "pve_wait_task",
    title: "Wait for a task",
    description:
      "Waits for a task to end, like wait: true (continue after a TIMEOUT); never stops it. Failed: TASK_FAILED.",
    category: "tasks",
    tier: "read-only",
    input: { ...taskInput, timeoutSeconds: Tool.waitTimeoutField("Max seconds to wait") },
    endpoints: [taskStatus, taskLog],
    targets: (input) => [TargetRef.Task({ upid: input.upid })],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* Tool.taskNode(input)
        const result = yield* followToEnd(input.upid, input.timeoutSeconds ?? Tool.DEFAULT_WAIT_SECONDS)
        return { data: result, node, upid: input.upid }
      }),
  }),
  Tool.make({
    name: "pve_stop_task",
    title: "Stop a running task",
    description: "Aborts a running task (it ends in error).",
    category: "tasks",
    tier: "full",
    confirm: true,
    idempotent: true,
    impact:
      "The task is aborted part-way; the operation it performed (backup, migration, clone, ...) is left unfinished.",
    input: taskInput,
    endpoints: [stopTask],
    targets: (input) => [TargetRef.Task({ upid: input.upid })],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* Tool.taskNode(input)
        yield* stopTask.call({ node, upid: input.upid })
        return { data: { stopped: true, upid: input.upid, node }, node, upid: input.upid }
      }),
  }),
]

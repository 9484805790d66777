import { Effect, Schema } from "effect"
import { InvalidInput } from "../domain/errors.js"
import { IntegerInput, upidNode, VMID_MAX, VMID_MIN } from "../domain/ids.js"
import { Tasks } from "../proxmox/tasks.js"
import { limitField, nodeField, optionalUpidNode, pve, requireNode, upidField } from "./common.js"
import { followToEnd } from "./follow.js"
import { DEFAULT_WAIT_SECONDS, defineTool, waitTimeoutField } from "./tool.js"

/**
 * The node that runs a task is named in its UPID; a `node` argument must agree with it, and the
 * node must exist (UNKNOWN_NODE otherwise, like every node-addressed tool).
 */
const taskNode = (input: { readonly node?: string | undefined; readonly upid: string }) => {
  const node = upidNode(input.upid)!
  return input.node !== undefined && input.node !== node
    ? Effect.fail(
        new InvalidInput({
          message: `node '${input.node}' does not match the UPID's node '${node}'`,
          field: "node",
        }),
      )
    : requireNode(node)
}

export const taskTools = [
  defineTool({
    name: "pve_list_tasks",
    title: "List tasks on a node",
    description:
      "Recent and running tasks of one node, newest first: upid, type (qmstart, vzdump, ...), id, user, start and end time, status. Filter by vmid, type or errors to investigate a failure.",
    category: "tasks",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: {
      node: nodeField,
      limit: limitField("Return at most this many tasks (default 50)."),
      start: Schema.optional(
        IntegerInput({
          minimum: 0,
          maximum: 1_000_000,
          description: "Skip this many tasks first (for paging).",
        }),
      ),
      vmid: Schema.optional(
        IntegerInput({ minimum: VMID_MIN, maximum: VMID_MAX, description: "Only tasks of this guest" }),
      ),
      typefilter: Schema.optional(
        Schema.String.pipe(
          Schema.pattern(/^[a-z][a-z0-9_-]*$/, {
            message: () => "a task type: lower-case letters, digits, _ or -",
          }),
        ).annotations({
          description: "Only tasks of this type (e.g. qmstart, vzdump)",
        }),
      ),
      errors: Schema.optional(Schema.Boolean.annotations({ description: "Only tasks that failed" })),
      source: Schema.optional(
        Schema.Literal("archive", "active", "all").annotations({
          description: "archive (finished, default), active (running) or all",
        }),
      ),
    },
    endpoints: [{ method: "GET", path: "/nodes/{node}/tasks" }],
    run: (input) =>
      Effect.gen(function* () {
        const { node: requested, ...params } = input
        const node = yield* requireNode(requested)
        const data = yield* pve({
          method: "GET",
          path: "/nodes/{node}/tasks",
          pathParams: { node },
          params: { ...params, limit: params.limit ?? 50 },
        })
        return { data, node }
      }),
  }),
  defineTool({
    name: "pve_get_task_status",
    title: "Get task status",
    description:
      "Status of one task by UPID: running or stopped, and when stopped its exitstatus (OK, 'WARNINGS: N', or the error text).",
    category: "tasks",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: { node: optionalUpidNode, upid: upidField },
    endpoints: [{ method: "GET", path: "/nodes/{node}/tasks/{upid}/status" }],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* taskNode(input)
        const data = yield* pve({
          method: "GET",
          path: "/nodes/{node}/tasks/{upid}/status",
          pathParams: { node, upid: input.upid },
        })
        return { data, node, upid: input.upid }
      }),
  }),
  defineTool({
    name: "pve_get_task_log",
    title: "Get task log",
    description:
      "Log lines of one task by UPID (line number n and text t), with the total line count. The last line says TASK OK, TASK WARNINGS: N or TASK ERROR: reason.",
    category: "tasks",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: {
      node: optionalUpidNode,
      upid: upidField,
      start: Schema.optional(
        IntegerInput({ minimum: 0, maximum: 10_000_000, description: "First line (0-based)" }),
      ),
      limit: limitField("Return at most this many lines (default 500).", 50_000),
    },
    endpoints: [{ method: "GET", path: "/nodes/{node}/tasks/{upid}/log" }],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* taskNode(input)
        const data = yield* pve({
          method: "GET",
          path: "/nodes/{node}/tasks/{upid}/log",
          pathParams: { node, upid: input.upid },
          params: { start: input.start, limit: input.limit ?? 500 },
        })
        return { data, node, upid: input.upid }
      }),
  }),
  defineTool({
    name: "pve_wait_task",
    title: "Wait for a task",
    description:
      "Waits for a running task (by UPID) to finish, with progress notifications, and returns its exit status and the last log lines, like a task-starting tool called with wait: true. Use it to continue after such a call ended in TIMEOUT, or to follow any task. Waiting never stops the task; a task that ended in error is TASK_FAILED.",
    category: "tasks",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: {
      node: optionalUpidNode,
      upid: upidField,
      timeoutSeconds: waitTimeoutField("Give up waiting"),
    },
    endpoints: [
      { method: "GET", path: "/nodes/{node}/tasks/{upid}/status" },
      { method: "GET", path: "/nodes/{node}/tasks/{upid}/log" },
    ],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* taskNode(input)
        const result = yield* followToEnd(input.upid, input.timeoutSeconds ?? DEFAULT_WAIT_SECONDS)
        return { data: result, node, upid: input.upid }
      }),
  }),
  defineTool({
    name: "pve_stop_task",
    title: "Stop a running task",
    description:
      "Stops a running Proxmox task by UPID (the task ends with an error status). Needs confirmation.",
    category: "tasks",
    tier: "full",
    destructive: true,
    confirm: true,
    idempotent: true,
    impact:
      "The task is aborted part-way; the operation it performed (backup, migration, clone, ...) is left unfinished.",
    input: { node: optionalUpidNode, upid: upidField },
    endpoints: [{ method: "DELETE", path: "/nodes/{node}/tasks/{upid}" }],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* taskNode(input)
        const tasks = yield* Tasks
        yield* tasks.stop(input.upid)
        return { data: { stopped: true, upid: input.upid, node }, node, upid: input.upid }
      }),
  }),
]

/**
 * Following a Proxmox task to its end, with progress notifications: used by task-starting tools
 * called with `wait: true` and by `pve_wait_task`.
 */
import * as Effect from "effect/Effect"
import { TaskWaitFailed } from "../domain/errors.js"
import { upidNode } from "../domain/ids.js"
import { Tasks } from "../proxmox/tasks.js"
import { ToolCall } from "./call.js"

export const followToEnd = (upid: string, timeoutSeconds: number) =>
  Effect.gen(function* () {
    const node = upidNode(upid) ?? ""
    const tasks = yield* Tasks
    const call = yield* ToolCall
    let step = 0
    return yield* tasks
      .wait(upid, {
        timeoutSeconds,
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
        // Losing contact while waiting must not lose the task: the error keeps its UPID.
        Effect.catchTags({
          ProxmoxError: (cause) => Effect.fail(new TaskWaitFailed({ upid, node, cause })),
          OutcomeUnknown: (cause) => Effect.fail(new TaskWaitFailed({ upid, node, cause })),
          InvalidInput: (cause) => Effect.fail(new TaskWaitFailed({ upid, node, cause })),
        }),
      )
  })

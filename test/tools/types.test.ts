/**
 * The framework's types, checked by `npm run typecheck`: a tool's error type names what it can
 * fail with, so `catchTag` accepts exactly those tags. The `@ts-expect-error` lines fail the
 * type check if the error types grow wrong (e.g. every tool failing with every error again).
 */
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { toolNamed } from "../../src/tools/catalog.js"
import { callTool } from "../../src/tools/client.js"
import type { Tool } from "../../src/tools/tool.js"

/** An effect that fails with exactly the error type of `tool` (never run). */
const failsLike = <T extends Tool.Any>(_tool: T) =>
  Effect.failSync((): Tool.Error<T> => {
    throw new Error("type-level only")
  })

const typed = () => {
  const listNodes = failsLike(toolNamed("pve_list_nodes"))
  const stopVm = failsLike(toolNamed("pve_stop_qemu_vm"))
  const nodeStatus = failsLike(toolNamed("pve_get_node_status"))
  return [
    // A tool that confirms can be refused for want of a confirmation; it can hit a protected guest.
    stopVm.pipe(Effect.catchTag("ConfirmationRequired", () => Effect.void)),
    stopVm.pipe(Effect.catchTag("ProtectedGuest", () => Effect.void)),
    stopVm.pipe(Effect.catchTag("TaskFailed", () => Effect.void)),
    nodeStatus.pipe(Effect.catchTag("UnknownNode", () => Effect.void)),
    listNodes.pipe(Effect.catchTag("Forbidden", () => Effect.void)),
    // The call API keeps the tool's errors (and may add the pipeline's).
    callTool(toolNamed("pve_get_node_status"), { node: "pve1" }).pipe(
      Effect.catchTag("UnknownNode", () => Effect.void),
    ),
    // @ts-expect-error a read-only tool never asks for a confirmation
    listNodes.pipe(Effect.catchTag("ConfirmationRequired", () => Effect.void)),
    // @ts-expect-error a read-only tool is never refused as acting on a protected guest
    nodeStatus.pipe(Effect.catchTag("ProtectedGuest", () => Effect.void)),
    // @ts-expect-error a tool that starts no task cannot fail as one
    nodeStatus.pipe(Effect.catchTag("TaskFailed", () => Effect.void)),
  ]
}

describe("tool types", () => {
  it("are checked at compile time (see the @ts-expect-error lines)", () => {
    expect(typed()).toHaveLength(9)
  })
})

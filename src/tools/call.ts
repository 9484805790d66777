/**
 * The request context of one tool call, provided by the transport for each call: who calls,
 * how to ask the human, how to report progress, and whether an interruption is the client
 * cancelling. It is the one service a tool may read that is not a layer (STYLE: request context
 * is a typed Tag).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { Principal } from "../domain/principal.js"
import type { Elicit } from "../policy/policy.js"

export interface ProgressUpdate {
  readonly progress: number
  readonly total?: number
  readonly message: string
}

export interface ToolCallService {
  /** Who is calling (stdio: the local principal; HTTP: the bearer token's). */
  readonly principal: Principal
  /** Asks the human to confirm, when the client supports it (MCP elicitation). */
  readonly elicit?: Elicit
  /**
   * Whether an interruption of this call is the client cancelling it, so the Proxmox task the
   * call started is stopped. False when the server is shutting down or the transport closed:
   * the task then keeps running. Asked only once the call was interrupted.
   */
  readonly cancelStopsTask: () => boolean
  /** Sends a progress notification when the client asked for progress; otherwise does nothing. */
  readonly progress: (update: ProgressUpdate) => Effect.Effect<void>
}

export class ToolCall extends Context.Tag("proxmox-mcp/ToolCall")<ToolCall, ToolCallService>() {}

/**
 * A call context for in-process callers (embedding, the CLI): no human, no progress. An
 * interruption (e.g. an `Effect.timeout` around the call) leaves the task it started running,
 * unless `cancelStopsTask` says otherwise.
 */
export const localCall = (principal: Principal, cancelStopsTask = false): ToolCallService => ({
  principal,
  cancelStopsTask: () => cancelStopsTask,
  progress: () => Effect.void,
})

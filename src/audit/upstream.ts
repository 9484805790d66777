/**
 * The upstream log: every request a call sends to Proxmox (or, later, runs over SSH) is recorded
 * into the audit record of that call. The call's pipeline opens a log; the ports that talk to
 * the outside record into whichever log is open in the current fiber (child fibers included).
 * Outside a call nothing is collected.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import type { UpstreamCall } from "./port.js"

export interface UpstreamLogService {
  /** Adds one upstream exchange to the log of the current call, if one is open. */
  readonly record: (call: UpstreamCall) => Effect.Effect<void>
  /** Runs `effect` with `into` as the open log: what it sends is appended there. */
  readonly collect: (
    into: Array<UpstreamCall>,
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export class UpstreamLog extends Context.Tag("proxmox-mcp/UpstreamLog")<UpstreamLog, UpstreamLogService>() {}

export const make: Effect.Effect<UpstreamLogService> = Effect.map(
  // One reference per service instance, so two servers embedded in one process never mix logs.
  Effect.sync(() => FiberRef.unsafeMake<Array<UpstreamCall> | undefined>(undefined)),
  (current) =>
    UpstreamLog.of({
      record: (call) =>
        Effect.withFiberRuntime((fiber) => {
          fiber.getFiberRef(current)?.push(call)
          return Effect.void
        }),
      collect: (into) => (effect) => Effect.locally(effect, current, into),
    }),
)

export const layer: Layer.Layer<UpstreamLog> = Layer.effect(UpstreamLog, make)

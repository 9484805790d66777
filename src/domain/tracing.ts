/**
 * Spans only when something reads them. Effect's built-in tracer keeps spans in memory and
 * exports nothing, yet every span costs allocations (and `Effect.withSpan` a stack trace) on each
 * call. So the server's own code makes a span only when another tracer is installed: an
 * OpenTelemetry layer (configured by `OTEL_*`) or an embedder's own (`Layer.setTracer`,
 * `Effect.withTracer`). Under the built-in tracer nothing in a call makes a span, so tracing is
 * left as it is rather than turned off (that would cost a fiber-ref update per call).
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"

/** The tracer every runtime has unless one is installed. */
const builtinTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** `effect` in a span named `name` when a tracer other than the built-in one is installed. */
export const traced = <A, E, R>(
  name: string,
  attributes: Record<string, unknown>,
  effect: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R> =>
  Effect.tracerWith((tracer) =>
    tracer === builtinTracer ? effect : Effect.withSpan(effect, name, { attributes }),
  )

/**
 * Spans only when something reads them. Effect's built-in tracer keeps spans in memory and
 * exports nothing, yet every span costs allocations and fiber-ref updates on each call. A call
 * therefore runs with tracing off unless another tracer is installed: an OpenTelemetry layer
 * (configured by `OTEL_*`) or an embedder's own (`Layer.setTracer`, `Effect.withTracer`).
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"

/** The tracer every runtime has unless one is installed. */
const builtinTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/**
 * `effect` in a span named `name` when a tracer other than the built-in one is installed;
 * otherwise with tracing off, so that nothing inside makes spans either. The span is not even
 * built then: `Effect.withSpan` captures a stack trace each time it is applied.
 */
export const spanWhenTraced =
  (name: string, attributes?: Record<string, unknown>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.tracerWith((tracer) =>
      tracer === builtinTracer
        ? Effect.withTracerEnabled(effect, false)
        : Effect.withSpan(effect, name, attributes === undefined ? {} : { attributes }),
    )

/**
 * `effect` in a span named `name` when a tracer other than the built-in one is installed, and
 * unchanged otherwise: for code that makes no spans inside, where turning tracing off would
 * only cost a fiber-ref update.
 */
export const traced = <A, E, R>(
  name: string,
  attributes: Record<string, unknown>,
  effect: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R> =>
  Effect.tracerWith((tracer) =>
    tracer === builtinTracer ? effect : Effect.withSpan(effect, name, { attributes }),
  )

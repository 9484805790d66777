// The scoped Effect wrapper starts the simulator and closes it with the scope.
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { expect } from "vitest"
import { type RunningSimulator, Simulator } from "../../src/simulator/index.js"
import { api } from "./helpers.js"

it.scopedLive("Simulator.make serves within the scope and closes with it", () =>
  Effect.gen(function* () {
    let outside: RunningSimulator | undefined
    yield* Effect.scoped(
      Effect.gen(function* () {
        const sim = yield* Simulator.make({ seed: "empty", perNodeEndpoints: false })
        outside = sim
        const res = yield* Effect.promise(() => api(sim, { path: "/cluster/resources?type=vm" }))
        expect(res.json).toEqual({ data: [] })
      }),
    )
    const closed = outside!
    const failure = yield* Effect.promise(() =>
      api(closed, { path: "/version" }).then(
        () => undefined,
        (error: unknown) => error,
      ),
    )
    expect(failure).toBeInstanceOf(Error)
  }),
)

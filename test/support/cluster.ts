/**
 * Test harness: a real simulated cluster over HTTPS, and the live Proxmox layers pointed at it
 * (pinned by fingerprint, as an operator would configure them).
 */
import { type Duration, Effect, Fiber, Layer, ManagedRuntime, Option, TestClock, TestContext } from "effect"
import { layerMemory, MemoryAuditRecords } from "../../src/audit/memory.js"
import type { ProxmoxConfig } from "../../src/config/proxmox.js"
import { LOCAL_PRINCIPAL, type Principal } from "../../src/domain/principal.js"
import { Redactor } from "../../src/domain/redact.js"
import { toolLayer } from "../../src/layers.js"
import type { Elicit } from "../../src/policy/policy.js"
import { DEFAULT_POLICY, type PolicySettings } from "../../src/policy/settings.js"
import { proxmoxTransportLayer } from "../../src/proxmox/transport.js"
import {
  type RunningSimulator,
  type SimulatorOptions,
  simulatorConfig,
  startSimulator,
} from "../../src/simulator/index.js"
import { ToolCall } from "../../src/tools/call.js"
import { builtin } from "../../src/tools/catalog.js"
import type { Envelope } from "../../src/tools/envelope.js"
import { invoke } from "../../src/tools/invoke.js"

export const startTestCluster = (options: SimulatorOptions = {}) =>
  startSimulator({ taskDurationMs: 150, ...options })

/** The simulator's pinned endpoints, with a short request timeout for tests. */
export const configFor = (sim: RunningSimulator, overrides: Parameters<typeof simulatorConfig>[1] = {}) =>
  simulatorConfig(sim, { requestTimeoutMs: 5_000, ...overrides })

/** Tier full, confirmation by argument: what most tool tests want. */
export const TEST_POLICY: PolicySettings = {
  ...DEFAULT_POLICY,
  tier: "full",
  moduleMode: "advanced",
  confirmMode: "argument",
}

export const runtimeFor = (config: ProxmoxConfig, policy: PolicySettings = TEST_POLICY) =>
  ManagedRuntime.make(
    toolLayer(config, policy, { resourcesTtl: "2 seconds" }).pipe(
      Layer.provideMerge(layerMemory()),
      Layer.provideMerge(Redactor.default),
      Layer.provide(proxmoxTransportLayer(config)),
      Layer.orDie,
    ),
  )

/** The audit records the runtime's memory sink holds. */
export const auditRecords = (runtime: TestRuntime) =>
  runtime.runSync(Effect.map(MemoryAuditRecords, (memory) => memory.records()))

export interface CallOptions {
  readonly principal?: Principal
  readonly elicit?: Elicit
  readonly maxResultBytes?: number
}

export type TestRuntime = ReturnType<typeof runtimeFor>

export interface ProgressEvent {
  readonly progress: number
  readonly total?: number
  readonly message: string
}

/** Calls a tool by name (or alias) the way the MCP adapter does, collecting progress. */
export const callTool = (
  runtime: TestRuntime,
  name: string,
  args: Record<string, unknown> = {},
  options: CallOptions = {},
) => {
  const entry = builtin.lookup(name)
  if (entry === undefined) throw new Error(`no tool ${name}`)
  const progress: Array<ProgressEvent> = []
  const call = ToolCall.of({
    principal: options.principal ?? LOCAL_PRINCIPAL,
    // Interrupting the program here stands for an MCP client cancelling the call.
    cancelStopsTask: () => true,
    ...(options.elicit === undefined ? {} : { elicit: options.elicit }),
    progress: (update: ProgressEvent) => Effect.sync(() => void progress.push(update)),
  })
  const program = invoke(entry, args, { maxResultBytes: options.maxResultBytes ?? 256 * 1024 }).pipe(
    Effect.provideService(ToolCall, call),
  )
  return { program, progress, run: () => runtime.runPromise(program) as Promise<Envelope> }
}

export const okData = (envelope: Envelope): unknown => {
  if (!envelope.ok) throw new Error(`expected ok, got ${JSON.stringify(envelope.error)}`)
  return envelope.data
}

export const errorOf = (envelope: Envelope) => {
  if (envelope.ok) throw new Error(`expected an error, got ${JSON.stringify(envelope.data)}`)
  return envelope.error
}

/** Polls until `check` holds (tests never sleep a fixed time to wait for state). */
export const eventually = async (check: () => boolean, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Runs `program` on `runtime` under a `TestClock`: its timeouts, back-offs and poll intervals
 * fire only when the clock is moved, by `step` at a time, until the program is done. Real I/O
 * (the simulator's sockets) still takes real time; the loop gives it a few milliseconds between
 * steps.
 */
export const runUnderTestClock = <A, E>(
  runtime: TestRuntime,
  program: Effect.Effect<A, E, ManagedRuntime.ManagedRuntime.Context<TestRuntime>>,
  step: Duration.DurationInput = "1 second",
): Promise<A> =>
  runtime.runPromise(
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(program)
      while (Option.isNone(yield* Fiber.poll(fiber))) {
        yield* TestClock.adjust(step)
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      }
      return yield* Fiber.join(fiber)
    }).pipe(Effect.provide(TestContext.TestContext)),
  )

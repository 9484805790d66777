/**
 * Test harness: a real simulated cluster over HTTPS, and the live Proxmox layers pointed at it
 * (pinned by fingerprint, as an operator would configure them).
 */
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import type { ProxmoxConfig, ProxmoxEndpoint } from "../../src/config/proxmox.js"
import { liveProxmoxLayer } from "../../src/layers.js"
import { type RunningSimulator, type SimulatorOptions, startSimulator } from "../../src/simulator/index.js"
import { lookup } from "../../src/tools/catalog.js"
import { type Envelope, invoke } from "../../src/tools/invoke.js"
import { ToolCall } from "../../src/tools/tool.js"

export const startTestCluster = (options: SimulatorOptions = {}) =>
  startSimulator({ taskDurationMs: 150, ...options })

export const configFor = (
  sim: RunningSimulator,
  overrides: Partial<ProxmoxConfig> & { readonly endpoint?: Partial<ProxmoxEndpoint> } = {},
): ProxmoxConfig => {
  const { endpoint, ...rest } = overrides
  return {
    endpoints: sim.endpoints.map((e) => ({
      name: e.node,
      node: e.node,
      host: e.host,
      port: e.port,
      tokenId: sim.tokenId,
      tokenSecret: Redacted.make(sim.tokenSecret),
      fingerprint: sim.fingerprint,
      ...endpoint,
    })),
    tls: { verify: true },
    requestTimeoutMs: 5_000,
    ...rest,
  }
}

export const runtimeFor = (config: ProxmoxConfig) =>
  ManagedRuntime.make(liveProxmoxLayer(config, { resourcesTtl: "2 seconds" }).pipe(Layer.orDie))

export type TestRuntime = ReturnType<typeof runtimeFor>

export interface ProgressEvent {
  readonly progress: number
  readonly total?: number
  readonly message: string
}

/** Calls a tool by name (or alias) the way the MCP adapter does, collecting progress. */
export const callTool = (runtime: TestRuntime, name: string, args: Record<string, unknown> = {}) => {
  const entry = lookup(name)
  if (entry === undefined) throw new Error(`no tool ${name}`)
  const progress: Array<ProgressEvent> = []
  const call = ToolCall.of({ progress: (update) => Effect.sync(() => void progress.push(update)) })
  const program = invoke(entry.tool, args, { maxResultBytes: 256 * 1024 }).pipe(
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

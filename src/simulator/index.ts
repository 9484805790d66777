// A stateful fake Proxmox VE cluster served over real HTTPS on loopback, for tests, benchmarks and
// `proxmox-mcp demo`. See SPEC.md §9 and reference/pve-api/WIRE.md for the behaviour it follows.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { generateCertificate } from "./certificate.js"
import { ClusterState } from "./cluster.js"
import { type Listener, startListener } from "./server.js"
import type { RunningSimulator, SimulatorOptions } from "./types.js"

export { simulatorConfig } from "./config.js"
export type {
  Fault,
  GuestInfo,
  GuestSpec,
  GuestStatus,
  GuestType,
  RecordedRequest,
  RunningSimulator,
  SimulatedCluster,
  SimulatorEndpoint,
  SimulatorOptions,
  TaskInfo,
} from "./types.js"

const DEFAULT_NODES = ["pve1", "pve2", "pve3"]

const urlFor = (host: string, port: number) => `https://${host.includes(":") ? `[${host}]` : host}:${port}`

export const startSimulator = async (options: SimulatorOptions = {}): Promise<RunningSimulator> => {
  const nodes = options.nodes ?? DEFAULT_NODES
  const host = options.host ?? "127.0.0.1"
  const certificate = generateCertificate()
  const cluster = new ClusterState(nodes, {
    taskDurationMs: options.taskDurationMs ?? 1500,
    seed: options.seed ?? "demo",
    sslFingerprint: certificate.fingerprint,
  })
  const endpointNodes = options.perNodeEndpoints === false ? nodes.slice(0, 1) : nodes

  const listeners: Array<Listener> = []
  try {
    for (const [index, node] of endpointNodes.entries()) {
      listeners.push(
        await startListener(cluster, {
          node,
          host,
          port: index === 0 ? (options.port ?? 0) : 0,
          certificate,
          authFailureDelayMs: options.authFailureDelayMs ?? 0,
          messageInBody: options.messageInBody ?? true,
        }),
      )
    }
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.close()))
    cluster.dispose()
    throw error
  }

  const endpoints = listeners.map((listener) => ({
    node: listener.node,
    url: urlFor(listener.host, listener.port),
    host: listener.host,
    port: listener.port,
  }))
  const first = endpoints[0]!
  let closed: Promise<void> | undefined

  return {
    url: first.url,
    host: first.host,
    port: first.port,
    endpoints,
    tokenId: cluster.fullToken.tokenId,
    tokenSecret: cluster.fullToken.secret,
    readOnlyToken: { tokenId: cluster.readOnlyToken.tokenId, tokenSecret: cluster.readOnlyToken.secret },
    fingerprint: certificate.fingerprint,
    caPem: certificate.certPem,
    nodes: cluster.nodes,
    cluster,
    connections: () => listeners.reduce((sum, listener) => sum + listener.connections(), 0),
    close: () => {
      closed ??= Promise.all(listeners.map((listener) => listener.close())).then(() => cluster.dispose())
      return closed
    },
  }
}

/** The simulator as a scoped Effect resource: started on acquire, closed when the scope closes. */
export const Simulator = {
  make: (options?: SimulatorOptions): Effect.Effect<RunningSimulator, never, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.promise(() => startSimulator(options)),
      (simulator) => Effect.promise(() => simulator.close()),
    ),
}

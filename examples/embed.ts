/**
 * Embedding proxmox-mcp in an Effect application: compose the tool layers with an audit sink, a
 * redactor and the Proxmox transport, then call built-in tools with their own result and error types.
 * Here against the built-in simulated cluster; point `proxmox` at a real one the same way
 * (or use `toolLayerConfig()`, `proxmoxTransportLayerConfig` and `redactorLayerConfig` to read
 * the PROXMOX_* and PVE_* variables).
 *
 * `npm run typecheck` checks this file; test/examples/embed.test.ts runs it.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import {
  Catalog,
  callTool,
  DEFAULT_POLICY,
  layerMemory,
  makeRedactor,
  type ProxmoxConfig,
  proxmoxTransportLayer,
  Redactor,
  toolLayer,
} from "../src/index.js"
import { simulatorConfig, startSimulator } from "../src/simulator/index.js"

/** The simulated cluster as a scoped resource. */
const simulator = Effect.acquireRelease(
  Effect.promise(() => startSimulator({ taskDurationMs: 100 })),
  (sim) => Effect.promise(() => sim.close()),
)

/**
 * Everything a tool call needs: Proxmox, policy (tier read-only by default), an audit sink and
 * one redactor, which knows the token secret, for both the audit records and the results.
 */
const proxmox = (config: ProxmoxConfig) => {
  const redactor = makeRedactor({ knownSecrets: config.endpoints.map((e) => e.tokenSecret) })
  return toolLayer(config, DEFAULT_POLICY).pipe(
    Layer.provideMerge(Layer.mergeAll(layerMemory({ redactor }), Layer.succeed(Redactor, redactor))),
    Layer.provide(proxmoxTransportLayer(config)),
  )
}

export const program = Effect.gen(function* () {
  const nodes = yield* callTool(Catalog.toolNamed("pve_list_nodes"), {})
  yield* Console.log(`nodes: ${nodes.map((n) => n.node).join(", ")}`)

  const status = yield* callTool(Catalog.toolNamed("pve_get_qemu_status"), { vmid: 100 })
  yield* Console.log(`vm 100: ${JSON.stringify(status)}`)

  // Errors are tagged: an unknown node is UnknownNode, with the nodes that do exist.
  const known = yield* callTool(Catalog.toolNamed("pve_get_node_status"), { node: "pve9" }).pipe(
    Effect.map(() => "found"),
    Effect.catchTag("UnknownNode", (error) =>
      Effect.succeed(`unknown; known nodes: ${error.knownNodes.join(", ")}`),
    ),
  )
  yield* Console.log(`node pve9: ${known}`)
})

export const main = Effect.scoped(
  Effect.gen(function* () {
    const sim = yield* simulator
    yield* program.pipe(Effect.provide(proxmox(simulatorConfig(sim))))
  }),
)

if (import.meta.url === `file://${process.argv[1]}`) Effect.runPromise(main)

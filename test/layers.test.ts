/**
 * The `layerConfig` variants an embedder composes: each reads its settings through the current
 * `ConfigProvider`, fails with a `ConfigError` that names the variable, and, configured, behaves
 * like the layer built from values.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { layerFileConfig } from "../src/audit/file.js"
import { layerMemory, MemoryAuditRecords } from "../src/audit/memory.js"
import * as UpstreamLog from "../src/audit/upstream.js"
import { formatConfigError } from "../src/config/provider.js"
import { Redactor } from "../src/domain/redact.js"
import { redactorLayerConfig, toolLayerConfig } from "../src/layers.js"
import { makeToolNames } from "../src/policy/names.js"
import * as Policy from "../src/policy/policy.js"
import * as ProxmoxApi from "../src/proxmox/api.js"
import * as NodeRegistry from "../src/proxmox/registry.js"
import { proxmoxTransportLayerConfig } from "../src/proxmox/transport.js"
import { httpClientTransportLayer } from "../src/proxmox/transport-http-client.js"
import { type RunningSimulator, startSimulator } from "../src/simulator/index.js"
import * as Catalog from "../src/tools/catalog.js"
import { callTool } from "../src/tools/client.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

/** Builds `layer` under `env` and returns the formatted ConfigError it fails with. */
const configErrorOf = <A>(layer: Layer.Layer<A, ConfigError.ConfigError>, env: Record<string, string>) =>
  Effect.scoped(Layer.build(layer)).pipe(Effect.flip, Effect.map(formatConfigError), withEnv(env))

const TOKEN = {
  PROXMOX_HOST: "pve.example.org",
  PROXMOX_USER: "svc_mcp",
  PROXMOX_REALM: "pve",
  PROXMOX_TOKEN_NAME: "mcp",
  PROXMOX_TOKEN_SECRET: "correct-horse-battery-staple",
}

describe("layerConfig variants", () => {
  it.effect("ProxmoxApi.layerConfig fails naming the missing variable", () =>
    Effect.gen(function* () {
      const message = yield* configErrorOf(
        ProxmoxApi.layerConfig.pipe(
          Layer.provide(
            Layer.merge(
              httpClientTransportLayer.pipe(Layer.provide(FetchHttpClient.layer)),
              UpstreamLog.layer,
            ),
          ),
        ),
        {},
      )
      expect(message).toContain("PROXMOX_HOST")
      expect(message).toContain("is required")
    }),
  )

  it.effect("Policy.layerConfig fails naming the invalid variable", () =>
    Effect.gen(function* () {
      const policy = Policy.layerConfig(makeToolNames(Catalog.builtin.entries))
      const message = yield* configErrorOf(
        policy.pipe(Layer.provide(Layer.mock(NodeRegistry.NodeRegistry, {}))),
        {
          PVE_ACCESS_TIER: "everything",
        },
      )
      expect(message).toContain("PVE_ACCESS_TIER")
    }),
  )

  it.effect("layerFileConfig fails naming the invalid variable", () =>
    Effect.gen(function* () {
      const message = yield* configErrorOf(layerFileConfig(), { AUDIT_MAX_BYTES: "lots" })
      expect(message).toContain("AUDIT_MAX_BYTES")
    }),
  )

  it.effect("NodeRegistry.layerConfig caches GET /nodes for the configured lifetime", () =>
    Effect.gen(function* () {
      let requests = 0
      const api = Layer.succeed(
        ProxmoxApi.ProxmoxApi,
        ProxmoxApi.ProxmoxApi.of({
          request: () => Effect.sync(() => ++requests).pipe(Effect.as([{ node: "pve1", status: "online" }])),
          requestEnvelope: () => Effect.die("not used"),
        }),
      )
      const registry = NodeRegistry.layerConfig({ nodesTtl: Config.duration("NODES_TTL") })

      const missing = yield* configErrorOf(registry.pipe(Layer.provide(api)), {})
      expect(missing).toContain("NODES_TTL")

      yield* Effect.gen(function* () {
        const nodes = (yield* NodeRegistry.NodeRegistry).nodes
        yield* nodes
        yield* TestClock.adjust("50 seconds")
        yield* nodes
        // The default lifetime is 30 s: a second request here would mean NODES_TTL was ignored.
        expect(requests).toBe(1)
        yield* TestClock.adjust("11 seconds")
        yield* nodes
        expect(requests).toBe(2)
      }).pipe(Effect.provide(registry.pipe(Layer.provide(api))), withEnv({ NODES_TTL: "60 seconds" }))
    }),
  )

  it.effect("redactorLayerConfig knows the configured token secret", () =>
    Effect.gen(function* () {
      const line = "upstream said: correct-horse-battery-staple was refused"
      const configured = yield* Effect.provide(Redactor, redactorLayerConfig).pipe(withEnv(TOKEN))
      expect(configured.text(line)).toBe("upstream said: [REDACTED] was refused")
      // Neither a key nor a pattern gives this secret away: only the configured one finds it.
      const plain = yield* Effect.provide(Redactor, Redactor.default)
      expect(plain.text(line)).toBe(line)

      const message = yield* configErrorOf(redactorLayerConfig, {})
      expect(message).toContain("PROXMOX_HOST")
    }),
  )
})

describe("the tool layers read from configuration", () => {
  const envFor = (sim: RunningSimulator): Record<string, string> => ({
    PROXMOX_NODES: sim.endpoints.map((e) => `${e.node}:${e.host}:${e.port}`).join(","),
    PROXMOX_TOKEN_ID: sim.tokenId,
    PROXMOX_TOKEN_SECRET: sim.tokenSecret,
    PROXMOX_TLS_FINGERPRINTS: sim.fingerprint,
  })

  it.scopedLive("call tools against the simulator, at the configured tier", () =>
    Effect.gen(function* () {
      const sim = yield* Effect.acquireRelease(
        Effect.promise(() => startSimulator({ taskDurationMs: 100 })),
        (sim) => Effect.promise(() => sim.close()),
      )
      const layer = toolLayerConfig().pipe(
        Layer.provideMerge(Layer.mergeAll(layerMemory(), redactorLayerConfig)),
        Layer.provide(proxmoxTransportLayerConfig),
      )
      yield* Effect.gen(function* () {
        const nodes = yield* callTool(Catalog.toolNamed("pve_list_nodes"), {})
        expect(nodes.map((n) => n.node)).toEqual(["pve1", "pve2", "pve3"])

        // PVE_ACCESS_TIER is unset: read-only, so a state-changing tool is refused, and audited.
        const stopped = yield* callTool(Catalog.toolNamed("pve_stop_qemu_vm"), { vmid: 100 }).pipe(
          Effect.map(() => "stopped"),
          Effect.catchTag("Forbidden", (error) => Effect.succeed(`forbidden: ${error.message}`)),
        )
        expect(stopped).toMatch(/^forbidden: /)
        const records = (yield* MemoryAuditRecords).records()
        expect(records.map((r) => r.tool)).toEqual(["pve_list_nodes", "pve_stop_qemu_vm"])
      }).pipe(Effect.provide(layer), withEnv(envFor(sim)))

      // The same layers under another configuration: tier full, confirmation by argument.
      const stop = yield* callTool(Catalog.toolNamed("pve_stop_qemu_vm"), {
        vmid: 100,
        confirm: true,
        wait: true,
      }).pipe(
        Effect.provide(layer),
        withEnv({ ...envFor(sim), PVE_ACCESS_TIER: "full", PVE_CONFIRM_MODE: "argument" }),
      )
      expect(stop).toMatchObject({ status: "stopped", exitstatus: "OK", guestStatus: "stopped" })
    }),
  )
})

/**
 * The audit cost of reads, for `scripts/bench.mjs`: the same read calls through two runtimes
 * that differ only in their audit sink (hash-chained file vs memory), in-process, each call
 * `runPromise(invoke(...))` as the MCP adapter runs it, in alternating rounds. The cost is
 * `1 - file / memory` of the throughput. (`scripts/bench-audit.mjs` measures a mix with
 * mutations, whose durable records are fsynced before the call goes on.)
 */
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { layerFile } from "../dist/audit/file.js"
import { layerMemory } from "../dist/audit/memory.js"
import { LOCAL_PRINCIPAL } from "../dist/domain/principal.js"
import { Redactor } from "../dist/domain/redact.js"
import { toolLayer } from "../dist/layers.js"
import { DEFAULT_POLICY } from "../dist/policy/settings.js"
import { proxmoxTransportLayer } from "../dist/proxmox/transport.js"
import { ToolCall } from "../dist/tools/call.js"
import { builtin } from "../dist/tools/catalog.js"
import { invoke } from "../dist/tools/invoke.js"

const round = (value, digits = 1) => Number(value.toFixed(digits))

export const measureAuditCost = async ({ info, vmids, calls, rounds, dir, concurrency }) => {
  const config = {
    endpoints: [
      {
        name: info.nodes[0],
        host: info.host,
        port: info.port,
        tokenId: info.tokenId,
        tokenSecret: Redacted.make(info.tokenSecret),
        fingerprint: info.fingerprint,
      },
    ],
    tls: { verify: true },
    requestTimeoutMs: 5_000,
  }
  const runtimeWith = (auditLayer) =>
    ManagedRuntime.make(
      toolLayer(config, DEFAULT_POLICY).pipe(
        Layer.provideMerge(auditLayer),
        Layer.provideMerge(Redactor.default),
        Layer.provide(proxmoxTransportLayer(config)),
        Layer.orDie,
      ),
    )
  const sinks = {
    memory: runtimeWith(layerMemory()),
    file: runtimeWith(layerFile({ path: path.join(dir, "audit-in-process.jsonl") })),
  }
  const toolCall = ToolCall.of({
    principal: LOCAL_PRINCIPAL,
    cancelStopsTask: () => true,
    progress: () => Effect.void,
  })
  const status = builtin.lookup("pve_get_qemu_status")
  const nodes = builtin.lookup("pve_list_nodes")
  const callFor = (n) => (n % 4 === 3 ? [nodes, {}] : [status, { vmid: vmids[n % vmids.length] }])

  const drive = async (runtime, count, parallel) => {
    let next = 0
    let failed
    const start = performance.now()
    const loop = async () => {
      while (next < count) {
        const [entry, args] = callFor(next++)
        const envelope = await runtime.runPromise(
          Effect.provideService(invoke(entry, args, { maxResultBytes: 256 * 1024 }), ToolCall, toolCall),
        )
        if (!envelope.ok) failed ??= JSON.stringify(envelope.error)
      }
    }
    await Promise.all(Array.from({ length: parallel }, loop))
    if (failed !== undefined) throw new Error(`audit bench: a call failed: ${failed}`)
    return { calls: count, seconds: (performance.now() - start) / 1000 }
  }

  for (const runtime of Object.values(sinks)) await drive(runtime, Math.min(200, calls), 4)
  const rows = []
  for (const parallel of concurrency) {
    const totals = { memory: { calls: 0, seconds: 0 }, file: { calls: 0, seconds: 0 } }
    for (let r = 0; r < rounds; r++) {
      for (const sink of r % 2 === 0 ? ["memory", "file"] : ["file", "memory"]) {
        const result = await drive(sinks[sink], calls, parallel)
        totals[sink].calls += result.calls
        totals[sink].seconds += result.seconds
      }
    }
    const memory = { perSecond: round(totals.memory.calls / totals.memory.seconds) }
    const file = { perSecond: round(totals.file.calls / totals.file.seconds) }
    rows.push({ concurrency: parallel, memory, file, cost: round(1 - file.perSecond / memory.perSecond, 3) })
  }
  await sinks.memory.dispose()
  await sinks.file.dispose()
  return { mix: "75% pve_get_qemu_status, 25% pve_list_nodes", rows }
}

/**
 * The simulated cluster for `scripts/bench.mjs`, in a worker thread of its own: its event loop
 * and CPU time stay apart from the benchmark's clients. Requests arrive as messages
 * `{id, op, ...}` and are answered with `{id, result}`.
 */
import { parentPort, workerData } from "node:worker_threads"
import { startSimulator } from "../dist/simulator/index.js"

const sim = await startSimulator({ taskDurationMs: 0, ...(workerData?.options ?? {}) })
// Guests enough that 16 concurrent status reads of different guests never ask for the same one.
for (let index = 0; index < (workerData?.extraGuests ?? 0); index++) {
  sim.cluster.addGuest({
    vmid: 7000 + index,
    type: "qemu",
    node: sim.nodes[index % sim.nodes.length],
    name: `bench-${7000 + index}`,
    status: index % 2 === 0 ? "stopped" : "running",
  })
}

const ops = {
  info: () => ({
    host: sim.host,
    port: sim.port,
    endpoints: sim.endpoints,
    tokenId: sim.tokenId,
    tokenSecret: sim.tokenSecret,
    fingerprint: sim.fingerprint,
    nodes: sim.nodes,
    qemu: sim.cluster
      .listGuests()
      .filter((guest) => guest.type === "qemu")
      .map((guest) => guest.vmid),
  }),
  /** Requests received since the last `clear` whose method and path match. */
  count: ({ method, path }) =>
    sim.cluster.requests.filter((r) => r.method === method && (path === undefined || r.path === path)).length,
  total: () => sim.cluster.requests.length,
  clear: () => {
    sim.cluster.clearRequests()
    return true
  },
  connections: () => sim.connections(),
  fault: ({ node, fault }) => {
    sim.cluster.setFault(node, fault)
    return true
  },
  close: async () => {
    await sim.close()
    setImmediate(() => process.exit(0))
    return true
  },
}

parentPort.on("message", async ({ id, op, ...args }) => {
  try {
    parentPort.postMessage({ id, result: await ops[op](args) })
  } catch (error) {
    parentPort.postMessage({ id, error: String(error?.stack ?? error) })
  }
})
parentPort.postMessage({ ready: true })

#!/usr/bin/env node
/**
 * The whole-server benchmark (`npm run bench`, after `npm run build`). In one run, on this
 * machine, it measures and reports as ratios:
 *
 * - sequential reads through the built server (`proxmox-mcp run` over stdio, driven by the MCP
 *   SDK client) against a direct keep-alive HTTPS request to the same simulator (the floor);
 * - 16 concurrent reads, same comparison (throughput), and the TLS handshakes they caused;
 * - both again through the bare SDK reference (scripts/bench-bare-server.mjs: the SDK's server
 *   doing one HTTPS GET per call, nothing else), so each run also shows what the MCP round trip
 *   alone costs against the same floor, and what proxmox-mcp adds to it;
 * - cold start: spawn to the first answered `tools/list`;
 * - RSS of the server idle, and after 5,000 calls (and its peak);
 * - the same sequential and concurrent reads over Streamable HTTP (`run --transport http`, on
 *   loopback without auth and with the rate limit lifted, so that the server is what is
 *   measured), against the same floor (SPEC section 10; no target);
 * - the audit cost: read throughput with the hash-chained file sink against the memory sink
 *   (in-process, through `invoke` as the MCP adapter runs calls, alternating rounds);
 * - coalescing: how many upstream requests 100 identical concurrent `pve_list_cluster_resources`
 *   calls caused;
 * - a fan-out over 50 nodes (each answering after 20 ms, one of them dead), through the server
 *   with every node's endpoint in PROXMOX_NODES: the call against the slowest healthy node when
 *   all healthy nodes are asked at once, directly (the simulated nodes share one thread).
 *
 * The simulated cluster runs in a worker thread (scripts/bench-simulator.mjs). Results go to
 * bench/results.json. `--quick` (or BENCH_QUICK=1) runs a few calls of each part, only to prove
 * that the benchmark works (CI); its figures mean nothing. This is not a test: it never fails on
 * a figure, only when a call fails.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1"
const N = quick
  ? { sequential: 20, concurrent: 48, coldStarts: 1, loaded: 200, audit: 40, auditRounds: 1, warmup: 20 }
  : {
      sequential: 1000,
      concurrent: 1000,
      coldStarts: 5,
      loaded: 5000,
      audit: 400,
      auditRounds: 16,
      warmup: 200,
    }
const CONCURRENCY = 16
const COALESCE_CALLS = 100
const BIN = path.join(root, "dist/bin/proxmox-mcp.js")

const TARGETS = {
  sequentialP50Ratio: { max: 2.5, text: "sequential p50 at most 2.5x the direct HTTPS floor" },
  concurrentThroughputRatio: {
    min: 0.5,
    text: "concurrency 16 (different guests) at 0.5x the floor's throughput or more",
  },
  coldStartMs: { max: 600, text: "cold start under 600 ms" },
  idleRssMB: { max: 80, text: "idle RSS at most 80 MB" },
  loadedRssMB: { max: 150, text: "RSS after 5,000 calls at most 150 MB" },
  auditCost: { max: 0.1, text: "audit cost at most 10%" },
  coalescedUpstreamRequests: { max: 1, text: "100 identical concurrent reads give 1 upstream request" },
  fanOutRatio: { max: 1.2, text: "a fan-out over 50 nodes, one dead, within 1.2x the slowest healthy node" },
}

// --- the simulator in its worker ----------------------------------------------------------------

/** A simulator in a worker thread of its own; `call(op, args)` asks it (see bench-simulator.mjs). */
const startSimulatorWorker = async (workerData) => {
  const worker = new Worker(path.join(root, "scripts/bench-simulator.mjs"), { workerData })
  await new Promise((resolve, reject) => {
    worker.once("error", reject)
    worker.once("message", (message) => (message.ready ? resolve() : reject(new Error("simulator"))))
  })
  let nextId = 0
  const pending = new Map()
  worker.on("message", ({ id, result, error }) => {
    const waiter = pending.get(id)
    if (waiter === undefined) return
    pending.delete(id)
    if (error === undefined) waiter.resolve(result)
    else waiter.reject(new Error(error))
  })
  const call = (op, args = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      worker.postMessage({ id, op, ...args })
    })
  return { worker, call }
}

const { worker, call: sim } = await startSimulatorWorker({ extraGuests: 64 })
const info = await sim("info")
const vmids = info.qemu

// --- statistics ----------------------------------------------------------------------------------

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}
const round = (value, digits = 2) => Number(value.toFixed(digits))

/** A measured side of a row (`server` or `bare`) against the row's floor. */
const p50Ratio = (row, side = "server") => row[side].p50 / row.floor.p50
const throughputRatio = (row, side = "server") => row[side].perSecond / row.floor.perSecond

/** One row's line: the server, its floor, their ratios, and the bare SDK reference when measured. */
const rowLine = (name, row) => {
  const { server, floor, bare } = row
  return (
    `${name.padEnd(24)} server ${String(server.perSecond).padStart(7)} calls/s p50 ${server.p50.toFixed(2)} ms p99 ${server.p99.toFixed(2)} ms` +
    ` | floor ${String(floor.perSecond).padStart(7)}/s p50 ${floor.p50.toFixed(2)} ms` +
    ` | p50 ratio ${p50Ratio(row).toFixed(2)}, throughput ratio ${throughputRatio(row).toFixed(2)}` +
    (server.tlsHandshakes === undefined ? "" : `, ${server.tlsHandshakes} TLS handshakes`) +
    (bare === undefined
      ? ""
      : ` | bare SDK ${String(bare.perSecond).padStart(7)}/s p50 ${bare.p50.toFixed(2)} ms:` +
        ` p50 ratio ${p50Ratio(row, "bare").toFixed(2)}, throughput ratio ${throughputRatio(row, "bare").toFixed(2)}`)
  )
}

/** `calls` calls of `one(n)`, `concurrency` at a time: throughput and latency percentiles. */
const drive = async (calls, concurrency, one) => {
  const latencies = []
  let next = 0
  const start = performance.now()
  const workerLoop = async () => {
    while (next < calls) {
      const n = next++
      const begin = performance.now()
      await one(n)
      latencies.push(performance.now() - begin)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, workerLoop))
  const seconds = (performance.now() - start) / 1000
  return {
    calls,
    perSecond: round(calls / seconds, 1),
    p50: round(percentile(latencies, 50), 3),
    p99: round(percentile(latencies, 99), 3),
  }
}

// --- the floor: a direct keep-alive HTTPS request ------------------------------------------------

const floorAgent = new https.Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false })
const authorization = `PVEAPIToken=${info.tokenId}=${info.tokenSecret}`
const direct = (apiPath) =>
  new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: info.host,
        port: info.port,
        path: `/api2/json${apiPath}`,
        method: "GET",
        agent: floorAgent,
        headers: { Authorization: authorization, Accept: "application/json" },
      },
      (response) => {
        const chunks = []
        response.on("data", (chunk) => chunks.push(chunk))
        response.on("end", () => {
          if (response.statusCode !== 200) reject(new Error(`direct ${apiPath}: ${response.statusCode}`))
          else resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")).data)
        })
        response.on("error", reject)
      },
    )
    request.on("error", reject)
    request.end()
  })

// --- the server over stdio ------------------------------------------------------------------------

const auditDir = fs.mkdtempSync(path.join(process.env.BENCH_AUDIT_DIR ?? os.tmpdir(), "proxmox-mcp-bench-"))
let sessions = 0
const serverEnv = () => ({
  PATH: process.env.PATH ?? "",
  PROXMOX_HOST: info.host,
  PROXMOX_PORT: String(info.port),
  PROXMOX_TOKEN_ID: info.tokenId,
  PROXMOX_TOKEN_SECRET: info.tokenSecret,
  PROXMOX_TLS_FINGERPRINTS: info.fingerprint,
  PVE_ACCESS_TIER: "read-only",
  AUDIT_LOG_PATH: path.join(auditDir, `audit-${sessions++}.jsonl`),
})

/** Spawns the server, connects a client, lists the tools: the cold start. */
const startServer = async () => {
  const begin = performance.now()
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "run"],
    env: serverEnv(),
    stderr: "pipe",
  })
  let stderr = ""
  transport.stderr?.on("data", (chunk) => {
    stderr += chunk
  })
  const client = new Client({ name: "proxmox-mcp-bench", version: "1" })
  await client.connect(transport)
  const tools = await client.listTools()
  const coldStartMs = performance.now() - begin
  if (!tools.tools.some((tool) => tool.name === "pve_list_nodes"))
    throw new Error(`the server lists no pve_list_nodes: ${stderr}`)
  return { client, pid: transport.pid, coldStartMs, stderr: () => stderr }
}

/** The bare SDK reference server (see its file), with a client; `pid` for its CPU time. */
const startBareServer = async () => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [path.join(root, "scripts/bench-bare-server.mjs")],
    env: serverEnv(),
    stderr: "inherit",
  })
  const client = new Client({ name: "proxmox-mcp-bench", version: "1" })
  await client.connect(transport)
  return { client, pid: transport.pid }
}

const call = async (client, name, args = {}) => {
  const result = await client.callTool({ name, arguments: args })
  if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.structuredContent)}`)
  return result
}

/** RSS and peak RSS of a process, in MB (Linux /proc). */
const memoryOf = (pid) => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN)
  return { rssMB: round(kb("VmRSS") / 1024, 1), peakMB: round(kb("VmHWM") / 1024, 1) }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const log = (line) => console.log(line)

// --- run ------------------------------------------------------------------------------------------

const benchStart = performance.now()
log(
  `proxmox-mcp bench${quick ? " (quick: proves it runs, the figures mean nothing)" : ""}: node ${process.version}, ` +
    `${os.cpus().length} CPUs; simulator in a worker thread (${info.nodes.length} nodes)`,
)

// Cold start: separate processes, the first one also warms the OS file cache.
const coldStarts = []
for (let i = 0; i <= N.coldStarts; i++) {
  const session = await startServer()
  if (i > 0) coldStarts.push(session.coldStartMs)
  await session.client.close()
}
const coldStartMs = round(percentile(coldStarts, 50), 0)
log(
  `cold start to first tools/list: median ${coldStartMs} ms of ${coldStarts.map((v) => v.toFixed(0)).join(", ")}`,
)

const { client, pid } = await startServer()
await sleep(quick ? 200 : 2000)
const idle = memoryOf(pid)
log(`idle RSS ${idle.rssMB} MB`)
let serverCalls = 0
const counted = async (name, args) => {
  serverCalls++
  return call(client, name, args)
}

// Warm-up: connections, JIT, the node registry's caches.
const mixed = (n) =>
  n % 2 ? counted("pve_list_nodes") : counted("pve_get_qemu_status", { vmid: vmids[n % vmids.length] })
await drive(N.warmup, 4, mixed)
await drive(N.warmup, 4, () => direct("/nodes"))
const bare = await startBareServer()
const bareCall = (name, args = {}) => call(bare.client, name, args)
await drive(N.warmup, 4, () => bareCall("pve_list_nodes"))

const rows = {}
rows.sequentialListNodes = {
  server: await drive(N.sequential, 1, () => counted("pve_list_nodes")),
  floor: await drive(N.sequential, 1, () => direct("/nodes")),
  bare: await drive(N.sequential, 1, () => bareCall("pve_list_nodes")),
}
const statusOf = (n) => ({ vmid: vmids[n % vmids.length] })
const guestNodes = new Map()
for (const vmid of vmids) {
  const result = await counted("pve_get_qemu_status", { vmid })
  guestNodes.set(vmid, result.structuredContent.meta.node)
}
const bareStatus = (n) => {
  const { vmid } = statusOf(n)
  return bareCall("pve_get_qemu_status", { vmid, node: guestNodes.get(vmid) })
}
rows.sequentialQemuStatus = {
  server: await drive(N.sequential, 1, (n) => counted("pve_get_qemu_status", statusOf(n))),
  floor: await drive(N.sequential, 1, (n) => {
    const { vmid } = statusOf(n)
    return direct(`/nodes/${guestNodes.get(vmid)}/qemu/${vmid}/status/current`)
  }),
  bare: await drive(N.sequential, 1, (n) => bareStatus(n)),
}
// Different guests at once (64 > 16), so no call shares another's request: the per-call path.
const connectionsBefore = await sim("connections")
const serverConcurrent = await drive(N.concurrent, CONCURRENCY, (n) =>
  counted("pve_get_qemu_status", statusOf(n)),
)
const handshakes = (await sim("connections")) - connectionsBefore
rows.concurrentQemuStatus = {
  server: { ...serverConcurrent, tlsHandshakes: handshakes },
  floor: await drive(N.concurrent, CONCURRENCY, (n) => {
    const { vmid } = statusOf(n)
    return direct(`/nodes/${guestNodes.get(vmid)}/qemu/${vmid}/status/current`)
  }),
  bare: await drive(N.concurrent, CONCURRENCY, bareStatus),
}
// The same read 16 at a time: these share requests (coalescing), the floor cannot.
rows.concurrentListNodes = {
  server: await drive(N.concurrent, CONCURRENCY, () => counted("pve_list_nodes")),
  floor: await drive(N.concurrent, CONCURRENCY, () => direct("/nodes")),
  bare: await drive(N.concurrent, CONCURRENCY, () => bareCall("pve_list_nodes")),
}
await bare.client.close()
for (const [name, row] of Object.entries(rows)) log(rowLine(name, row))

// Coalescing: 100 identical concurrent reads, counted at the simulator.
await sim("clear")
await Promise.all(Array.from({ length: COALESCE_CALLS }, () => counted("pve_list_cluster_resources")))
const coalesced = await sim("count", { method: "GET", path: "/cluster/resources" })
log(
  `${COALESCE_CALLS} identical concurrent pve_list_cluster_resources: ${coalesced} upstream GET /cluster/resources`,
)

// Loaded: up to N.loaded calls in all, then RSS.
const remaining = Math.max(0, N.loaded - serverCalls)
await drive(remaining, CONCURRENCY, (n) => mixed(n).then(() => (n % 1000 === 999 ? sim("clear") : undefined)))
const loaded = memoryOf(pid)
log(`after ${serverCalls} calls: RSS ${loaded.rssMB} MB, peak ${loaded.peakMB} MB`)
await client.close()

// --- the same reads over Streamable HTTP --------------------------------------------------------

/** `run --transport http` on loopback (MCP_AUTH=none), with a client once it says its URL. */
const startHttpServer = async () => {
  const child = spawn(process.execPath, [BIN, "run", "--transport", "http"], {
    env: { ...serverEnv(), MCP_AUTH: "none", MCP_PORT: "0", MCP_RATE_LIMIT_MAX: "1000000" },
    stdio: ["ignore", "ignore", "pipe"],
  })
  let stderr = ""
  child.stderr.on("data", (chunk) => {
    stderr += chunk
  })
  const exited = new Promise((resolve) => child.once("exit", resolve))
  let base
  for (let waited = 0; base === undefined; waited += 50) {
    if (waited > 20_000 || child.exitCode !== null)
      throw new Error(`the HTTP server did not start: ${stderr}`)
    await sleep(50)
    base = /MCP over HTTP at (http:\/\/\S+)\/mcp/.exec(stderr)?.[1]
  }
  const httpClient = new Client({ name: "proxmox-mcp-bench", version: "1" })
  await httpClient.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)))
  const stop = async () => {
    await httpClient.close()
    child.kill("SIGTERM")
    await exited
  }
  return { client: httpClient, stop }
}
const http = await startHttpServer()
const httpCall = (name, args) => call(http.client, name, args)
await drive(N.warmup, 4, (n) =>
  n % 2 ? httpCall("pve_list_nodes") : httpCall("pve_get_qemu_status", statusOf(n)),
)
const httpRows = {
  httpSequentialListNodes: {
    server: await drive(N.sequential, 1, () => httpCall("pve_list_nodes")),
    floor: await drive(N.sequential, 1, () => direct("/nodes")),
  },
  httpConcurrentQemuStatus: {
    server: await drive(N.concurrent, CONCURRENCY, (n) => httpCall("pve_get_qemu_status", statusOf(n))),
    floor: await drive(N.concurrent, CONCURRENCY, (n) => {
      const { vmid } = statusOf(n)
      return direct(`/nodes/${guestNodes.get(vmid)}/qemu/${vmid}/status/current`)
    }),
  },
}
await http.stop()
for (const [name, row] of Object.entries(httpRows)) log(rowLine(name, row))

// --- audit cost: file sink vs memory sink, in-process ------------------------------------------

const audit = await (await import("./bench-audit-reads.mjs")).measureAuditCost({
  info,
  vmids,
  calls: N.audit,
  rounds: N.auditRounds,
  dir: auditDir,
  concurrency: [1, CONCURRENCY],
})
for (const row of audit.rows) {
  log(
    `audit, concurrency ${String(row.concurrency).padStart(2)}: memory ${row.memory.perSecond} calls/s, file ${row.file.perSecond} calls/s: ` +
      `cost ${(row.cost * 100).toFixed(1)}%`,
  )
}

await sim("close")

// --- a fan-out over 50 nodes, one of them dead ------------------------------------------------------

const FAN_OUT_NODES = Array.from({ length: 50 }, (_, i) => `pve${i + 1}`)
const NODE_DELAY_MS = 20
const { worker: fanWorker, call: fanSim } = await startSimulatorWorker({
  options: { nodes: FAN_OUT_NODES, seed: "empty" },
})
const fanInfo = await fanSim("info")
const deadNode = FAN_OUT_NODES[6]
for (const node of FAN_OUT_NODES)
  await fanSim("fault", { node, fault: { kind: "slow", delayMs: NODE_DELAY_MS } })
await fanSim("fault", { node: deadNode, fault: { kind: "down" } })
const healthy = fanInfo.endpoints.filter((endpoint) => endpoint.node !== deadNode)
// An agent of its own: ports of the closed simulator may come back as these nodes' ports, and a
// keep-alive socket of that simulator still in the floor's pool would be reused, dead.
const fanAgent = new https.Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false })
/** One node's direct read, on its own endpoint (the floor of its part of the fan-out). */
const directNode = (endpoint) =>
  new Promise((resolve, reject) => {
    const begin = performance.now()
    const request = https.request(
      {
        host: endpoint.host,
        port: endpoint.port,
        path: `/api2/json/nodes/${endpoint.node}/qemu`,
        agent: fanAgent,
        headers: { Authorization: `PVEAPIToken=${fanInfo.tokenId}=${fanInfo.tokenSecret}` },
      },
      (response) => {
        response.resume()
        response.on("end", () => resolve(performance.now() - begin))
      },
    )
    request.on("error", reject)
    request.end()
  })
const fanRounds = quick ? 1 : 5
// The simulated nodes share one thread, so a node's answer time depends on how many are asked at
// once: the floor is the slowest healthy node when all of them are asked together, directly
// (what the fan-out asks of them). Each node alone is reported too.
const aloneMs = []
for (const endpoint of healthy) {
  const times = []
  for (let r = 0; r < fanRounds + 1; r++) times.push(await directNode(endpoint))
  aloneMs.push(percentile(times.slice(1), 50))
}
const togetherMs = []
for (let r = 0; r < fanRounds + 1; r++) {
  const times = await Promise.all(healthy.map(directNode))
  if (r > 0) togetherMs.push(Math.max(...times))
}
const slowestHealthyMs = percentile(togetherMs, 50)
const slowestAloneMs = Math.max(...aloneMs)
const fanTransport = new StdioClientTransport({
  command: process.execPath,
  args: [BIN, "run"],
  env: {
    PATH: process.env.PATH ?? "",
    PROXMOX_NODES: fanInfo.endpoints.map((e) => `${e.node}:${e.host}:${e.port}`).join(","),
    PROXMOX_TOKEN_ID: fanInfo.tokenId,
    PROXMOX_TOKEN_SECRET: fanInfo.tokenSecret,
    PROXMOX_TLS_FINGERPRINTS: fanInfo.fingerprint,
    PVE_ACCESS_TIER: "read-only",
    AUDIT_LOG_PATH: path.join(auditDir, "audit-fanout.jsonl"),
  },
  stderr: "pipe",
})
const fanClient = new Client({ name: "proxmox-mcp-bench", version: "1" })
await fanClient.connect(fanTransport)
const fanOutTimes = []
let fanWarnings = []
for (let r = 0; r < fanRounds + 1; r++) {
  const begin = performance.now()
  const result = await fanClient.callTool({ name: "listVMs", arguments: {} })
  if (result.isError) throw new Error(`listVMs: ${JSON.stringify(result.structuredContent)}`)
  if (r > 0) fanOutTimes.push(performance.now() - begin)
  fanWarnings = result.structuredContent.meta.warnings ?? []
}
await fanClient.close()
const fanOutMs = percentile(fanOutTimes, 50)
log(
  `fan-out over ${FAN_OUT_NODES.length} nodes (${NODE_DELAY_MS} ms each, ${deadNode} dead): ${fanOutMs.toFixed(1)} ms, ` +
    `slowest healthy node ${slowestHealthyMs.toFixed(1)} ms asked together directly (${slowestAloneMs.toFixed(1)} ms alone): ` +
    `ratio ${(fanOutMs / slowestHealthyMs).toFixed(2)}; ${fanWarnings.length} warning(s)`,
)
await fanSim("close")
await fanWorker.terminate()
fanAgent.destroy()
fs.rmSync(auditDir, { recursive: true, force: true })

// --- results ------------------------------------------------------------------------------------

const figures = {
  sequentialP50Ratio: round(p50Ratio(rows.sequentialListNodes)),
  sequentialQemuStatusP50Ratio: round(p50Ratio(rows.sequentialQemuStatus)),
  concurrentThroughputRatio: round(throughputRatio(rows.concurrentQemuStatus)),
  concurrentIdenticalThroughputRatio: round(throughputRatio(rows.concurrentListNodes)),
  // The bare SDK reference against the same floors: what the MCP round trip alone allows.
  bareSdkSequentialP50Ratio: round(p50Ratio(rows.sequentialListNodes, "bare")),
  bareSdkSequentialQemuStatusP50Ratio: round(p50Ratio(rows.sequentialQemuStatus, "bare")),
  bareSdkConcurrentThroughputRatio: round(throughputRatio(rows.concurrentQemuStatus, "bare")),
  // Over Streamable HTTP (SPEC section 10; no target).
  httpSequentialP50Ratio: round(p50Ratio(httpRows.httpSequentialListNodes)),
  httpConcurrentThroughputRatio: round(throughputRatio(httpRows.httpConcurrentQemuStatus)),
  coldStartMs,
  idleRssMB: idle.rssMB,
  loadedRssMB: loaded.rssMB,
  peakRssMB: loaded.peakMB,
  auditCost: round(Math.max(...audit.rows.map((row) => row.cost)), 3),
  coalescedUpstreamRequests: coalesced,
  tlsHandshakesAtConcurrency16: handshakes,
  fanOutRatio: round(fanOutMs / slowestHealthyMs),
  fanOutMs: round(fanOutMs, 1),
  fanOutSlowestHealthyNodeMs: round(slowestHealthyMs, 1),
  fanOutSlowestHealthyNodeAloneMs: round(slowestAloneMs, 1),
}
const verdicts = Object.fromEntries(
  Object.entries(TARGETS).map(([key, target]) => {
    const value = figures[key]
    const met =
      (target.max === undefined || value <= target.max) && (target.min === undefined || value >= target.min)
    return [key, { value, ...target, met }]
  }),
)
const results = {
  date: new Date().toISOString(),
  quick,
  node: process.version,
  cpus: os.cpus().length,
  // Other work on the machine skews every figure; this says how much there was.
  loadAverage: os.loadavg().map((v) => round(v)),
  figures,
  targets: verdicts,
  rows: { ...rows, ...httpRows },
  coldStartsMs: coldStarts.map((v) => round(v, 1)),
  serverCalls,
  audit,
  benchSeconds: round((performance.now() - benchStart) / 1000, 1),
}
fs.mkdirSync(path.join(root, "bench"), { recursive: true })
fs.writeFileSync(path.join(root, "bench/results.json"), `${JSON.stringify(results, null, 2)}\n`)
log("\ntargets (issue 8):")
for (const [key, verdict] of Object.entries(verdicts)) {
  log(`  ${verdict.met ? "met    " : "NOT MET"} ${key} = ${verdict.value}  (${verdict.text})`)
}
log(
  `  (the bare SDK reference, same floors: sequential p50 ${figures.bareSdkSequentialP50Ratio}x ` +
    `(qemu status ${figures.bareSdkSequentialQemuStatusP50Ratio}x), concurrency 16 throughput ${figures.bareSdkConcurrentThroughputRatio}x)`,
)
log(`\nbench/results.json written; ${results.benchSeconds} s`)
await worker.terminate()
floorAgent.destroy()

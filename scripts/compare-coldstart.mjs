#!/usr/bin/env node
/**
 * Compares the cold start of several builds of the binary, as `npm run bench` measures it: spawn
 * `node BIN run` pointed at the simulated cluster (pinned), connect the MCP SDK client over
 * stdio, time to the first answered `tools/list`. The builds alternate within one run, so a
 * change in the machine's load hits them alike; each build's first start only warms the file
 * cache and is not counted. Besides the wall time it reports the CPU time (user + system, from
 * /proc, 10 ms steps) the server used until that answer, which other work on the machine
 * disturbs much less.
 *
 *   npm run build && node scripts/compare-coldstart.mjs [--runs N] BIN [BIN...]
 *
 * BIN: a built `dist/bin/proxmox-mcp.js`, e.g. this tree's and one built from another commit
 * (`git worktree add /tmp/base main && cd /tmp/base && npm ci`). Runs 15 starts of each by
 * default. Linux only (the CPU time comes from /proc).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { startSimulator } from "../dist/simulator/index.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
let runs = 15
const bins = []
for (let index = 2; index < process.argv.length; index++) {
  if (process.argv[index] === "--runs") runs = Number(process.argv[++index])
  else bins.push(process.argv[index])
}
if (!Number.isInteger(runs) || runs < 1 || bins.length === 0) {
  console.error("usage: node scripts/compare-coldstart.mjs [--runs N] BIN [BIN...]")
  process.exit(2)
}
for (const bin of bins) if (!fs.existsSync(bin)) throw new Error(`${bin} does not exist (build it first)`)

const sim = await startSimulator({})
const auditDir = fs.mkdtempSync(path.join(os.tmpdir(), "proxmox-mcp-coldstart-"))
let sessions = 0

/** CPU time (user + system) of a process so far, in ms. */
const cpuOf = (pid) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

const coldStart = async (bin) => {
  const begin = performance.now()
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [path.resolve(root, bin), "run"],
    stderr: "ignore",
    env: {
      PATH: process.env.PATH ?? "",
      PROXMOX_HOST: sim.host,
      PROXMOX_PORT: String(sim.port),
      PROXMOX_TOKEN_ID: sim.tokenId,
      PROXMOX_TOKEN_SECRET: sim.tokenSecret,
      PROXMOX_TLS_FINGERPRINTS: sim.fingerprint,
      PVE_ACCESS_TIER: "read-only",
      AUDIT_LOG_PATH: path.join(auditDir, `audit-${sessions++}.jsonl`),
    },
  })
  const client = new Client({ name: "proxmox-mcp-coldstart", version: "1" })
  await client.connect(transport)
  const { tools } = await client.listTools()
  const wallMs = performance.now() - begin
  const cpuMs = cpuOf(transport.pid)
  await client.close()
  if (!tools.some((tool) => tool.name === "pve_list_nodes")) throw new Error(`${bin} lists no pve_list_nodes`)
  return { wallMs, cpuMs }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const results = new Map(bins.map((bin) => [bin, []]))
try {
  console.log(
    `load average ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(" ")}; ${runs} starts of each, alternating`,
  )
  for (const bin of bins) await coldStart(bin)
  for (let run = 0; run < runs; run++) for (const bin of bins) results.get(bin).push(await coldStart(bin))
  for (const [bin, samples] of results) {
    const wall = samples.map((s) => s.wallMs)
    const cpu = samples.map((s) => s.cpuMs)
    console.log(
      `${bin}: median ${median(wall).toFixed(0)} ms to the first tools/list (min ${Math.min(...wall).toFixed(0)}), ` +
        `CPU ${median(cpu).toFixed(0)} ms`,
    )
  }
  console.log(
    `load average ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(" ")}`,
  )
} finally {
  await sim.close()
  fs.rmSync(auditDir, { recursive: true, force: true })
}

/**
 * The reference of `scripts/bench.mjs`: the least an MCP server over stdio can do for the
 * benchmark's reads. The MCP SDK's own `Server` over stdio, and per call one keep-alive HTTPS GET
 * to the simulator, answered as `{ok, data}` in text and `structuredContent`. No policy, no audit,
 * no redaction, no retries, no certificate pinning: what proxmox-mcp costs on top of the SDK round
 * trip is the difference between the two.
 *
 * The client passes the guest's node (`pve_get_qemu_status {vmid, node}`): this server has no
 * registry to find it.
 */
import * as https from "node:https"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"

const agent = new https.Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false })
const authorization = `PVEAPIToken=${process.env.PROXMOX_TOKEN_ID}=${process.env.PROXMOX_TOKEN_SECRET}`

const get = (apiPath) =>
  new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: process.env.PROXMOX_HOST,
        port: Number(process.env.PROXMOX_PORT),
        path: `/api2/json${apiPath}`,
        agent,
        headers: { Authorization: authorization, Accept: "application/json" },
      },
      (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk) => {
          text += chunk
        })
        response.on("end", () => resolve(JSON.parse(text).data))
        response.on("error", reject)
      },
    )
    request.on("error", reject)
    request.end()
  })

const paths = {
  pve_list_nodes: () => "/nodes",
  pve_get_qemu_status: (args) => `/nodes/${args.node}/qemu/${args.vmid}/status/current`,
}

const server = new Server({ name: "bare-sdk-reference", version: "1" }, { capabilities: { tools: {} } })
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: Object.keys(paths).map((name) => ({ name, inputSchema: { type: "object" } })),
}))
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  const data = await get(paths[request.params.name](request.params.arguments ?? {}))
  const envelope = { ok: true, data }
  return { content: [{ type: "text", text: JSON.stringify(envelope) }], structuredContent: envelope }
})
await server.connect(new StdioServerTransport())
// The client closing stdin is the end (the agent's keep-alive sockets would keep the process up).
process.stdin.once("end", () => process.exit(0))

#!/usr/bin/env bash
# The published package as a user gets it: `npm pack`, installed into an empty directory, must
# run `npx proxmox-mcp demo` and answer a real MCP client (tools/list and one tool call).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
echo "packed $tarball ($(du -k "$work/$tarball" | cut -f1) KiB)"
cd "$work"
npm init -y >/dev/null
npm install --omit=dev --no-audit --no-fund --loglevel=error "./$tarball"
cat > client.mjs <<'JS'
// A scripted MCP client: starts `npx proxmox-mcp demo` over stdio, lists the tools, calls one.
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"

const transport = new StdioClientTransport({ command: "npx", args: ["--no-install", "proxmox-mcp", "demo"], stderr: "ignore" })
const client = new Client({ name: "pack-smoke", version: "1.0.0" })
await client.connect(transport)
const { tools } = await client.listTools()
if (!tools.some((tool) => tool.name === "pve_list_nodes")) throw new Error("pve_list_nodes is not listed")
const result = await client.callTool({ name: "pve_list_nodes", arguments: {} })
if (result.isError) throw new Error(`pve_list_nodes failed: ${JSON.stringify(result.content)}`)
const nodes = result.structuredContent?.data ?? result.structuredContent
console.log(`npm pack smoke test OK: ${tools.length} tools, pve_list_nodes answered`, JSON.stringify(nodes).slice(0, 120))
await client.close()
JS
timeout 60 node client.mjs

#!/usr/bin/env bash
# The published package as users get it, from `npm pack`:
# - a binary user: the tarball installed into an empty directory brings only the production
#   dependencies (ssh2 and its own; the bundle holds the rest), and `npx proxmox-mcp demo`
#   answers a real MCP client (tools/list and one tool call);
# - an embedder: the tarball plus its peer dependencies (effect, @effect/platform,
#   @effect/platform-node, the MCP SDK, jose) at the locked versions; `import "proxmox-mcp"`
#   runs a tool call against the simulated cluster.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$root"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
echo "packed $tarball ($(du -k "$work/$tarball" | cut -f1) KiB)"

# --- the binary user ----------------------------------------------------------------------------
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm install --omit=dev --no-audit --no-fund --loglevel=error "../$tarball"
if [ -e node_modules/effect ] || [ -e node_modules/@modelcontextprotocol/sdk ]; then
  echo "the package installed its peer dependencies for a binary user"; exit 1
fi
echo "installed for the binary: $(ls node_modules | grep -v '^\.' | wc -l) packages, $(du -sm node_modules | cut -f1) MB, $(find node_modules -type f | wc -l) files"
# The client's SDK comes from this repository's node_modules, so the app directory holds only
# what the package brought.
cat > "$work/client.mjs" <<'JS'
// A scripted MCP client: starts `npx proxmox-mcp demo` over stdio, lists the tools, calls one.
import { createRequire } from "node:module"
const require = createRequire(`${process.argv[2]}/package.json`)
const { Client } = await import(require.resolve("@modelcontextprotocol/sdk/client/index.js"))
const { StdioClientTransport } = await import(require.resolve("@modelcontextprotocol/sdk/client/stdio.js"))

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
timeout 60 node "$work/client.mjs" "$root"

# --- the embedder ---------------------------------------------------------------------------------
npx --no-install proxmox-mcp simulator > "$work/sim.json" 2>/dev/null &
sim_pid=$!
mkdir "$work/embed"
cd "$work/embed"
npm init -y >/dev/null
npm pkg set type=module >/dev/null
# The peers at the versions this repository locks and tests.
peers="$(node -e '
  const manifest = require(process.argv[1] + "/package.json"), lock = require(process.argv[1] + "/package-lock.json")
  console.log(Object.keys(manifest.peerDependencies).map((n) => `${n}@${lock.packages["node_modules/" + n].version}`).join(" "))' "$root")"
npm install --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error "../$tarball" $peers
for _ in $(seq 1 100); do [ -s "$work/sim.json" ] && break; sleep 0.1; done
cat > embed.js <<'JS'
import * as fs from "node:fs"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Catalog, callTool, DEFAULT_POLICY, layerMemory, makeRedactor, proxmoxTransportLayer, Redactor, toolLayer } from "proxmox-mcp"

const sim = JSON.parse(fs.readFileSync(process.argv[2], "utf8"))
const config = {
  endpoints: [{ name: "sim", host: sim.host, port: sim.port, tokenId: sim.tokenId, tokenSecret: Redacted.make(sim.tokenSecret), fingerprint: sim.fingerprint }],
  tls: { verify: true },
  requestTimeoutMs: 10_000,
}
const redactor = makeRedactor({ knownSecrets: [config.endpoints[0].tokenSecret] })
const layer = toolLayer(config, DEFAULT_POLICY).pipe(
  Layer.provideMerge(Layer.mergeAll(layerMemory({ redactor }), Layer.succeed(Redactor, redactor))),
  Layer.provide(proxmoxTransportLayer(config)),
)
const nodes = await Effect.runPromise(callTool(Catalog.toolNamed("pve_list_nodes"), {}).pipe(Effect.provide(layer)))
console.log(`embedding OK: import "proxmox-mcp" listed nodes ${nodes.map((n) => n.node).join(", ")}`)
JS
timeout 60 node embed.js "$work/sim.json"

#!/usr/bin/env bash
# Runs the Dockerfile's steps without Docker (no engine on CI machines): the build stage's files
# must build dist/, and the runtime stage's install (production dependencies only: ssh2 and its
# own, everything else is inside the bundle) plus the built dist/ must serve `demo` and `run` to
# a real MCP client, with nothing else installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# Build stage: exactly the files the Dockerfile copies must be enough to build dist/.
build="$work/build"
mkdir -p "$build/scripts"
cp "$root/package.json" "$root/package-lock.json" "$root/tsconfig.json" "$root/tsconfig.build.json" "$build/"
cp -r "$root/src" "$build/src"
cp "$root/scripts/bundle.mjs" "$build/scripts/bundle.mjs"
(cd "$build" && npm ci --no-audit --no-fund --loglevel=error)
# Runtime stage: production dependencies without scripts, plus the built dist/.
app="$work/app"
mkdir -p "$app"
cp "$root/package.json" "$root/package-lock.json" "$app/"
cd "$app"
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
cp -r "$build/dist" ./dist
# Exactly ssh2 and what it needs: the bundle holds the rest (effect, platform, MCP SDK, jose).
expected="$(node -e '
  const lock = require("./package-lock.json").packages
  const names = Object.entries(lock).filter(([k, v]) => k !== "" && !v.dev && !v.devOptional).map(([k]) => k.replace(/^node_modules\//, ""))
  console.log(names.sort().join("\n"))')"
installed="$(node -e '
  const fs = require("fs"), path = require("path")
  const walk = (dir) => fs.readdirSync(dir).filter((n) => !n.startsWith(".")).flatMap((name) => {
    const full = path.join(dir, name)
    if (name.startsWith("@")) return walk(full)
    const nested = path.join(full, "node_modules")
    return [path.relative("node_modules", full).split(path.sep).join("/"), ...(fs.existsSync(nested) ? walk(nested) : [])]
  })
  console.log(walk("node_modules").sort().join("\n"))')"
if [ "$installed" != "$expected" ] || [ -e node_modules/effect ]; then
  echo "runtime install differs from the lock's production set:"; diff <(echo "$expected") <(echo "$installed") || true
  exit 1
fi
echo "runtime install: $(echo "$installed" | wc -l) packages ($(echo "$installed" | paste -sd " " -)), $(du -sm node_modules | cut -f1) MB, $(find node_modules -type f | wc -l) files"
node dist/bin/proxmox-mcp.js --version
node dist/bin/proxmox-mcp.js run --help > /dev/null
node dist/bin/proxmox-mcp.js tools --all --json > "$work/tools.json"
node -e 'const t = require(process.argv[1]); if (!Array.isArray(t) || t.length === 0) process.exit(1); console.log(`tools OK: ${t.length} tool names`)' "$work/tools.json"
# The simulator (demo relies on it), then `demo` and `run` against it for a scripted MCP client.
# The client runs from the build stage's node_modules (the SDK); the server from the runtime's.
node dist/bin/proxmox-mcp.js simulator > "$work/sim.json" 2>/dev/null &
sim_pid=$!
for _ in $(seq 1 100); do [ -s "$work/sim.json" ] && break; sleep 0.1; done
cat > "$build/client.mjs" <<'JS'
import * as fs from "node:fs"
import * as path from "node:path"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"

const [app, simFile, work] = process.argv.slice(2)
const sim = JSON.parse(fs.readFileSync(simFile, "utf8"))
const session = async (args, env) => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [path.join(app, "dist/bin/proxmox-mcp.js"), ...args],
    cwd: app,
    env: { PATH: process.env.PATH ?? "", ...env },
    stderr: "ignore",
  })
  const client = new Client({ name: "runtime-install-check", version: "1.0.0" })
  await client.connect(transport)
  const { tools } = await client.listTools()
  const result = await client.callTool({ name: "pve_list_nodes", arguments: {} })
  await client.close()
  if (result.isError) throw new Error(`${args[0]}: pve_list_nodes failed: ${JSON.stringify(result.structuredContent)}`)
  const nodes = result.structuredContent.data.map((n) => n.node).sort()
  console.log(`${args[0]} OK: ${tools.length} tools listed, pve_list_nodes: ${nodes.join(", ")}`)
}
await session(["demo"], { AUDIT_LOG_PATH: path.join(work, "demo-audit.jsonl") })
await session(["run"], {
  PROXMOX_HOST: sim.host,
  PROXMOX_PORT: String(sim.port),
  PROXMOX_TOKEN_ID: sim.tokenId,
  PROXMOX_TOKEN_SECRET: sim.tokenSecret,
  PROXMOX_TLS_FINGERPRINTS: sim.fingerprint,
  AUDIT_LOG_PATH: path.join(work, "run-audit.jsonl"),
})
JS
(cd "$build" && timeout 60 node client.mjs "$app" "$work/sim.json" "$work")

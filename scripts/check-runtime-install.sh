#!/usr/bin/env bash
# Runs the Dockerfile's runtime-stage steps without Docker (no engine on CI machines): a
# production install without dev dependencies or scripts, plus the built dist/, must start.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Build stage: exactly the files the Dockerfile copies must be enough to build dist/.
build="$work/build"
mkdir -p "$build/scripts"
cp "$root/package.json" "$root/package-lock.json" "$root/tsconfig.json" "$root/tsconfig.build.json" "$build/"
cp -r "$root/src" "$build/src"
cp "$root/scripts/bundle.mjs" "$build/scripts/bundle.mjs"
(cd "$build" && npm ci --no-audit --no-fund --loglevel=error)
# Runtime stage: production dependencies without scripts, plus the built dist/.
cp "$root/package.json" "$root/package-lock.json" "$work/"
cd "$work"
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
cp -r "$build/dist" ./dist
node dist/bin/proxmox-mcp.js --version
node dist/bin/proxmox-mcp.js tools --all --json > tools.json
node -e 'const t = require("./tools.json"); if (!Array.isArray(t) || t.length === 0) process.exit(1); console.log(`runtime install OK: ${t.length} tool names`)'
# The simulator must start from the production install too (demo relies on it).
timeout 20 node dist/bin/proxmox-mcp.js simulator > sim.json &
for _ in $(seq 1 100); do [ -s sim.json ] && break; sleep 0.1; done
kill %1 2>/dev/null || true
node -e 'const s = JSON.parse(require("fs").readFileSync("sim.json", "utf8")); if (!s.url || !s.fingerprint) process.exit(1); console.log("simulator OK:", s.url)'

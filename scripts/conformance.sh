#!/usr/bin/env bash
# The conformance gate (issue 11): starts the HTTP server on loopback against the simulated
# cluster and runs the official MCP conformance server scenarios against it. The suite sends no
# credentials, so this instance runs with MCP_AUTH=none, which the server allows only on a
# loopback bind (SPEC section 12). Any failed scenario fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIOS=(server-initialize ping tools-list logging-set-level server-sse-multiple-streams
  dns-rebinding-protection prompts-list resources-list)

[ -f dist/bin/proxmox-mcp.js ] || npm run build:test
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
WORK=$(mktemp -d)
LOG="$WORK/server.log"
MCP_AUTH=none MCP_HOST=127.0.0.1 MCP_PORT="$PORT" AUDIT_LOG_PATH="$WORK/audit.jsonl" \
  node dist/bin/proxmox-mcp.js demo --transport http 2>"$LOG" &
SERVER=$!
# The server is stopped and waited for before its directory goes (it writes server.stop on exit).
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK" || true' EXIT

healthy() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$PORT/health"; }
for _ in $(seq 1 100); do healthy && break; sleep 0.1; done
healthy || { cat "$LOG"; echo "server did not start"; exit 1; }

CONFORMANCE="$PWD/node_modules/.bin/conformance"
failed=0
for scenario in "${SCENARIOS[@]}"; do
  out=$(cd "$WORK" && "$CONFORMANCE" server --url "http://127.0.0.1:$PORT/mcp" --scenario "$scenario" 2>&1) || true
  if grep -Eq 'Passed: ([0-9]+)/\1, 0 failed' <<<"$out"; then
    echo "conformance $scenario: passed"
  else
    echo "conformance $scenario: FAILED"
    echo "$out" | tail -40
    failed=1
  fi
done
exit $failed

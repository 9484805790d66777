/**
 * The deployment files (deploy/) set only variables the server reads, and keep the hardening
 * SPEC section 11 asks for. The files are plain YAML and nginx config; the checks read them as
 * text, line by line (no YAML library for three files).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const ROOT = path.resolve(import.meta.dirname, "../..")
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8")

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return entry.name.endsWith(".ts") ? [full] : []
  })

/** Every variable name the server's config descriptors read: quoted UPPER_SNAKE names in src/. */
const readVariables = (): ReadonlySet<string> => {
  const names = new Set<string>()
  for (const file of sourceFiles(path.join(ROOT, "src"))) {
    for (const match of fs.readFileSync(file, "utf8").matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g))
      names.add(match[1]!)
  }
  return names
}

/** `KEY: value` under an `environment:` map (compose) and `KEY=value` lines (.env). */
const composeVariables = (text: string) => {
  const names: Array<string> = []
  let inEnvironment = false
  let indent = 0
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line) || line.trim() === "") continue
    const lineIndent = line.length - line.trimStart().length
    if (/^\s*environment:\s*$/.test(line)) {
      inEnvironment = true
      indent = lineIndent
      continue
    }
    if (inEnvironment && lineIndent <= indent) inEnvironment = false
    const match = /^\s*([A-Z][A-Z0-9_]*):/.exec(line)
    if (inEnvironment && match !== null) names.push(match[1]!)
  }
  return names
}

const dotenvVariables = (text: string) =>
  text
    .split("\n")
    .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined)

/** `- name: KEY` in container env lists, and the keys of a Secret's stringData. */
const kubernetesVariables = (text: string) => {
  const names = [...text.matchAll(/^\s*- name: ([A-Z][A-Z0-9_]*)\s*$/gm)].map((m) => m[1]!)
  const stringData = /stringData:\n((?:\s{2,}[A-Z][A-Z0-9_]*:.*\n)+)/.exec(text)?.[1] ?? ""
  names.push(...[...stringData.matchAll(/^\s+([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!))
  return names
}

describe("deployment files", () => {
  // Node's own memory flags (README: "Memory") besides the server's variables.
  const known = new Set([...readVariables(), "NODE_OPTIONS"])

  it("the variable scan finds what the server reads and would catch a misspelling", () => {
    for (const name of [
      "JWT_SECRET",
      "MCP_ALLOWED_HOSTS",
      "PROXMOX_NODES",
      "AUDIT_LOG_PATH",
      "MCP_SESSION_MAX_AGE",
    ])
      expect(known.has(name), name).toBe(true)
    expect(known.has("MCP_ALLOWED_HOST")).toBe(false)
    expect(composeVariables("x:\n  environment:\n    MCP_PORT: 1\n  other:\n    NOT_ENV: 2\n")).toEqual([
      "MCP_PORT",
    ])
  })

  it("compose, .env.example and the Kubernetes manifest set only variables the server reads", () => {
    const sets = {
      compose: composeVariables(read("deploy/compose.yaml")),
      env: dotenvVariables(read("deploy/.env.example")),
      kubernetes: kubernetesVariables(read("deploy/kubernetes.yaml")),
    }
    for (const [file, names] of Object.entries(sets)) {
      expect(names.length, file).toBeGreaterThan(3)
      for (const name of names) expect(known.has(name), `${file}: ${name}`).toBe(true)
    }
    expect(sets.kubernetes).toContain("JWT_SECRET")
    expect(sets.env).toContain("JWT_SECRET")
  })

  it("compose is hardened: read-only root, no capabilities, no new privileges, memory limit, audit volume, secrets from .env, health check", () => {
    const compose = read("deploy/compose.yaml")
    expect(compose).toMatch(/^\s+read_only: true$/m)
    expect(compose).toMatch(/^\s+cap_drop: \[ALL\]$/m)
    expect(compose).toMatch(/no-new-privileges:true/)
    expect(compose).toMatch(/^\s+mem_limit: 256m$/m)
    expect(compose).toMatch(/^\s+- audit:\/var\/lib\/proxmox-mcp$/m)
    expect(compose).toMatch(/^\s+env_file: \.env$/m)
    expect(compose).toMatch(/healthcheck:[\s\S]*\/health/)
    // No published port by default.
    expect(compose).not.toMatch(/^\s+ports:\n\s+- "?\d+:3000/m)
  })

  it("Kubernetes: Deployment, Service, Secret, probes on /health and /ready, non-root", () => {
    const manifest = read("deploy/kubernetes.yaml")
    for (const kind of ["Deployment", "Service", "Secret"])
      expect(manifest).toMatch(new RegExp(`^kind: ${kind}$`, "m"))
    expect(manifest).toMatch(/livenessProbe:\s+httpGet:\s+path: \/health/)
    expect(manifest).toMatch(/readinessProbe:\s+httpGet:\s+path: \/ready/)
    expect(manifest).toMatch(/runAsNonRoot: true/)
    expect(manifest).toMatch(/readOnlyRootFilesystem: true/)
    expect(manifest).toMatch(/allowPrivilegeEscalation: false/)
  })

  it("nginx terminates TLS and passes SSE through unbuffered", () => {
    const nginx = read("deploy/nginx.conf")
    expect(nginx).toMatch(/listen \d+ ssl;/)
    expect(nginx).toMatch(/proxy_buffering off;/)
    expect(nginx).toMatch(/proxy_set_header Host \$host;/)
  })
})

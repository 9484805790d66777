/**
 * `proxmox-mcp doctor [--json]`: checks the configuration against the real cluster and says what
 * to fix, one check per line. Exit 0 when nothing failed (warnings allowed), 1 when something
 * did. It reads the same configuration `run` does and talks to Proxmox with the same client, so
 * what passes here works there.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { type AuditSettings, auditConfig, hmacKeyObject } from "../audit/config.js"
import { rotatedPathOf } from "../audit/paths.js"
import * as UpstreamLog from "../audit/upstream.js"
import type { Environment } from "../config/provider.js"
import { type ProxmoxConfig, type ProxmoxEndpoint, proxmoxConfig } from "../config/proxmox.js"
import { type SshSettings, sshConfig, sshConfigured } from "../config/ssh.js"
import { ProxmoxError } from "../domain/errors.js"
import type { ToolInfo } from "../domain/tool.js"
import { staticallyExposed } from "../policy/policy.js"
import { type PermissionMap, requirementsOf, shortfalls } from "../policy/privileges.js"
import type { PolicySettings } from "../policy/settings.js"
import * as ProxmoxApi from "../proxmox/api.js"
import { probeTls } from "../proxmox/probe.js"
import { proxmoxTransportLayer } from "../proxmox/transport.js"
import * as Ssh from "../ssh/ssh.js"
import { builtin } from "../tools/catalog.js"
import { checkFlags, load, policySettings } from "./args.js"
import { auditVerify } from "./audit.js"

export type CheckStatus = "ok" | "warn" | "fail" | "skip"

export interface Check {
  /** What was checked: `config`, `tls pve1`, `token pve1`, `privileges`, `cluster`, `audit`, `ssh`. */
  readonly name: string
  readonly status: CheckStatus
  readonly message: string
  /** What to do about it: a line to paste, a command to run. */
  readonly fix?: string
}

export interface DoctorReport {
  readonly ok: boolean
  readonly checks: ReadonlyArray<Check>
}

interface Settings {
  readonly proxmox: ProxmoxConfig
  readonly policy: PolicySettings
  readonly audit: AuditSettings
  readonly ssh: SshSettings
}

const pinLine = (config: ProxmoxConfig, endpoint: ProxmoxEndpoint, fingerprint: string) =>
  config.endpoints.length === 1
    ? `PROXMOX_TLS_FINGERPRINTS=${fingerprint}`
    : `PROXMOX_TLS_FINGERPRINTS=${endpoint.name}=${fingerprint} (one name=fingerprint per endpoint, comma-separated)`

/** Reachability and TLS trust of one endpoint; true when requests can go on to it. */
const checkTls = (config: ProxmoxConfig, endpoint: ProxmoxEndpoint) =>
  Effect.map(
    probeTls({
      host: endpoint.host,
      port: endpoint.port,
      timeoutMs: 5_000,
      ...(config.tls.ca === undefined ? {} : { ca: config.tls.ca }),
    }),
    (probe): Check => {
      const name = `tls ${endpoint.name}`
      const where = `${endpoint.host}:${endpoint.port}`
      if (probe._tag === "Unreachable") {
        return {
          name,
          status: "fail",
          message: `cannot reach ${where}: ${probe.code} ${probe.message}`,
          fix:
            "check the host and port (Proxmox VE's API listens on 8006), that the name resolves " +
            "from here, and that no firewall is in between",
        }
      }
      if (endpoint.fingerprint !== undefined) {
        return endpoint.fingerprint === probe.fingerprint
          ? { name, status: "ok", message: `${where}: certificate matches the pinned fingerprint` }
          : {
              name,
              status: "fail",
              message: `${where} shows a certificate with fingerprint ${probe.fingerprint}, not the pinned ${endpoint.fingerprint}`,
              fix: `if the node's certificate was renewed and you trust this one, pin it: ${pinLine(config, endpoint, probe.fingerprint)}`,
            }
      }
      if (!config.tls.verify) {
        return {
          name,
          status: "warn",
          message: `${where}: certificate verification is OFF (PROXMOX_ALLOW_INSECURE_TLS / VERIFY_TLS)`,
          fix: `pin the certificate instead: ${pinLine(config, endpoint, probe.fingerprint)}`,
        }
      }
      return probe.trusted
        ? { name, status: "ok", message: `${where}: certificate verified` }
        : {
            name,
            status: "fail",
            message: `${where}: the certificate is not trusted (${probe.untrustedReason}); its SHA-256 fingerprint is ${probe.fingerprint}`,
            fix:
              `Proxmox VE uses a self-signed certificate by default: pin it with ${pinLine(config, endpoint, probe.fingerprint)} ` +
              "(compare with the fingerprint in the web UI: node > System > Certificates), or set " +
              "PROXMOX_CA_FILE to a copy of /etc/pve/pve-root-ca.pem",
          }
    },
  )

const apiFor = (config: ProxmoxConfig, endpoint: ProxmoxEndpoint) => {
  const single: ProxmoxConfig = {
    ...config,
    endpoints: [endpoint],
    requestTimeoutMs: Math.min(config.requestTimeoutMs, 10_000),
  }
  return ProxmoxApi.layer(single).pipe(
    Layer.provide(Layer.merge(proxmoxTransportLayer(single), UpstreamLog.layer)),
  )
}

const explainToken = (error: ProxmoxApi.ApiError, endpoint: ProxmoxEndpoint): Check => {
  const name = `token ${endpoint.name}`
  if (error instanceof ProxmoxError && error.code === "PROXMOX_AUTH_FAILED") {
    return {
      name,
      status: "fail",
      message: `Proxmox refused the API token ${endpoint.tokenId} (401): the token id or secret is wrong, the token expired or was deleted, or its user is disabled`,
      fix:
        "check PROXMOX_TOKEN_ID (user@realm!tokenname) and PROXMOX_TOKEN_SECRET (the UUID shown once when the token was created); " +
        "list tokens with: pveum user token list USER@REALM; a new one: pveum user token add USER@REALM NAME --privsep 1",
    }
  }
  return { name, status: "fail", message: `GET /version failed: ${error.message}` }
}

type Api = ProxmoxApi.ProxmoxApiService

const checkToken = (api: Api, endpoint: ProxmoxEndpoint) =>
  api.request({ method: "GET", path: "/version" }).pipe(
    Effect.map((data): Check => {
      const version = (data as { version?: unknown } | null)?.version
      return {
        name: `token ${endpoint.name}`,
        status: "ok",
        message: `token ${endpoint.tokenId} accepted; Proxmox VE ${typeof version === "string" ? version : "(version unknown)"}`,
      }
    }),
    Effect.catchAll((error) => Effect.succeed(explainToken(error, endpoint))),
  )

const checkPrivileges = (
  api: Api,
  endpoint: ProxmoxEndpoint,
  tools: ReadonlyArray<ToolInfo>,
  settings: Settings,
) =>
  api.request({ method: "GET", path: "/access/permissions" }).pipe(
    Effect.map((data): Check => {
      const needed = requirementsOf(tools)
      const missing = shortfalls(needed, (data ?? {}) as PermissionMap)
      if (missing.length === 0) {
        return {
          name: "privileges",
          status: "ok",
          message: `the token holds the ${needed.length} privileges tier ${settings.policy.tier} needs for its ${tools.length} tools`,
        }
      }
      const lines = missing.map(({ requirement, onlyOn }) => {
        const tools =
          requirement.tools.length > 3
            ? `${requirement.tools.slice(0, 3).join(", ")}, ...`
            : requirement.tools.join(", ")
        const partial = onlyOn.length > 0 ? `; granted only on ${onlyOn.slice(0, 5).join(", ")}` : ""
        const or = requirement.alternatives.length > 0 ? ` (or ${requirement.alternatives.join(" / ")})` : ""
        return `${requirement.privilege}${or} on ${requirement.path}: needed by ${tools}${partial}`
      })
      return {
        name: "privileges",
        status: "fail",
        message: `the token lacks ${missing.length} privilege${missing.length === 1 ? "" : "s"} that tier ${settings.policy.tier} needs:\n${lines.join("\n")}`,
        fix:
          `grant them (a privilege-separated token needs them on the token AND on its user), e.g. print the commands with: ` +
          `proxmox-mcp bootstrap --tier ${settings.policy.tier}; or lower PVE_ACCESS_TIER / narrow PVE_CATEGORIES`,
      }
    }),
    Effect.catchAll((error) =>
      Effect.succeed<Check>({
        name: "privileges",
        status: "fail",
        message: `GET /access/permissions failed: ${error.message} (${endpoint.name})`,
      }),
    ),
  )

const checkCluster = (api: Api) =>
  api.request({ method: "GET", path: "/cluster/status" }).pipe(
    Effect.map((data): Check => {
      const entries = Array.isArray(data) ? (data as ReadonlyArray<Record<string, unknown>>) : []
      const cluster = entries.find((e) => e.type === "cluster")
      const nodes = entries.filter((e) => e.type === "node")
      const online = nodes.filter((n) => n.online === 1 || n.online === true).map((n) => String(n.name))
      const offline = nodes.filter((n) => !(n.online === 1 || n.online === true)).map((n) => String(n.name))
      const list = `nodes online: ${online.join(", ") || "none"}${offline.length > 0 ? `; offline: ${offline.join(", ")}` : ""}`
      if (cluster === undefined) return { name: "cluster", status: "ok", message: `standalone node; ${list}` }
      const quorate = cluster.quorate === 1 || cluster.quorate === true
      return quorate
        ? {
            name: "cluster",
            status: offline.length > 0 ? "warn" : "ok",
            message: `cluster '${String(cluster.name)}' is quorate; ${list}`,
          }
        : {
            name: "cluster",
            status: "warn",
            message: `cluster '${String(cluster.name)}' has NO quorum: reads work, changes will fail; ${list}`,
            fix: "bring the offline nodes back (pvecm status on a node shows the votes)",
          }
    }),
    Effect.catchAll((error) =>
      Effect.succeed<Check>({
        name: "cluster",
        status: "fail",
        message: `GET /cluster/status failed: ${error.message}`,
      }),
    ),
  )

/** The nearest existing directory at or above `dir`. */
const existingAncestor = (dir: string): string => {
  let current = dir
  while (!fs.existsSync(current)) {
    const parent = path.dirname(current)
    if (parent === current) return current
    current = parent
  }
  return current
}

const checkAudit = (audit: AuditSettings) =>
  Effect.promise(async (): Promise<Check> => {
    const file = audit.path
    const target = fs.existsSync(file) ? file : existingAncestor(path.dirname(file))
    try {
      fs.accessSync(target, fs.constants.W_OK)
      if (target !== file && !fs.statSync(target).isDirectory())
        throw new Error(`${target} is not a directory`)
    } catch (error) {
      return {
        name: "audit",
        status: "fail",
        message: `the audit log ${file} cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message} on ${target}); the server would refuse to start`,
        fix: "set AUDIT_LOG_PATH to a file in a directory this user can write, or fix the directory's owner and mode",
      }
    }
    if (!fs.existsSync(file))
      return { name: "audit", status: "ok", message: `${file} will be created (its directory is writable)` }
    const rotated: Array<string> = []
    for (let n = 1; n <= audit.maxFiles && fs.existsSync(rotatedPathOf(file, n)); n++)
      rotated.unshift(rotatedPathOf(file, n))
    const result = await auditVerify([...rotated, file], {
      partial: rotated.length >= audit.maxFiles,
      ...(audit.hmacKey === undefined ? {} : { key: hmacKeyObject(audit.hmacKey) }),
    })
    return result.ok
      ? { name: "audit", status: "ok", message: `${file} is writable; ${result.message}` }
      : {
          name: "audit",
          status: "fail",
          message: `${file}: ${result.message}`,
          fix: "keep the damaged files for investigation, move them aside, and let the server start a new log",
        }
  })

/** Runs every check that can run; later checks are skipped when what they need failed. */
export const diagnose = (env: Environment): Effect.Effect<DoctorReport> =>
  Effect.gen(function* () {
    const checks: Array<Check> = []
    const loaded = load(
      env,
      Config.all({ proxmox: proxmoxConfig, policy: policySettings, audit: auditConfig, ssh: sshConfig }),
    )
    if (Either.isLeft(loaded)) {
      checks.push({
        name: "config",
        status: "fail",
        message: loaded.left,
        fix: "see README.md, Configuration; `proxmox-mcp setup` writes a working configuration",
      })
      return { ok: false, checks }
    }
    const settings = loaded.right
    const tools = staticallyExposed(builtin.entries, settings.policy)
      .filter((entry) => entry.aliasFor === undefined)
      .map((entry) => entry.tool)
    const endpoints = settings.proxmox.endpoints
    checks.push(
      tools.length === 0
        ? {
            name: "config",
            status: "fail",
            message: "the policy exposes no tool",
            fix: "check PVE_TOOL_WHITELIST, PVE_TOOL_BLACKLIST, PVE_CATEGORIES and PVE_MODULES (see `proxmox-mcp tools --all`)",
          }
        : {
            name: "config",
            status: "ok",
            message: `${endpoints.length} endpoint${endpoints.length === 1 ? "" : "s"} (${endpoints.map((e) => `${e.name}=${e.host}:${e.port}`).join(", ")}), tier ${settings.policy.tier}, ${tools.length} tools`,
          },
    )

    let usable: Api | undefined
    let usableEndpoint: ProxmoxEndpoint | undefined
    for (const endpoint of endpoints) {
      const tls = yield* checkTls(settings.proxmox, endpoint)
      checks.push(tls)
      if (tls.status === "fail") {
        checks.push({
          name: `token ${endpoint.name}`,
          status: "skip",
          message: "not checked: the TLS check failed",
        })
        continue
      }
      const token = yield* Effect.scoped(
        Effect.gen(function* () {
          const api = yield* ProxmoxApi.ProxmoxApi
          const result = yield* checkToken(api, endpoint)
          if (result.status === "ok" && usable === undefined) {
            // The remaining checks run over this endpoint's client, in the same scope.
            checks.push(result)
            checks.push(yield* checkPrivileges(api, endpoint, tools, settings))
            checks.push(yield* checkCluster(api))
            usable = api
            usableEndpoint = endpoint
            return undefined
          }
          return result
        }).pipe(Effect.provide(apiFor(settings.proxmox, endpoint))),
      )
      if (token !== undefined) checks.push(token)
    }
    if (usable === undefined || usableEndpoint === undefined) {
      checks.push({
        name: "privileges",
        status: "skip",
        message: "not checked: no endpoint accepted the token",
      })
      checks.push({ name: "cluster", status: "skip", message: "not checked: no endpoint accepted the token" })
    }
    checks.push(yield* checkAudit(settings.audit))
    checks.push(yield* checkSsh(settings.ssh))
    return { ok: checks.every((c) => c.status !== "fail"), checks }
  })

/**
 * SSH, when configured: the entry host's key is verified (known_hosts or pins, exactly as the
 * tools do), the key logs in, and `pct` and `pveversion` are on the login's command path.
 */
const checkSsh = (ssh: SshSettings): Effect.Effect<Check> => {
  const entry = ssh.entry
  if (!sshConfigured(ssh) || entry === undefined)
    return Effect.succeed({
      name: "ssh",
      status: "skip",
      message:
        "not configured (PROXMOX_SSH_KEY_PATH unset or PROXMOX_SSH_STRATEGY=disabled): remote tools hidden",
    })
  const where = `${entry.user}@${entry.host}:${entry.port}`
  return Effect.flatMap(Ssh.Ssh, (client) =>
    client.exec({ target: entry }, ["sh", "-c", "command -v pct; command -v pveversion"], {
      timeoutMs: 15_000,
    }),
  ).pipe(
    Effect.provide(Ssh.layer(ssh)),
    Effect.map((result): Check => {
      const found = result.stdout.split("\n").filter((line) => line.trim() !== "")
      return found.length >= 2
        ? {
            name: "ssh",
            status: "ok",
            message: `${where}: host key verified, login works, pct and pveversion found`,
          }
        : {
            name: "ssh",
            status: "warn",
            message: `${where}: host key verified and login works, but pct / pveversion are not on the command path`,
            fix: "PROXMOX_SSH_HOST should be a Proxmox VE node, and PROXMOX_SSH_USER a user that can run pct (root)",
          }
    }),
    Effect.catchAll((error) =>
      Effect.succeed<Check>({
        name: "ssh",
        status: "fail",
        message: `${where}: ${error.message}`,
        fix:
          error._tag === "SshError" && error.code === "SSH_HOST_KEY_REJECTED"
            ? `check the host's key on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) against ${error.fingerprint ?? "the presented key"}, then add it to ${ssh.knownHostsPath} or PROXMOX_SSH_HOST_FINGERPRINTS`
            : error._tag === "SshError" && error.code === "SSH_AUTH_FAILED"
              ? "add the public key of PROXMOX_SSH_KEY_PATH to the user's authorized_keys on the entry host"
              : "check PROXMOX_SSH_HOST / PROXMOX_SSH_PORT and that sshd runs there",
      }),
    ),
  )
}

const MARK: Record<CheckStatus, string> = { ok: "ok  ", warn: "WARN", fail: "FAIL", skip: "skip" }

export const renderReport = (report: DoctorReport): string => {
  const width = Math.max(...report.checks.map((c) => c.name.length))
  const lines = report.checks.map((check) => {
    const indent = " ".repeat(width + 9)
    const message = check.message.split("\n").join(`\n${indent}`)
    const fix = check.fix === undefined ? "" : `\n${indent}fix: ${check.fix}`
    return `  [${MARK[check.status]}] ${check.name.padEnd(width)}  ${message}${fix}`
  })
  const failed = report.checks.filter((c) => c.status === "fail").length
  const warned = report.checks.filter((c) => c.status === "warn").length
  const verdict =
    failed === 0
      ? `all good${warned > 0 ? ` (${warned} warning${warned === 1 ? "" : "s"})` : ""}`
      : `${failed} problem${failed === 1 ? "" : "s"} to fix${warned > 0 ? `, ${warned} warning${warned === 1 ? "" : "s"}` : ""}`
  return `proxmox-mcp doctor\n${lines.join("\n")}\n${verdict}`
}

export const DOCTOR_USAGE = `Usage: proxmox-mcp doctor [--json]

Checks the configuration (environment / PROXMOX_MCP_CONFIG, as 'run' reads it) against the cluster:
config, each endpoint's reachability and TLS (with the exact line to pin a certificate), the API
token, the token's privileges against what the tier and categories need, quorum and nodes, and the
audit log (writable; the chain verifies). Exit 0 when nothing failed, 1 otherwise.
  --json   one JSON object {ok, checks: [{name, status, message, fix?}]}`

export const doctor = (args: ReadonlyArray<string>, env: Environment): Effect.Effect<number> =>
  Effect.suspend(() => {
    checkFlags(args, ["--json"])
    return Effect.map(diagnose(env), (report) => {
      process.stdout.write(`${args.includes("--json") ? JSON.stringify(report) : renderReport(report)}\n`)
      return report.ok ? 0 : 1
    })
  })

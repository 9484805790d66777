/**
 * Layer composition. `proxmoxLayer` is the embeddable core: it needs an `HttpClient` and a
 * config and bakes in no Node platform layer. `liveProxmoxLayer` adds the Node HTTPS client with
 * the pinning agent; binaries compose it once, at the edge.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as UpstreamLog from "./audit/upstream.js"
import { type ProxmoxConfig, proxmoxConfig } from "./config/proxmox.js"
import type { LogLevels } from "./config/server.js"
import { SSH_DISABLED, type SshSettings, sshConfig } from "./config/ssh.js"
import { Redactor } from "./domain/redact.js"
import { makeToolNames } from "./policy/names.js"
import * as Policy from "./policy/policy.js"
import type { PolicySettings } from "./policy/settings.js"
import * as ProxmoxApi from "./proxmox/api.js"
import * as NodeRegistry from "./proxmox/registry.js"
import * as Tasks from "./proxmox/tasks.js"
import { proxmoxTransportLayer } from "./proxmox/transport.js"
import * as Remote from "./ssh/remote.js"
import * as Ssh from "./ssh/ssh.js"
import * as Catalog from "./tools/catalog.js"

export const proxmoxLayer = (config: ProxmoxConfig, registry: NodeRegistry.RegistryOptions = {}) =>
  Layer.mergeAll(Tasks.layer, NodeRegistry.layer(registry)).pipe(
    Layer.provideMerge(ProxmoxApi.layer(config)),
    Layer.provideMerge(UpstreamLog.layer),
  )

/**
 * Everything a tool call needs but the audit sink, the redactor and the HTTP client: Proxmox,
 * registry, tasks, the upstream log, policy and the built-in catalog.
 */
export const toolLayer = (
  config: ProxmoxConfig,
  policy: PolicySettings,
  registry: NodeRegistry.RegistryOptions = {},
  ssh: SshSettings = SSH_DISABLED,
  sshOptions: Ssh.SshLayerOptions = {},
) =>
  Layer.mergeAll(Policy.layer(policy), Catalog.layer, sshLayer(ssh, sshOptions)).pipe(
    Layer.provideMerge(proxmoxLayer(config, registry)),
  )

/**
 * The remote tools' layers: `Remote` (routing to a node, audit of each command) over the `Ssh`
 * port's ssh2 layer. With `SSH_DISABLED` every remote call fails with SSH_DISABLED.
 */
export const sshLayer = (settings: SshSettings = SSH_DISABLED, options: Ssh.SshLayerOptions = {}) =>
  Remote.layer(settings).pipe(Layer.provideMerge(Ssh.layer(settings, options)))

/** `proxmoxLayer` configured by environment / config file (PROXMOX_HOST or PROXMOX_NODES, ...). */
export const proxmoxLayerConfig = (registry: NodeRegistry.RegistryOptions = {}) =>
  Layer.mergeAll(Tasks.layer, NodeRegistry.layer(registry)).pipe(
    Layer.provideMerge(ProxmoxApi.layerConfig),
    Layer.provideMerge(UpstreamLog.layer),
  )

/** `toolLayer` configured by environment / config file, with the built-in catalog. */
export const toolLayerConfig = (registry: NodeRegistry.RegistryOptions = {}) =>
  Layer.mergeAll(
    Policy.layerConfig(makeToolNames(Catalog.builtin.entries)),
    Catalog.layer,
    Layer.unwrapEffect(Effect.map(sshConfig, (settings) => sshLayer(settings))),
  ).pipe(Layer.provideMerge(proxmoxLayerConfig(registry)))

/**
 * The `Redactor` that knows the configured Proxmox token secrets (PROXMOX_TOKEN_SECRET,
 * PROXMOX_NODE_TOKENS), as the binary's does, so a secret is removed even where no key or
 * pattern gives it away. Secrets learned at run time are added with `register`.
 */
export const redactorLayerConfig = Redactor.layerConfig(proxmoxConfig, (config) =>
  config.endpoints.map((endpoint) => endpoint.tokenSecret),
)

export const liveProxmoxLayer = (config: ProxmoxConfig, registry: NodeRegistry.RegistryOptions = {}) =>
  proxmoxLayer(config, registry).pipe(Layer.provide(proxmoxTransportLayer(config)))

const levels: Record<(typeof LogLevels)[number], LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None,
}

/** JSON lines on stderr (stdout belongs to the stdio protocol), each passed through the redactor. */
export const stderrLoggerLayer = (
  level: (typeof LogLevels)[number],
  redactLine: (line: string) => string = (l) => l,
) =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.map(Logger.jsonLogger, redactLine))),
    Logger.minimumLogLevel(levels[level]),
  )

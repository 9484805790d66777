/**
 * The embeddable API: the layers, ports and types another Effect application needs to run
 * proxmox-mcp's tools in-process, or to serve them with its own transport. Ports are exported
 * as modules, the way Effect's own are: `ProxmoxApi.ProxmoxApi` is the Tag, `ProxmoxApi.layer`
 * and `ProxmoxApi.layerConfig` its layers (from a value, or read from configuration).
 * `examples/embed.ts` runs a tool against the simulator in a few lines.
 */

export { auditConfig } from "./audit/config.js"
export { layerFile, layerFileConfig } from "./audit/file.js"
export { layerMemory, MemoryAuditRecords } from "./audit/memory.js"
export { Audit, type AuditEntry, type AuditRecord, type AuditService, AuditWriteError } from "./audit/port.js"
export * as UpstreamLog from "./audit/upstream.js"
export { configProvider, formatConfigError } from "./config/provider.js"
export { type ProxmoxConfig, type ProxmoxEndpoint, proxmoxConfig } from "./config/proxmox.js"
export { SSH_DISABLED, type SshAddress, type SshSettings, sshConfig, sshConfigured } from "./config/ssh.js"
export {
  AuditFailed,
  ConfirmationDeclined,
  ConfirmationRequired,
  DiagnosticNotAllowed,
  type ErrorCode,
  type Failure,
  Forbidden,
  GuestNotFound,
  InvalidContainerName,
  InvalidInput,
  OutcomeUnknown,
  ProtectedGuest,
  ProxmoxError,
  type PublicError,
  RemoteCommandFailed,
  SshDisabled,
  SshError,
  TaskFailed,
  TaskWaitFailed,
  TaskWaitTimeout,
  ToolError,
  ToolInputRejected,
  UnknownNode,
} from "./domain/errors.js"
export { LOCAL_PRINCIPAL, type Principal } from "./domain/principal.js"
export { makeRedactor, Redactor, type RedactorService } from "./domain/redact.js"
export { type Target, TargetRef } from "./domain/target.js"
export {
  proxmoxLayer,
  proxmoxLayerConfig,
  redactorLayerConfig,
  sshLayer,
  toolLayer,
  toolLayerConfig,
} from "./layers.js"
export * as McpServer from "./mcp/server.js"
export { serveStdio } from "./mcp/stdio.js"
export { makeToolNames, type ToolNames } from "./policy/names.js"
export * as Policy from "./policy/policy.js"
export { DEFAULT_POLICY, type PolicySettings, policyConfig } from "./policy/settings.js"
export * as ProxmoxApi from "./proxmox/api.js"
export * as NodeRegistry from "./proxmox/registry.js"
export * as Tasks from "./proxmox/tasks.js"
export * as ProxmoxTransport from "./proxmox/transport.js"
export { proxmoxTransportLayer, proxmoxTransportLayerConfig } from "./proxmox/transport.js"
export { httpClientTransportLayer } from "./proxmox/transport-http-client.js"
export * as Remote from "./ssh/remote.js"
export * as Ssh from "./ssh/ssh.js"
export { localCall, ToolCall, type ToolCallService } from "./tools/call.js"
export * as Catalog from "./tools/catalog.js"
export { callTool, callToolOutput } from "./tools/client.js"
export * as Endpoint from "./tools/endpoint.js"
export type { Envelope } from "./tools/envelope.js"
export { execute, invoke } from "./tools/invoke.js"
export * as Tool from "./tools/tool.js"

/**
 * The embeddable API: the layers, ports and types another Effect application needs to run
 * proxmox-mcp's tools in-process, or to serve them with its own transport.
 *
 *   const layer = toolLayer(proxmoxConfig, policySettings).pipe(
 *     Layer.provideMerge(layerMemory()),                 // or layerFile({ path })
 *     Layer.provide(proxmoxHttpClientLayer(proxmoxConfig)), // or any HttpClient
 *   )
 */

export { auditConfig } from "./audit/config.js"
export { layerFile } from "./audit/file.js"
export { layerMemory, MemoryAuditRecords } from "./audit/memory.js"
export { Audit, type AuditEntry, type AuditRecord, type AuditService, AuditWriteError } from "./audit/port.js"
export { UpstreamLog } from "./audit/upstream.js"
export { configProvider, formatConfigError } from "./config/provider.js"
export { type ProxmoxConfig, type ProxmoxEndpoint, proxmoxConfig } from "./config/proxmox.js"
export type { ErrorCode, Failure, ToolError } from "./domain/errors.js"
export { LOCAL_PRINCIPAL, type Principal } from "./domain/principal.js"
export { makeRedactor, Redactor, type RedactorService } from "./domain/redact.js"
export { TargetRef } from "./domain/target.js"
export { proxmoxLayer, toolLayer } from "./layers.js"
export { type Connection, layer as mcpServerLayer, McpServer, type McpServerOptions } from "./mcp/server.js"
export { serveStdio } from "./mcp/stdio.js"
export { Policy, type PolicyService } from "./policy/policy.js"
export { DEFAULT_POLICY, type PolicySettings, policyConfig } from "./policy/settings.js"
export { proxmoxHttpClientLayer } from "./proxmox/agent.js"
export { type ApiRequest, ProxmoxApi, type ProxmoxApiService } from "./proxmox/api.js"
export { NodeRegistry } from "./proxmox/registry.js"
export { Tasks } from "./proxmox/tasks.js"
export { localCall, ToolCall, type ToolCallService } from "./tools/call.js"
export {
  type BuiltinTool,
  builtin as builtinCatalog,
  builtinTools,
  Catalog,
  type CatalogEntry,
} from "./tools/catalog.js"
export * as Endpoint from "./tools/endpoint.js"
export type { Envelope } from "./tools/envelope.js"
export { execute, invoke } from "./tools/invoke.js"
export * as Tool from "./tools/tool.js"

/**
 * What the policy, the listing and the docs know about a tool: its public metadata, without its
 * program. Tools (`src/tools`) carry this plus their input schema, targets and run; the policy
 * judges only this, so it never imports a tool.
 */
import type { Category, Module, Tier } from "./ids.js"

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE"

export interface EndpointRef {
  readonly method: HttpMethod
  /** PVE path template without `/api2/json`. */
  readonly path: string
}

export interface ToolInfo {
  readonly name: string
  readonly title: string
  /** When to use it and what it returns. */
  readonly description: string
  readonly category: Category
  readonly tier: Tier
  readonly module: Module
  readonly destructive: boolean
  /** Needs a confirmation before anything is sent (NANDI `confirm=true`). */
  readonly confirm: boolean
  readonly idempotent: boolean
  /** Starts a Proxmox task: the tool returns `{upid, node}` and accepts `wait` / `timeoutSeconds`. */
  readonly startsTask: boolean
  /** What confirming means, shown to the human and in `CONFIRMATION_REQUIRED`. */
  readonly impact?: string
  /** Legacy names kept for compatibility (e.g. NANDI's `listVMs`): listed only on request. */
  readonly deprecated?: boolean
  readonly endpoints: ReadonlyArray<EndpointRef>
  readonly ssh: null | { readonly command: string }
}

/** One name a client may call: a tool's own name, or an alias of it. */
export interface NamedTool<T extends ToolInfo = ToolInfo> {
  /** The name the client used. */
  readonly name: string
  readonly tool: T
  /** For an alias: the canonical tool's name. */
  readonly aliasFor?: string
}

/** A tool is state-changing exactly when its tier is not read-only (SPEC section 12). */
export const isStateChanging = (tool: ToolInfo): boolean => tool.tier !== "read-only"

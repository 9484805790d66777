/**
 * The Policy layer decides every call, in SPEC section 6 order; the first refusal wins:
 *   1. hard deny: DENIED_OPERATIONS, and ALLOWED_OPERATIONS when set;
 *   2. static exposure: tier, module mode, categories, whitelist (narrows only), blacklist;
 *   3. the principal: its tier cap, admin-only operations, resource patterns matched against
 *      the real target computed from validated arguments (never a client-supplied string);
 *   4. protected guests: no state-changing tool on a protected vmid or tag, whatever the tier;
 *   5. confirmation for tools marked confirm (argument, elicitation, or auto).
 * Steps 1-2 and the tier cap are static: such tools are not listed and answer as unknown tools.
 */
import { Context, Effect, Layer } from "effect"
import {
  ConfirmationDeclined,
  ConfirmationRequired,
  Forbidden,
  type GuestNotFound,
  ProtectedGuest,
  type UnknownNode,
} from "../domain/errors.js"
import { type Tier, tierRank, upidNode } from "../domain/ids.js"
import type { Principal } from "../domain/principal.js"
import type { ApiError } from "../proxmox/api.js"
import { type GuestType, NodeRegistry } from "../proxmox/registry.js"
import { type CatalogEntry, entries } from "../tools/catalog.js"
import type { ToolDeclaration } from "../tools/tool.js"
import { ADMIN_ONLY_OPERATIONS, SUTIAN_OPERATIONS } from "./operations.js"
import type { PolicySettings } from "./settings.js"

export type ConfirmationAnswer = "accept" | "decline" | "cancel"

/** What the human is asked; built from validated ids and sanitized names only. */
export interface ConfirmationRequest {
  readonly tool: string
  readonly message: string
}

/** The transport's means of asking the human; absent when the client cannot (no elicitation). */
export type Elicit = (request: ConfirmationRequest) => Effect.Effect<ConfirmationAnswer>

/** The real target of a call, computed by the server from validated arguments. */
export interface Target {
  readonly node?: string
  readonly type?: GuestType
  readonly vmid?: number
  readonly storage?: string
  /** The guest's name and tags from /cluster/resources (for protection and the confirmation text). */
  readonly name?: string
  readonly tags?: ReadonlyArray<string>
}

export type PolicyRefusal = Forbidden | ProtectedGuest | ConfirmationRequired | ConfirmationDeclined

export interface AuthorizeRequest {
  readonly entry: CatalogEntry
  readonly input: Readonly<Record<string, unknown>>
  readonly principal: Principal
  /** The call's target, from `resolveTarget`. */
  readonly target: Target
  readonly elicit?: Elicit | undefined
}

export interface PolicyService {
  readonly settings: PolicySettings
  /** The rule that hides the entry from this principal, or undefined when it is exposed. */
  readonly hiddenBy: (entry: CatalogEntry, principal: Principal) => string | undefined
  /** The entries this principal may see, in catalog order. */
  readonly exposed: (principal: Principal) => ReadonlyArray<CatalogEntry>
  /**
   * The real target of a call, computed from validated input (node, guest type, vmid, storage;
   * the guest's name and tags from /cluster/resources, read fresh when protection needs them).
   */
  readonly resolveTarget: (
    entry: CatalogEntry,
    input: Readonly<Record<string, unknown>>,
  ) => Effect.Effect<Target, UnknownNode | GuestNotFound | ApiError>
  /**
   * Decides one call, every rule in SPEC order (1-2 again, so that no caller of the tool
   * pipeline can skip them, then 3-5). Fails with the refusal of the first rule that refuses.
   */
  readonly authorize: (request: AuthorizeRequest) => Effect.Effect<void, PolicyRefusal>
}

export class Policy extends Context.Tag("proxmox-mcp/Policy")<Policy, PolicyService>() {}

/** A tool is state-changing exactly when its tier is not read-only (SPEC section 12). */
export const isStateChanging = (tool: ToolDeclaration): boolean => tool.tier !== "read-only"

const lowestTier = (a: Tier, b: Tier | undefined): Tier =>
  b !== undefined && tierRank(b) < tierRank(a) ? b : a

/** Sutian's admin-only operations, as canonical tool names. */
const ADMIN_ONLY_TOOLS: ReadonlySet<string> = new Set(
  ADMIN_ONLY_OPERATIONS.flatMap((op) => SUTIAN_OPERATIONS[op] ?? []),
)

/** Static rules 1-2 for a canonical tool; the rule's name, or undefined when none refuses. */
export const staticRule = (tool: ToolDeclaration, settings: PolicySettings): string | undefined => {
  if (settings.denied.has(tool.name)) return "DENIED_OPERATIONS"
  if (settings.allowed !== undefined && !settings.allowed.has(tool.name)) return "ALLOWED_OPERATIONS"
  if (tierRank(tool.tier) > tierRank(settings.tier)) return "PVE_ACCESS_TIER"
  if (settings.moduleMode === "core" && tool.module !== "core") return "PVE_MODULE_MODE"
  if (settings.categories !== undefined && !settings.categories.has(tool.category)) return "PVE_CATEGORIES"
  if (settings.whitelist !== undefined && !settings.whitelist.has(tool.name)) return "PVE_TOOL_WHITELIST"
  if (settings.blacklist.has(tool.name)) return "PVE_TOOL_BLACKLIST"
  return undefined
}

/** The entries the server's static rules expose (what `proxmox-mcp tools` shows). */
export const staticallyExposed = (settings: PolicySettings): ReadonlyArray<CatalogEntry> =>
  entries.filter((entry) => staticRule(entry.tool, settings) === undefined)

/** Control characters removed, length capped: text that came from Proxmox is never shown raw. */
export const sanitize = (text: string, max = 64): string => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "").trim()
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean
}

/** `/nodes/pve1/qemu/100`, `/nodes/pve1/storage/local`, `/storage/local`, `/nodes/pve1`, or `/` for cluster-wide. */
export const targetPath = (target: Target): string => {
  if (target.node !== undefined && target.type !== undefined && target.vmid !== undefined) {
    return `/nodes/${target.node}/${target.type}/${target.vmid}`
  }
  if (target.storage !== undefined) {
    return target.node === undefined
      ? `/storage/${target.storage}`
      : `/nodes/${target.node}/storage/${target.storage}`
  }
  if (target.node !== undefined) return `/nodes/${target.node}`
  return "/"
}

const globMatches = (glob: string, path: string) =>
  new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`).test(path)

const describeTarget = (target: Target): string => {
  const where = target.node === undefined ? "" : ` on node ${target.node}`
  if (target.vmid !== undefined) {
    const kind = target.type === "lxc" ? "container" : target.type === "qemu" ? "VM" : "guest"
    const name =
      target.name === undefined || sanitize(target.name) === "" ? "" : ` "${sanitize(target.name)}"`
    return `${kind} ${target.vmid}${name}${where}`
  }
  if (target.storage !== undefined) return `storage ${target.storage}${where}`
  return target.node === undefined ? "the cluster" : `node ${target.node}`
}

export const make = (settings: PolicySettings) =>
  Effect.gen(function* () {
    const registry = yield* NodeRegistry

    const hiddenBy = (entry: CatalogEntry, principal: Principal): string | undefined => {
      const rule = staticRule(entry.tool, settings)
      if (rule !== undefined) return rule
      if (tierRank(entry.tool.tier) > tierRank(lowestTier(settings.tier, principal.tier)))
        return "principal tier"
      if (ADMIN_ONLY_TOOLS.has(entry.tool.name) && principal.admin !== true) return "admin-only operation"
      return undefined
    }

    const exposed = (principal: Principal) =>
      entries.filter((entry) => hiddenBy(entry, principal) === undefined)

    /** The target from validated input; guest name/tags looked up afresh for state-changing calls. */
    const resolveTarget = (entry: CatalogEntry, input: Readonly<Record<string, unknown>>) =>
      Effect.gen(function* () {
        const tool = entry.tool
        const type: GuestType | undefined =
          tool.category === "qemu" || tool.category === "lxc"
            ? tool.category
            : input.guest_type === "qemu" || input.guest_type === "lxc"
              ? input.guest_type
              : undefined
        const upid = typeof input.upid === "string" ? input.upid : undefined
        // A task's UPID names its node and, for guest tasks, the guest's vmid.
        const upidId =
          upid === undefined ? undefined : /^UPID:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+:(\d+):/.exec(upid)?.[1]
        const vmid =
          typeof input.vmid === "number" ? input.vmid : upidId === undefined ? undefined : Number(upidId)
        const node =
          typeof input.node === "string" ? input.node : upid === undefined ? undefined : upidNode(upid)
        const storage = typeof input.storage === "string" ? input.storage : undefined
        let target: Target = {
          ...(node === undefined ? {} : { node }),
          ...(type === undefined ? {} : { type }),
          ...(vmid === undefined ? {} : { vmid }),
          ...(storage === undefined ? {} : { storage }),
        }
        if (vmid !== undefined && (type !== undefined || upidId !== undefined)) {
          // Protection is decided on current tags: a state-changing call reads them fresh.
          const fresh = isStateChanging(tool) && settings.protectedTags.size > 0
          const guest = yield* registry
            .locateGuest(vmid, type, { fresh })
            .pipe(
              Effect.catchTag("GuestNotFound", (e) =>
                upidId !== undefined ? Effect.succeed(undefined) : Effect.fail(e),
              ),
            )
          if (guest !== undefined) {
            target = {
              ...target,
              node: node ?? guest.node,
              type: guest.type,
              ...(guest.name === undefined ? {} : { name: guest.name }),
              tags: guest.tags,
            }
          }
        }
        return target
      })

    const checkResources = (principal: Principal, target: Target): Effect.Effect<void, Forbidden> => {
      const path = targetPath(target)
      if (principal.resources === undefined || path === "/") return Effect.void
      return principal.resources.some((glob) => globMatches(glob, path))
        ? Effect.void
        : Effect.fail(
            new Forbidden({
              rule: "principal resources",
              message: `${principal.sub} may not act on ${path} (resource patterns of role ${principal.role})`,
            }),
          )
    }

    const checkProtected = (tool: ToolDeclaration, target: Target): Effect.Effect<void, ProtectedGuest> => {
      if (!isStateChanging(tool) || target.vmid === undefined) return Effect.void
      const vmid = target.vmid
      if (settings.protectedVmids.some((r) => vmid >= r.from && vmid <= r.to)) {
        return Effect.fail(new ProtectedGuest({ rule: "PVE_PROTECTED_VMIDS", vmid }))
      }
      const tag = (target.tags ?? []).find((t) => settings.protectedTags.has(t.toLowerCase()))
      return tag === undefined
        ? Effect.void
        : Effect.fail(new ProtectedGuest({ rule: "PVE_PROTECTED_TAGS", vmid, tag }))
    }

    const confirm = (request: AuthorizeRequest, target: Target) =>
      Effect.gen(function* () {
        const tool = request.entry.tool
        if (!tool.confirm) return
        const impact = tool.impact ?? tool.description
        const what = `${tool.title} (${request.entry.name}) on ${describeTarget(target)}`
        const useElicitation =
          settings.confirmMode === "elicit" ||
          (settings.confirmMode === "auto" && request.elicit !== undefined)
        if (!useElicitation) {
          if (request.input.confirm === true) return
          return yield* new ConfirmationRequired({
            message: `${what} changes the state of the cluster and needs confirmation.`,
            hint: "Check the target and impact, then call again with confirm: true.",
            impact,
          })
        }
        if (request.elicit === undefined) {
          return yield* new ConfirmationRequired({
            message: `${what} needs a human's confirmation, and this client cannot ask for it (no MCP elicitation support).`,
            hint: "Use an MCP client that supports elicitation, or ask the operator to set PVE_CONFIRM_MODE=argument so that confirm: true is accepted.",
            impact,
          })
        }
        const answer = yield* request.elicit({
          tool: request.entry.name,
          message: `Allow ${what}?\nImpact: ${impact}`,
        })
        if (answer !== "accept") return yield* new ConfirmationDeclined({ answer })
      })

    const authorize = (request: AuthorizeRequest) =>
      Effect.gen(function* () {
        const hidden = hiddenBy(request.entry, request.principal)
        if (hidden !== undefined) {
          return yield* new Forbidden({
            rule: hidden,
            message: `${request.entry.name} is not available (${hidden})`,
          })
        }
        yield* checkResources(request.principal, request.target)
        yield* checkProtected(request.entry.tool, request.target)
        yield* confirm(request, request.target)
      })

    return Policy.of({ settings, hiddenBy, exposed, resolveTarget, authorize })
  })

export const layer = (settings: PolicySettings) => Layer.effect(Policy, make(settings))

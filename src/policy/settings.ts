/**
 * Policy settings (SPEC sections 3 and 6), read and checked at startup. An unknown tier,
 * category, confirm mode, tool name or malformed vmid range stops startup with a message naming
 * the variable and the value.
 */
import * as Config from "effect/Config"
import * as Either from "effect/Either"
import { sshConfig, sshConfigured } from "../config/ssh.js"
import { invalid, oneOf, optionalString } from "../config/values.js"
import {
  Categories,
  type Category,
  type Module,
  Modules,
  type Tier,
  Tiers,
  VMID_MAX,
  VMID_MIN,
} from "../domain/ids.js"
import type { ToolNames } from "./names.js"

export const ConfirmModes = ["auto", "argument", "elicit"] as const
export type ConfirmMode = (typeof ConfirmModes)[number]

export interface VmidRange {
  readonly from: number
  readonly to: number
}

export interface PolicySettings {
  readonly tier: Tier
  readonly moduleMode: Module
  /** Only these categories are exposed; undefined = all. */
  readonly categories?: ReadonlySet<Category>
  /** Canonical tool names; narrows what the other rules expose, never widens it. */
  readonly whitelist?: ReadonlySet<string>
  readonly blacklist: ReadonlySet<string>
  /** When set, only these canonical tools may run at all. */
  readonly allowed?: ReadonlySet<string>
  readonly denied: ReadonlySet<string>
  readonly protectedVmids: ReadonlyArray<VmidRange>
  /** Lower-case tags. */
  readonly protectedTags: ReadonlySet<string>
  readonly confirmMode: ConfirmMode
  /** SSH is configured (`sshConfigured`): without it the remote tools are hidden. */
  readonly sshConfigured?: boolean
}

export const DEFAULT_POLICY: PolicySettings = {
  tier: "read-only",
  moduleMode: "core",
  blacklist: new Set(),
  denied: new Set(),
  protectedVmids: [],
  protectedTags: new Set(),
  confirmMode: "auto",
}

const nameList = (names: ToolNames, variable: string) =>
  optionalString(variable).pipe(
    Config.mapOrFail((raw) => {
      if (raw === undefined) return Either.right(undefined)
      return Either.mapLeft(names.resolveList(variable, raw), (message) =>
        invalid(variable, message.replace(`${variable}: `, "")),
      )
    }),
  )

const categoriesConfig = optionalString("PVE_CATEGORIES").pipe(
  Config.mapOrFail((raw) => {
    if (raw === undefined) return Either.right(undefined)
    const chosen = new Set<Category>()
    for (const name of raw.split(/[,\s]+/).filter((c) => c !== "")) {
      const category = Categories.find((c) => c === name.toLowerCase())
      if (category === undefined) {
        return Either.left(
          invalid("PVE_CATEGORIES", `unknown category '${name}' (known: ${Categories.join(", ")})`),
        )
      }
      chosen.add(category)
    }
    return Either.right(chosen as ReadonlySet<Category>)
  }),
)

/** `100-199,250` */
export const parseVmidRanges = (
  variable: string,
  raw: string,
): Either.Either<ReadonlyArray<VmidRange>, string> => {
  const ranges: Array<VmidRange> = []
  for (const part of raw.split(/[,\s]+/).filter((p) => p !== "")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part)
    const from = Number(match?.[1])
    const to = match?.[2] === undefined ? from : Number(match[2])
    if (!match || from < VMID_MIN || to > VMID_MAX || from > to) {
      return Either.left(
        `${variable}: '${part}' is not a vmid or range like 100-199 (vmids are ${VMID_MIN}..${VMID_MAX})`,
      )
    }
    ranges.push({ from, to })
  }
  return Either.right(ranges)
}

const protectedVmidsConfig = optionalString("PVE_PROTECTED_VMIDS").pipe(
  Config.mapOrFail((raw) =>
    raw === undefined
      ? Either.right([] as ReadonlyArray<VmidRange>)
      : Either.mapLeft(parseVmidRanges("PVE_PROTECTED_VMIDS", raw), (m) =>
          invalid("PVE_PROTECTED_VMIDS", m.replace("PVE_PROTECTED_VMIDS: ", "")),
        ),
  ),
)

const protectedTagsConfig = optionalString("PVE_PROTECTED_TAGS").pipe(
  Config.map(
    (raw) =>
      new Set(
        (raw ?? "")
          .split(/[,;\s]+/)
          .filter((t) => t !== "")
          .map((t) => t.toLowerCase()),
      ) as ReadonlySet<string>,
  ),
)

/** The policy settings; tool names in the lists are resolved against `names` (see `makeToolNames`). */
export const policyConfig = (names: ToolNames): Config.Config<PolicySettings> =>
  Config.all({
    tier: oneOf("PVE_ACCESS_TIER", Tiers, "read-only"),
    moduleMode: oneOf("PVE_MODULE_MODE", Modules, "core"),
    categories: categoriesConfig,
    whitelist: nameList(names, "PVE_TOOL_WHITELIST"),
    blacklist: nameList(names, "PVE_TOOL_BLACKLIST"),
    allowed: nameList(names, "ALLOWED_OPERATIONS"),
    denied: nameList(names, "DENIED_OPERATIONS"),
    protectedVmids: protectedVmidsConfig,
    protectedTags: protectedTagsConfig,
    confirmMode: oneOf("PVE_CONFIRM_MODE", ConfirmModes, "auto"),
    ssh: sshConfig,
  }).pipe(
    Config.map(
      ({
        allowed,
        blacklist,
        categories,
        confirmMode,
        denied,
        moduleMode,
        protectedTags,
        protectedVmids,
        ssh,
        tier,
        whitelist,
      }) => ({
        tier,
        moduleMode,
        ...(categories === undefined ? {} : { categories }),
        ...(whitelist === undefined ? {} : { whitelist }),
        blacklist: blacklist ?? new Set(),
        ...(allowed === undefined ? {} : { allowed }),
        denied: denied ?? new Set(),
        protectedVmids,
        protectedTags,
        confirmMode,
        sshConfigured: sshConfigured(ssh),
      }),
    ),
  )

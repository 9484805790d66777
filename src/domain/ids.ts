/**
 * Schemas for every value that can end up in a Proxmox URL path or identify an object.
 *
 * Each schema matches the PVE format of the value (pve-common `JSONSchema.pm` formats), so a
 * value that passes can never contain `/`, be empty, or be the dot segments `.` / `..`.
 * Integers also accept numeric strings because Sutian clients send `"vmid": "501"`.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/** `pve-node`: a hostname label. */
export const NODE_NAME_PATTERN = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/

/** `pve-storage-id`. */
export const STORAGE_ID_PATTERN = /^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]$/

/** Decode regex of `PVE::Tools::upid_decode` (WIRE.md 2.5); the trailing colon is part of a UPID. */
export const UPID_PATTERN =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/

export const VMID_MIN = 100
export const VMID_MAX = 999_999_999

/**
 * An integer that also accepts its decimal string form. The JSON Schema advertises an integer;
 * the string form is accepted for clients that stringify numbers.
 */
export const IntegerInput = (
  options: { readonly minimum?: number; readonly maximum?: number; readonly description?: string } = {},
) =>
  Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.Number, {
    strict: true,
    decode: (input, _, ast) => {
      const value = typeof input === "string" && /^-?\d+$/.test(input.trim()) ? Number(input.trim()) : input
      if (typeof value !== "number" || !Number.isSafeInteger(value)) {
        return ParseResult.fail(
          new ParseResult.Type(ast, input, `expected an integer, got ${JSON.stringify(input)}`),
        )
      }
      if (options.minimum !== undefined && value < options.minimum) {
        return ParseResult.fail(new ParseResult.Type(ast, input, `must be >= ${options.minimum}`))
      }
      if (options.maximum !== undefined && value > options.maximum) {
        return ParseResult.fail(new ParseResult.Type(ast, input, `must be <= ${options.maximum}`))
      }
      return ParseResult.succeed(value)
    },
    encode: (value) => ParseResult.succeed(value),
  }).annotations({
    ...(options.description === undefined ? {} : { description: options.description }),
    jsonSchema: {
      type: "integer",
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.minimum === undefined ? {} : { minimum: options.minimum }),
      ...(options.maximum === undefined ? {} : { maximum: options.maximum }),
    },
  })

export const VmId = IntegerInput({
  minimum: VMID_MIN,
  maximum: VMID_MAX,
  description: "Guest id (VMID)",
})

const patterned = (pattern: RegExp, maxLength: number, what: string) =>
  Schema.String.pipe(
    Schema.maxLength(maxLength, { message: () => `${what} is longer than ${maxLength} characters` }),
    Schema.pattern(pattern, { message: () => `not a valid ${what}` }),
  )

export const NodeName = patterned(NODE_NAME_PATTERN, 63, "Proxmox node name").annotations({
  description: "Node name",
})

export const StorageId = patterned(STORAGE_ID_PATTERN, 100, "storage id").annotations({
  description: "Storage id (e.g. local, local-lvm)",
})

export const Upid = patterned(UPID_PATTERN, 512, "task UPID").annotations({
  description: "Task id (UPID:node:...)",
})

/** The node that runs a task is part of its UPID. */
export const upidNode = (upid: string): string | undefined => UPID_PATTERN.exec(upid)?.[1]

/** The two kinds of guest, as PVE names them in paths and `/cluster/resources`. */
export type GuestType = "qemu" | "lxc"

export const Tiers = ["read-only", "read-execute", "full"] as const
export type Tier = (typeof Tiers)[number]
export const tierRank = (tier: Tier): number => Tiers.indexOf(tier)

export const Modules = ["core", "advanced"] as const
export type Module = (typeof Modules)[number]

export const Categories = [
  "nodes",
  "cluster",
  "qemu",
  "lxc",
  "storage",
  "backup",
  "tasks",
  "network",
  "firewall",
  "pools",
  "access",
  "templates",
  "monitoring",
  "remote",
] as const
export type Category = (typeof Categories)[number]

/** `pve-configid` as used for snapshot names: a letter, then letters, digits, `_` or `-`. */
export const SNAPSHOT_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9_-]{0,39}$/
/** `pve-poolid` (one level; nested pools are addressed by query, not path). */
export const POOL_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/
/** `pve-userid`: `name@realm`. */
export const USER_ID_PATTERN = /^[^\s:/@]{1,64}@[A-Za-z][A-Za-z0-9._-]{1,31}$/
/** `pve-tokenid` (the token name part). */
export const TOKEN_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]{1,63}$/
/** `pve-iface`: bridges, bonds, NICs and VLAN interfaces (`vmbr0`, `bond0`, `eno1.100`). */
export const IFACE_PATTERN = /^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?$/
/** Backup job ids (`backup-1a2b3c4d-...`). */
export const JOB_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/

export const SnapshotName = patterned(SNAPSHOT_NAME_PATTERN, 40, "snapshot name").annotations({
  description: "Snapshot name: a letter, then letters, digits, '_' or '-' (at most 40)",
})
export const PoolId = patterned(POOL_ID_PATTERN, 64, "pool id").annotations({
  description: "Resource pool id",
})
export const UserId = patterned(USER_ID_PATTERN, 128, "user id").annotations({
  description: "Proxmox user id as name@realm (e.g. alice@pve)",
})
export const TokenName = patterned(TOKEN_NAME_PATTERN, 64, "API token name").annotations({
  description: "API token name (the part after '!')",
})
export const IfaceName = patterned(IFACE_PATTERN, 32, "network interface name").annotations({
  description: "Interface name (vmbr0, bond0, eno1.100)",
})
export const JobId = patterned(JOB_ID_PATTERN, 64, "job id").annotations({ description: "Backup job id" })
export const FirewallPos = IntegerInput({
  minimum: 0,
  maximum: 100_000,
  description: "Rule position (0 = first)",
})

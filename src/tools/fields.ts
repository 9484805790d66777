/**
 * Input fields and helpers shared by the guest administration, snapshot, backup, template and
 * storage tools: PVE formats as schemas, and the one way these tools start a task on a guest.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ToolInputRejected } from "../domain/errors.js"
import {
  type GuestType,
  IntegerInput,
  NodeName,
  STORAGE_ID_PATTERN,
  VMID_MAX,
  VMID_MIN,
} from "../domain/ids.js"
import { NodeRegistry } from "../proxmox/registry.js"
import type { Endpoint, Params } from "./endpoint.js"
import * as Tool from "./tool.js"

export const noun = (type: GuestType) => (type === "qemu" ? "VM" : "container")

/** A text field matching `pattern`, with a message naming what it should be. */
export const text = (pattern: RegExp, what: string, description: string, maxLength = 255) =>
  Schema.String.pipe(
    Schema.maxLength(maxLength, { message: () => `${what} is longer than ${maxLength} characters` }),
    Schema.pattern(pattern, { message: () => `not a valid ${what}` }),
  ).annotations({ description })

export const optionalBoolean = (description: string) =>
  Schema.optional(Schema.Boolean.annotations({ description }))

export const optionalInteger = (description: string, minimum: number, maximum: number) =>
  Schema.optional(IntegerInput({ minimum, maximum, description }))

/** Free text PVE stores as given (descriptions, comments): no control characters but newlines. */
export const freeText = (description: string, maxLength = 8192) =>
  Schema.optional(
    Schema.String.pipe(
      Schema.maxLength(maxLength),
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
      Schema.pattern(/^[^\u0000-\u0009\u000b-\u001f\u007f]*$/, {
        message: () => "contains control characters",
      }),
    ).annotations({ description }),
  )

export const newIdField = IntegerInput({
  minimum: VMID_MIN,
  maximum: VMID_MAX,
  description: "Id of the new guest (pve_get_next_vmid finds a free one)",
})

export const targetNodeField = NodeName.annotations({ description: "Target node name" })

export const storageField = (description: string) => text(STORAGE_ID_PATTERN, "storage id", description, 100)

/** `dns-name`: what PVE accepts as a VM name or container hostname. */
export const dnsName = (description: string) =>
  text(
    /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/,
    "DNS name",
    description,
    253,
  )

/** `pve-tag-list`: tags separated by `;` (or `,` / space). */
export const tagsField = Schema.optional(
  text(/^[a-zA-Z0-9_+.-]+([;, ][a-zA-Z0-9_+.-]+)*$/, "tag list", "Tags separated by ';' (e.g. prod;web)"),
)

/** `pve-vmid-list`: `100,101,200`. */
export const vmidListField = (description: string) =>
  text(/^[1-9][0-9]{2,8}([,; ]+[1-9][0-9]{2,8})*$/, "list of guest ids", description, 4096)

export const parseVmidList = (list: string | undefined): ReadonlyArray<number> =>
  list === undefined
    ? []
    : list
        .split(/[,; ]+/)
        .filter((x) => x !== "")
        .map(Number)

/**
 * A storage volume id (`local:iso/debian.iso`, `backup-nfs:backup/vzdump-qemu-100-....vma.zst`):
 * storage, then a path of safe characters; never a `.` or `..` segment.
 */
export const VOLUME_ID_PATTERN =
  /^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]:(?!.*(^|\/)\.\.?(\/|$))[a-zA-Z0-9_+.-]+(\/[a-zA-Z0-9_+.-]+)*$/
export const volumeIdField = (description: string) => text(VOLUME_ID_PATTERN, "volume id", description, 512)

/** NANDI's guard on update tools: at least one field to change. */
export const requireSomething = (params: Params, what: string) =>
  Object.values(params).some((value) => value !== undefined)
    ? Effect.void
    : Effect.fail(new ToolInputRejected({ message: `Give at least one ${what} to change.` }))

/** Sends a task-starting request on a guest's node and answers `{upid, node}`. */
export const startOnGuest = <Path extends string>(
  type: GuestType,
  input: { readonly node?: string | undefined; readonly vmid: number },
  endpoint: Endpoint<Path>,
  params: Params,
  extraPath: Readonly<Record<string, string | number>> = {},
) =>
  Effect.flatMap(NodeRegistry, (registry) =>
    registry.onGuestNode(input, type, (node) =>
      Effect.gen(function* () {
        const answer = yield* endpoint.send({ node, vmid: input.vmid, ...extraPath }, params)
        const upid = yield* Tool.startedUpid(answer, endpoint, node)
        return { data: { upid, node }, node, upid }
      }),
    ),
  )

/** Starts a task on a node (not a guest) and answers `{upid, node}`. */
export const startOnNode = <Path extends string>(
  node: string,
  endpoint: Endpoint<Path>,
  params: Params,
  path: Readonly<Record<string, string | number>> = {},
) =>
  Effect.flatMap(NodeRegistry, (registry) =>
    Effect.gen(function* () {
      const known = yield* registry.requireNode(node)
      const answer = yield* endpoint.send({ node: known, ...path }, params)
      const upid = yield* Tool.startedUpid(answer, endpoint, known)
      return { data: { upid, node: known }, node: known, upid }
    }),
  )

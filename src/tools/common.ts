/** Input fields and result helpers shared by the tool declarations. */
import * as Schema from "effect/Schema"
import { IntegerInput, NodeName, Upid, VmId } from "../domain/ids.js"

export const nodeField = NodeName
export const optionalGuestNode = Schema.optional(
  NodeName.annotations({
    description: "Optional; found from vmid",
  }),
)
export const vmidField = VmId
export const upidField = Upid
export const optionalUpidNode = Schema.optional(
  NodeName.annotations({ description: "Optional; read from the UPID" }),
)

export const limitField = (description: string, maximum = 10_000) =>
  Schema.optional(IntegerInput({ minimum: 1, maximum, description }))

export const offsetField = Schema.optional(
  IntegerInput({ minimum: 0, maximum: 1_000_000, description: "Entries to skip" }),
)

/** `fields`: the columns to keep in each entry of a list (a projection), to save context. */
export const fieldsField = Schema.optional(
  Schema.String.pipe(
    Schema.pattern(/^[A-Za-z0-9_.:-]{1,64}(,[A-Za-z0-9_.:-]{1,64}){0,63}$/),
    Schema.annotations({ description: "Fields to keep, e.g. vmid,name" }),
  ),
)

/** `limit`/`offset`/`fields` for lists PVE returns whole: applied here, never sent to PVE. */
export const pagingFields = {
  limit: limitField("Max entries"),
  offset: offsetField,
  fields: fieldsField,
}

const project = (item: unknown, fields: ReadonlyArray<string>): unknown => {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return item
  const kept: Record<string, unknown> = {}
  for (const field of fields)
    if (Object.hasOwn(item, field)) kept[field] = (item as Record<string, unknown>)[field]
  return kept
}

/** Applies `offset`/`limit`, then `fields`, to a list PVE returns whole. */
export const page = <A>(
  items: ReadonlyArray<A>,
  input: {
    readonly offset?: number | undefined
    readonly limit?: number | undefined
    readonly fields?: string | undefined
  },
): ReadonlyArray<A> => {
  const start = input.offset ?? 0
  const slice = items.slice(start, input.limit === undefined ? undefined : start + input.limit)
  if (input.fields === undefined) return slice
  const fields = input.fields.split(",")
  // A projection keeps the entries' shape as far as a caller can tell: only fewer keys.
  return slice.map((item) => project(item, fields)) as Array<A>
}

export type Row = Readonly<Record<string, unknown>>

export const asArray = (data: unknown): ReadonlyArray<Row> =>
  Array.isArray(data) ? data.filter((item): item is Row => typeof item === "object" && item !== null) : []

/** Sorts rows by one field (numbers numerically, anything else as text). */
export const sortBy =
  (field: string) =>
  (rows: ReadonlyArray<Row>): ReadonlyArray<Row> =>
    [...rows].sort((a, b) => {
      const x = a[field]
      const y = b[field]
      return typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))
    })

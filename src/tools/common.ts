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

/** `limit`/`offset` for lists PVE returns whole: applied here, never sent to PVE. */
export const pagingFields = {
  limit: limitField("Max entries"),
  offset: offsetField,
}

/** Applies `offset`/`limit` to a list PVE returns whole. */
export const page = <A>(
  items: ReadonlyArray<A>,
  input: { readonly offset?: number | undefined; readonly limit?: number | undefined },
) => items.slice(input.offset ?? 0, input.limit === undefined ? undefined : (input.offset ?? 0) + input.limit)

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

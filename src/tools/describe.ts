/**
 * Public descriptions of catalog entries, derived from the declarations: the MCP input schema,
 * annotations and `_meta`, and the `tools --json` row.
 */
import * as JSONSchema from "effect/JSONSchema"
import * as Schema from "effect/Schema"
import type { NamedTool, ToolInfo } from "../domain/tool.js"
import { exposedFields } from "./tool.js"

type JsonObject = { readonly [key: string]: unknown }

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null

const schemas = new WeakMap<object, JsonObject>()
const leanSchemas = new WeakMap<object, JsonObject>()

/** Format keywords the server checks itself; listing them costs every client tokens. */
const SERVER_CHECKED = new Set(["pattern", "maxLength", "minLength", "minimum", "maximum"])

/**
 * The input schema as listed over MCP: the full schema without formats and bounds (`pattern`,
 * length limits, `minimum`/`maximum`). The server checks them on every call and INVALID_INPUT
 * names the rule that failed; in the listing they would cost ~180 bytes per tool.
 */
export const listedInputSchema = (tool: ToolInfo & { readonly input: Schema.Struct.Fields }): JsonObject => {
  const cached = leanSchemas.get(tool)
  if (cached !== undefined) return cached
  const full = inputJsonSchema(tool)
  const properties = isObject(full.properties) ? full.properties : {}
  // `additionalProperties: false` is dropped too: the server rejects unknown parameters by name.
  const { additionalProperties: _strict, ...open } = full
  const lean: JsonObject = {
    ...open,
    properties: Object.fromEntries(
      Object.entries(properties).map(([key, property]) => [
        key,
        isObject(property)
          ? Object.fromEntries(Object.entries(property).filter(([k]) => !SERVER_CHECKED.has(k)))
          : property,
      ]),
    ),
  }
  leanSchemas.set(tool, lean)
  return lean
}

/**
 * The full input schema: root `type: "object"`, flat properties, no `$schema`, no root `anyOf`
 * (clients such as Claude Desktop drop tools whose root is not a plain object), with every
 * format. Built once per tool.
 */
export const inputJsonSchema = (tool: ToolInfo & { readonly input: Schema.Struct.Fields }): JsonObject => {
  const cached = schemas.get(tool)
  if (cached !== undefined) return cached
  const generated = JSONSchema.make(Schema.Struct(exposedFields(tool)))
  const properties: JsonObject =
    "properties" in generated && isObject(generated.properties) ? generated.properties : {}
  const required = "required" in generated && Array.isArray(generated.required) ? generated.required : []
  // Effect names refinements in `title` ("maxLength(63)"): noise for a model, so drop it.
  const cleaned = Object.fromEntries(
    Object.entries(properties).map(([key, property]) => {
      if (!isObject(property)) return [key, property]
      const { title: _title, ...rest } = property
      return [key, rest]
    }),
  )
  const schema: JsonObject = {
    type: "object",
    properties: cleaned,
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false,
  }
  schemas.set(tool, schema)
  return schema
}

export const annotationsOf = (entry: NamedTool) => ({
  title: entry.tool.title,
  readOnlyHint: entry.tool.tier === "read-only",
  destructiveHint: entry.tool.destructive,
  idempotentHint: entry.tool.idempotent,
  openWorldHint: false,
})

/** An alias or a legacy tool: callable, listed only with PVE_LIST_ALIASES=true. */
export const isDeprecated = (entry: NamedTool): boolean =>
  entry.aliasFor !== undefined || entry.tool.deprecated === true

export const metaOf = (entry: NamedTool): Record<string, unknown> => ({
  category: entry.tool.category,
  accessTier: entry.tool.tier,
  module: entry.tool.module,
  destructive: entry.tool.destructive,
  confirmRequired: entry.tool.confirm,
  ...(entry.aliasFor === undefined ? {} : { aliasFor: entry.aliasFor }),
  ...(isDeprecated(entry) ? { deprecated: true } : {}),
  // NANDI marks tools that need a human's go-ahead this way.
  ...(entry.tool.confirm ? { "anthropic/requiresUserInteraction": true } : {}),
})

export const descriptionOf = (entry: NamedTool): string =>
  entry.aliasFor === undefined
    ? entry.tool.description
    : `Alias of ${entry.aliasFor}. ${entry.tool.description}`

/** One row of `proxmox-mcp tools --json`. */
export const catalogRow = (entry: NamedTool) => ({
  name: entry.name,
  title: entry.tool.title,
  category: entry.tool.category,
  tier: entry.tool.tier,
  module: entry.tool.module,
  destructive: entry.tool.destructive,
  confirmRequired: entry.tool.confirm,
  idempotent: entry.tool.idempotent,
  aliasFor: entry.aliasFor ?? null,
  deprecated: isDeprecated(entry),
  endpoints: entry.tool.endpoints.map((e) => ({ method: e.method, path: e.path })),
  ssh: entry.tool.ssh,
})

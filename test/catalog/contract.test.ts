/**
 * The catalog contract: every tool, walked from the one declaration list. A change to the
 * public surface (names, schemas, annotations) shows up as a diff of the committed snapshots.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigProvider, Effect, type Either } from "effect"
import { describe, expect, it } from "vitest"
import type { InvalidInput } from "../../src/domain/errors.js"
import { Modules, Tiers } from "../../src/domain/ids.js"
import { makeToolNames } from "../../src/policy/names.js"
import { isStateChanging, staticallyExposed, staticRule } from "../../src/policy/policy.js"
import { DEFAULT_POLICY, policyConfig as policySettingsConfig } from "../../src/policy/settings.js"
import { endpointFacts } from "../../src/simulator/schema.js"
import { builtin, builtinTools } from "../../src/tools/catalog.js"
import { annotationsOf, inputJsonSchema, listedInputSchema, metaOf } from "../../src/tools/describe.js"

const entries = builtin.entries
const tools = builtinTools
const policyConfig = policySettingsConfig(makeToolNames(entries))

const SHARED_SCHEMA = path.resolve(
  import.meta.dirname,
  "../../../shared/reference/pve-api/pve-api-endpoints.json",
)

describe("catalog contract", () => {
  it("names are unique", () => {
    const names = entries.map((e) => e.name)
    expect(new Set(names).size).toBe(names.length)
  })

  for (const entry of entries) {
    describe(entry.name, () => {
      const tool = entry.tool
      const schema = inputJsonSchema(tool) as {
        type: string
        properties: Record<string, Record<string, unknown>>
        [key: string]: unknown
      }

      it("refuses a parameter it does not declare, before anything is sent (also with no input)", () => {
        // `path` where the tool has no such field (a storage definition has one: then another name).
        const unknown = "path" in schema.properties ? "pathname" : "path"
        // Input schemas need no services; the catalog's existential type cannot say so.
        const decoded = Effect.either(tool.decode({ [unknown]: "/cluster" })) as Effect.Effect<
          Either.Either<unknown, InvalidInput>
        >
        const result = Effect.runSync(decoded)
        expect(result._tag).toBe("Left")
        if (result._tag === "Left") {
          expect(result.left.message).toContain(`${unknown}: is not a parameter of this tool`)
          if (!("path" in schema.properties)) expect(result.left.field).toBe(unknown)
        }
      })

      it("has a description and a flat object schema with described parameters", () => {
        expect(tool.description.length).toBeGreaterThan(20)
        expect(schema.type).toBe("object")
        expect(schema).not.toHaveProperty("$schema")
        expect(schema).not.toHaveProperty("$defs")
        expect(schema).not.toHaveProperty("anyOf")
        for (const [name, property] of Object.entries(schema.properties)) {
          expect(property.description, `${name} has a description`).toEqual(expect.any(String))
          expect(["string", "integer", "number", "boolean"], `${name} is flat`).toContain(property.type)
          expect(property).not.toHaveProperty("$ref")
        }
      })

      it("has annotations and _meta consistent with its declaration", () => {
        const annotations = annotationsOf(entry)
        expect(annotations.readOnlyHint).toBe(tool.tier === "read-only")
        expect(annotations.destructiveHint).toBe(tool.destructive)
        expect(annotations.openWorldHint).toBe(false)
        expect(annotations.title).toBeTruthy()
        const meta = metaOf(entry)
        expect(meta).toMatchObject({
          category: tool.category,
          accessTier: tool.tier,
          module: tool.module,
          destructive: tool.destructive,
          confirmRequired: tool.confirm,
        })
        if (tool.confirm) {
          expect(tool.destructive || isStateChanging(tool)).toBe(true)
          expect(meta["anthropic/requiresUserInteraction"]).toBe(true)
          expect(schema.properties).toHaveProperty("confirm")
        }
        if (entry.aliasFor !== undefined)
          expect(meta).toMatchObject({ aliasFor: entry.aliasFor, deprecated: true })
        if (tool.destructive) expect(isStateChanging(tool)).toBe(true)
        if (tool.startsTask) expect(schema.properties).toHaveProperty("wait")
      })

      it("checks every path parameter against its PVE format before sending", () => {
        for (const endpoint of tool.endpoints) {
          for (const [, name] of endpoint.path.matchAll(/\{([^}]+)\}/g)) {
            const property = schema.properties[name!]
            // `node` of a task comes from the (validated) UPID; every other placeholder is an input.
            if (property === undefined && name === "node" && "upid" in schema.properties) continue
            expect(property, `${endpoint.path}: {${name}} is an input`).toBeDefined()
            expect(
              property!.type === "integer" || typeof property!.pattern === "string",
              `${endpoint.path}: {${name}} has a format (integer range or pattern)`,
            ).toBe(true)
          }
        }
      })

      it("calls only endpoints that exist in the PVE API", () => {
        expect(tool.endpoints.length + (tool.ssh === null ? 0 : 1)).toBeGreaterThan(0)
        for (const endpoint of tool.endpoints) {
          expect(
            endpointFacts(endpoint.method, endpoint.path),
            `${endpoint.method} ${endpoint.path}`,
          ).toBeDefined()
        }
      })
    })
  }

  it.skipIf(!fs.existsSync(SHARED_SCHEMA))("endpoints match the official endpoint list in ../shared", () => {
    const official = JSON.parse(fs.readFileSync(SHARED_SCHEMA, "utf8")) as Array<{
      method: string
      path: string
    }>
    const known = new Set(official.map((e) => `${e.method} ${e.path}`))
    for (const tool of tools) {
      for (const endpoint of tool.endpoints)
        expect(known, tool.name).toContain(`${endpoint.method} ${endpoint.path}`)
    }
  })

  it("aliases share their canonical tool's policy, whichever name a rule uses", () => {
    const aliased = entries.filter((e) => e.aliasFor !== undefined)
    // Every alias named in a list, then the canonical names, then Sutian names for some of them.
    const byAlias = aliased.map((e) => e.name).join(",")
    const byCanonical = aliased.map((e) => e.aliasFor!).join(",")
    const settings = [
      {},
      { PVE_TOOL_BLACKLIST: byAlias },
      { PVE_TOOL_BLACKLIST: byCanonical },
      { PVE_TOOL_WHITELIST: byAlias },
      { PVE_TOOL_WHITELIST: byCanonical },
      { DENIED_OPERATIONS: "vm.start,vm.stop,node.status" },
      { ALLOWED_OPERATIONS: "vm.status,node.list" },
    ]
    for (const tier of Tiers) {
      for (const extra of settings) {
        const provider = ConfigProvider.fromMap(new Map(Object.entries({ PVE_ACCESS_TIER: tier, ...extra })))
        const policy = Effect.runSync(Effect.withConfigProvider(policyConfig, provider))
        const exposed = new Set(staticallyExposed(entries, policy).map((e) => e.name))
        for (const entry of aliased) {
          expect(exposed.has(entry.name), `${entry.name} with ${JSON.stringify(extra)}`).toBe(
            exposed.has(entry.aliasFor!),
          )
        }
      }
    }
  })

  it("the default policy exposes no state-changing tool", () => {
    expect(staticallyExposed(entries, DEFAULT_POLICY).filter((e) => isStateChanging(e.tool))).toEqual([])
    expect(
      tools.filter((t) => staticRule(t, DEFAULT_POLICY) === undefined).every((t) => t.tier === "read-only"),
    ).toBe(true)
  })
})

describe("exposed surface snapshots", () => {
  for (const tier of Tiers) {
    for (const moduleMode of Modules) {
      it(`${tier} / ${moduleMode}`, async () => {
        const surface = staticallyExposed(entries, { ...DEFAULT_POLICY, tier, moduleMode }).map((entry) => ({
          name: entry.name,
          annotations: annotationsOf(entry),
          _meta: metaOf(entry),
          inputSchema: listedInputSchema(entry.tool),
        }))
        await expect(`${JSON.stringify(surface, null, 2)}\n`).toMatchFileSnapshot(
          `./__snapshots__/surface.${tier}.${moduleMode}.json`,
        )
      })
    }
  }
})

/**
 * The folders of `src/` depend on each other one way (README: domain <- config <- audit <-
 * proxmox <- policy <- tools <- mcp <- cli), so a concern never needs the code that uses it.
 * Type-only imports count too: a cycle of types is still a cycle of concerns.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const SRC = path.resolve(import.meta.dirname, "../../src")

/** `src/tools/tool.ts` -> `tools`; files directly in src/ (index.ts, layers.ts) -> `(root)`. */
const folderOf = (file: string) => {
  const parts = path.relative(SRC, file).split(path.sep)
  return parts.length > 1 ? parts[0]! : "(root)"
}

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return entry.name.endsWith(".ts") ? [full] : []
  })

const folderGraph = () => {
  const edges = new Map<string, Set<string>>()
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file)
    const text = fs.readFileSync(file, "utf8")
    for (const match of text.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+)"/g)) {
      const to = folderOf(path.resolve(path.dirname(file), match[1]!))
      if (to === from) continue
      if (!edges.has(from)) edges.set(from, new Set())
      edges.get(from)!.add(to)
    }
  }
  return edges
}

/** One cycle as `a -> b -> a`, or undefined. */
const findCycle = (edges: Map<string, Set<string>>): string | undefined => {
  const state = new Map<string, "visiting" | "done">()
  const stack: Array<string> = []
  const visit = (node: string): string | undefined => {
    if (state.get(node) === "done") return undefined
    if (state.get(node) === "visiting") return [...stack.slice(stack.indexOf(node)), node].join(" -> ")
    state.set(node, "visiting")
    stack.push(node)
    for (const next of edges.get(node) ?? []) {
      const cycle = visit(next)
      if (cycle !== undefined) return cycle
    }
    stack.pop()
    state.set(node, "done")
    return undefined
  }
  for (const node of edges.keys()) {
    const cycle = visit(node)
    if (cycle !== undefined) return cycle
  }
  return undefined
}

describe("src/ folder dependencies", () => {
  it("have no cycle", () => {
    expect(findCycle(folderGraph())).toBeUndefined()
  })

  it("the check finds a cycle when there is one", () => {
    const edges = new Map([
      ["policy", new Set(["tools"])],
      ["tools", new Set(["policy"])],
    ])
    expect(findCycle(edges)).toBe("policy -> tools -> policy")
  })

  it("keep the lower layers free of the upper ones", () => {
    const edges = folderGraph()
    for (const low of ["domain", "config", "audit", "proxmox", "policy"]) {
      expect([...(edges.get(low) ?? [])], `${low} imports`).not.toContain("tools")
      expect([...(edges.get(low) ?? [])], `${low} imports`).not.toContain("mcp")
    }
    expect([...(edges.get("domain") ?? [])]).toEqual([])
  })
})

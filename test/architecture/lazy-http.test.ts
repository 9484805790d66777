/**
 * The stdio server does not load the HTTP server: following only static imports from the
 * binary's entry reaches no module of src/http, src/auth or the HTTP transport, and not `jose`.
 * (The HTTP modules are loaded with `import()` for `--transport http`.)
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const SRC = path.resolve(import.meta.dirname, "../../src")

const staticImports = (file: string): ReadonlyArray<string> => {
  const text = fs.readFileSync(file, "utf8")
  return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)]
    .filter((match) => !/^import\s+type\s/.test(match[0]) && !/^export\s+type\s/.test(match[0]))
    .map((match) => match[1]!)
}

const reachable = (entry: string) => {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const specifier of staticImports(file)) {
      if (!specifier.startsWith(".")) {
        packages.add(specifier)
        continue
      }
      visit(path.resolve(path.dirname(file), specifier).replace(/\.js$/, ".ts"))
    }
  }
  visit(entry)
  return { files: [...seen].map((file) => path.relative(SRC, file)), packages: [...packages] }
}

describe("the stdio start-up path", () => {
  it("reaches no HTTP server module by static imports", () => {
    const { files, packages } = reachable(path.join(SRC, "bin/proxmox-mcp.ts"))
    expect(files).toContain("cli/serve.ts")
    expect(files).toContain("mcp/stdio.ts")
    const http = files.filter(
      (file) =>
        file.startsWith("http/") ||
        file.startsWith("auth/") ||
        ["mcp/http.ts", "config/http.ts", "cli/http.ts"].includes(file),
    )
    expect(http).toEqual([])
    expect(packages).not.toContain("jose")
    expect(
      packages.filter((p) => p.includes("NodeHttpServer") || p.includes("webStandardStreamableHttp")),
    ).toEqual([])
  })
})

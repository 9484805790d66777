/**
 * The version in the package's `package.json`, found by walking up from this module: it runs
 * from `dist/cli/` (tsc output), `dist/bin/` or `dist/bin/chunks/` (the bundle), or `src/cli/`
 * (tests), so no fixed relative path fits all.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const findVersion = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let depth = 0; depth < 6; depth++) {
    const candidate = path.join(dir, "package.json")
    if (fs.existsSync(candidate)) {
      const manifest = JSON.parse(fs.readFileSync(candidate, "utf8")) as { name?: unknown; version?: unknown }
      if (manifest.name === "proxmox-mcp" && typeof manifest.version === "string") return manifest.version
    }
    dir = path.dirname(dir)
  }
  throw new Error("proxmox-mcp: cannot find the package's package.json")
}

export const VERSION: string = findVersion()

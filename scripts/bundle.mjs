#!/usr/bin/env node
/**
 * Bundles the binary (`dist/bin/proxmox-mcp.js`, after `tsc` emitted `dist/`): one file for what
 * `run` loads, instead of ~750 modules resolved and read one by one at every start (an MCP client
 * starts a server per session). What only some commands use (the simulator for `demo` and
 * `simulator`) stays behind its dynamic `import()`, in a chunk of its own under `dist/bin/chunks/`.
 *
 * Only white space is minified (V8 holds every server's source text in its heap; the white space
 * was 0.6 MB of it, 3-4 MB of idle RSS). Names stay as written, so a stack trace names its
 * functions; with `node --enable-source-maps` (or `NODE_OPTIONS=--enable-source-maps`) its
 * positions point into `src/*.ts` through the source map. `BUNDLE_PLAIN=1` leaves the white space
 * and marks each module with its source path (for reading a CPU profile by source file).
 * `dist/index.js` (the embedding API) is not bundled: embedders resolve its dependencies.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const outdir = path.join(root, "dist/bin")
fs.rmSync(path.join(outdir, "chunks"), { recursive: true, force: true })

await esbuild.build({
  absWorkingDir: root,
  entryPoints: { "proxmox-mcp": "src/bin/proxmox-mcp.ts" },
  outdir,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  // White space only: identifiers and syntax stay as written (see above).
  minifyWhitespace: process.env.BUNDLE_PLAIN !== "1",
  // Some dependencies are CommonJS and call require() for Node built-ins.
  banner: {
    js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
  },
  // ssh2 carries optional native addons (.node files) a bundle cannot hold; it is loaded from
  // node_modules on the first SSH connection only.
  external: ["ssh2"],
  logLevel: "warning",
})

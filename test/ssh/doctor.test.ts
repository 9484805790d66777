/** `proxmox-mcp doctor` with SSH configured: against a real sshd, the host key and the command path. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DoctorReport } from "../../src/cli/doctor.js"
import { startSimulator } from "../../src/simulator/index.js"
import type { RunningSimulator } from "../../src/simulator/types.js"
import { runCli } from "../support/cli.js"
import { makeUserKey, type Sshd, sshdAvailable, startSshd } from "../support/sshd.js"

describe.skipIf(!sshdAvailable)("doctor checks SSH", () => {
  let sim: RunningSimulator
  let sshd: Sshd
  let dir: string
  let key: { path: string; publicKey: string }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "proxmox-mcp-ssh-doctor-"))
    key = makeUserKey(dir)
    ;[sim, sshd] = await Promise.all([
      startSimulator({ nodes: ["pve1"] }),
      startSshd({ node: "pve1", containers: [], authorizedKey: key.publicKey }),
    ])
  })
  afterAll(async () => {
    await Promise.all([sim?.close(), sshd?.stop()])
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  const env = (knownHosts: string): Record<string, string> => {
    const file = path.join(dir, `known_hosts-${Math.random().toString(36).slice(2)}`)
    fs.writeFileSync(file, knownHosts)
    return {
      PROXMOX_NODES: `pve1:${sim.endpoints[0]!.host}:${sim.endpoints[0]!.port}`,
      PROXMOX_TOKEN_ID: sim.tokenId,
      PROXMOX_TOKEN_SECRET: sim.tokenSecret,
      PROXMOX_TLS_FINGERPRINTS: sim.fingerprint,
      AUDIT_LOG_PATH: path.join(dir, "audit.jsonl"),
      PROXMOX_SSH_KEY_PATH: key.path,
      PROXMOX_SSH_HOST: `${os.userInfo().username}@127.0.0.1:${sshd.port}`,
      PROXMOX_SSH_KNOWN_HOSTS: file,
    }
  }
  const sshCheck = async (knownHosts: string) => {
    const result = await runCli(["doctor", "--json"], env(knownHosts))
    const report = JSON.parse(result.stdout) as DoctorReport
    return { status: result.status, check: report.checks.find((c) => c.name === "ssh") }
  }

  it("passes when the host key is known and pct is on the command path", async () => {
    const { check } = await sshCheck(sshd.knownHostsLine)
    expect(check).toMatchObject({ status: "ok" })
    expect(check?.message).toContain("host key verified")
  })

  it("fails on an unknown host key, naming the presented fingerprint in the fix", async () => {
    const { status, check } = await sshCheck("")
    expect(status).toBe(1)
    expect(check).toMatchObject({ status: "fail" })
    expect(check?.message).toContain("is not known")
    expect(check?.fix).toMatch(/SHA256:[A-Za-z0-9+/]{43}/)
  })
})

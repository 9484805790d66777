/**
 * `proxmox-mcp doctor` and `proxmox-mcp bootstrap` against the simulated cluster: each broken
 * configuration a new user meets gives exit 1 and a message that names the fix; a correct one
 * exits 0 with a green report.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Check, DoctorReport } from "../../src/cli/doctor.js"
import { startSimulator } from "../../src/simulator/index.js"
import type { RunningSimulator } from "../../src/simulator/types.js"
import { tempDir } from "../audit/helpers.js"
import { runCli } from "../support/cli.js"

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startSimulator({ nodes: ["pve1"] })
})
afterAll(async () => {
  await sim.close()
})

const baseEnv = (): Record<string, string> => ({
  PROXMOX_NODES: `pve1:${sim.endpoints[0]!.host}:${sim.endpoints[0]!.port}`,
  PROXMOX_TOKEN_ID: sim.tokenId,
  PROXMOX_TOKEN_SECRET: sim.tokenSecret,
  PROXMOX_TLS_FINGERPRINTS: sim.fingerprint,
  AUDIT_LOG_PATH: path.join(tempDir("doctor-"), "audit.jsonl"),
})

const doctor = async (env: Record<string, string>) => {
  const result = await runCli(["doctor", "--json"], env)
  const report = JSON.parse(result.stdout) as DoctorReport
  const check = (name: string): Check => {
    const found = report.checks.find((c) => c.name === name)
    if (found === undefined) throw new Error(`no check ${name} in ${result.stdout}`)
    return found
  }
  return { status: result.status, report, check }
}

describe("proxmox-mcp doctor", () => {
  it("passes a correct configuration, every check green", async () => {
    const { status, report } = await doctor({ ...baseEnv(), PVE_ACCESS_TIER: "full" })
    expect(report.checks.filter((c) => c.status === "fail")).toEqual([])
    expect(status).toBe(0)
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ["config", "ok"],
      ["tls pve1", "ok"],
      ["token pve1", "ok"],
      ["privileges", "ok"],
      ["cluster", "ok"],
      ["audit", "ok"],
      ["ssh", "skip"],
    ])
    const text = await runCli(["doctor"], { ...baseEnv(), PVE_ACCESS_TIER: "full" })
    expect(text.stdout).toMatch(/^proxmox-mcp doctor\n/)
    expect(text.stdout).toMatch(/\nall good\n$/)
  })

  it("a wrong token secret: the 401 is explained", async () => {
    const { status, check } = await doctor({
      ...baseEnv(),
      PROXMOX_TOKEN_SECRET: "00000000-0000-4000-8000-000000000000",
    })
    expect(status).toBe(1)
    expect(check("token pve1")).toMatchObject({ status: "fail" })
    expect(check("token pve1").message).toMatch(/refused the API token root@pam!mcp \(401\)/)
    expect(check("token pve1").fix).toMatch(/PROXMOX_TOKEN_SECRET/)
    expect(check("privileges").status).toBe("skip")
  })

  it("an unpinned self-signed certificate: the fix is the exact pin line with the real fingerprint", async () => {
    const { PROXMOX_TLS_FINGERPRINTS: _pin, ...unpinned } = baseEnv()
    const { status, check } = await doctor(unpinned)
    expect(status).toBe(1)
    expect(check("tls pve1").message).toMatch(/not trusted/)
    expect(check("tls pve1").fix).toContain(`PROXMOX_TLS_FINGERPRINTS=${sim.fingerprint}`)
  })

  it("a wrong pin: names the certificate's real fingerprint", async () => {
    const wrong = "AB:".repeat(31) + "AB"
    const { status, check } = await doctor({ ...baseEnv(), PROXMOX_TLS_FINGERPRINTS: wrong })
    expect(status).toBe(1)
    expect(check("tls pve1").message).toContain(`fingerprint ${sim.fingerprint}, not the pinned ${wrong}`)
    expect(check("token pve1").status).toBe("skip")
  })

  it("a token without VM.PowerMgmt under tier read-execute: the missing privilege, path and tools", async () => {
    const { status, check } = await doctor({
      ...baseEnv(),
      PROXMOX_TOKEN_ID: sim.readOnlyToken.tokenId,
      PROXMOX_TOKEN_SECRET: sim.readOnlyToken.tokenSecret,
      PVE_ACCESS_TIER: "read-execute",
    })
    expect(status).toBe(1)
    expect(check("token pve1").status).toBe("ok")
    expect(check("privileges")).toMatchObject({ status: "fail" })
    expect(check("privileges").message).toMatch(/VM\.PowerMgmt on \/vms: needed by pve_/)
    expect(check("privileges").fix).toMatch(/proxmox-mcp bootstrap --tier read-execute/)
    // The same token is enough for read-only.
    expect(
      (
        await doctor({
          ...baseEnv(),
          PROXMOX_TOKEN_ID: sim.readOnlyToken.tokenId,
          PROXMOX_TOKEN_SECRET: sim.readOnlyToken.tokenSecret,
        })
      ).status,
    ).toBe(0)
  })

  it("an unwritable audit path", async () => {
    const file = path.join(tempDir("doctor-"), "a-file")
    fs.writeFileSync(file, "")
    const { status, check } = await doctor({ ...baseEnv(), AUDIT_LOG_PATH: path.join(file, "audit.jsonl") })
    expect(status).toBe(1)
    expect(check("audit").message).toMatch(/cannot be written/)
    expect(check("audit").fix).toMatch(/AUDIT_LOG_PATH/)
  })

  it("a tampered audit log fails the audit check", async () => {
    const env = baseEnv()
    fs.writeFileSync(env.AUDIT_LOG_PATH!, '{"v":1,"seq":1,"prev":"x"}\n')
    const { status, check } = await doctor(env)
    expect(status).toBe(1)
    expect(check("audit").message).toMatch(/TAMPERED/)
  })

  it("an unreachable endpoint and a policy with no tools", async () => {
    const { status, check } = await doctor({
      ...baseEnv(),
      PROXMOX_NODES: "pve1:127.0.0.1:1",
      PVE_CATEGORIES: "remote",
    })
    expect(status).toBe(1)
    expect(check("config")).toMatchObject({ status: "fail", message: "the policy exposes no tool" })
    expect(check("tls pve1").message).toMatch(/cannot reach 127\.0\.0\.1:1: ECONNREFUSED/)
  })

  it("a configuration error is a failed check, not a crash", async () => {
    const { status, check } = await doctor({ PROXMOX_HOST: "https://root:hunter2hunter2@pve:8006" })
    expect(status).toBe(1)
    expect(check("config").message).toMatch(/PROXMOX_HOST: must not contain a user name or password/)
  })
})

describe("proxmox-mcp bootstrap", () => {
  it("prints pveum commands for a role with exactly the tier's privileges", async () => {
    const readOnly = await runCli(["bootstrap"], {})
    expect(readOnly.status).toBe(0)
    expect(readOnly.stdout).toMatch(/^pveum role add ProxmoxMCP-read-only --privs [A-Za-z.,]+$/m)
    expect(readOnly.stdout).not.toContain("VM.PowerMgmt")
    const execute = await runCli(
      ["bootstrap", "--tier", "read-execute", "--user", "svc@pve", "--token", "agent"],
      {},
    )
    expect(execute.stdout).toMatch(/--privs [A-Za-z.,]*VM\.PowerMgmt/)
    expect(execute.stdout).toContain("pveum user token add svc@pve agent --privsep 1")
    expect(execute.stdout).toContain(
      "pveum acl modify / --tokens 'svc@pve!agent' --roles ProxmoxMCP-read-execute",
    )
    expect(execute.stdout).toContain("pveum acl modify / --users svc@pve --roles ProxmoxMCP-read-execute")
    expect((await runCli(["bootstrap", "--tier", "admin"], {})).status).toBe(2)
  })
})

describe("bootstrap --apply, then doctor", () => {
  it.each(["read-only", "read-execute", "full"])(
    "tier %s: the token bootstrap creates is exactly enough for doctor",
    async (tier) => {
      const env = { ...baseEnv(), PVE_MODULE_MODE: "advanced" }
      const applied = await runCli(["bootstrap", "--tier", tier, "--user", `mcp-${tier}@pve`, "--apply"], {
        ...env,
        PROXMOX_BOOTSTRAP_TOKEN_ID: sim.tokenId,
        PROXMOX_BOOTSTRAP_TOKEN_SECRET: sim.tokenSecret,
      })
      expect(applied.status, applied.stderr).toBe(0)
      const tokenId = /^PROXMOX_TOKEN_ID=(.+)$/m.exec(applied.stdout)?.[1]
      const secret = /^PROXMOX_TOKEN_SECRET=(.+)$/m.exec(applied.stdout)?.[1]
      expect(tokenId).toBe(`mcp-${tier}@pve!mcp`)
      const withToken = { ...env, PROXMOX_TOKEN_ID: tokenId!, PROXMOX_TOKEN_SECRET: secret! }
      const report = await doctor({ ...withToken, PVE_ACCESS_TIER: tier })
      expect(report.check("privileges").status, report.check("privileges").message).toBe("ok")
      expect(report.status).toBe(0)
      // One tier up, the same token falls short and doctor says what is missing.
      if (tier !== "full") {
        const above = tier === "read-only" ? "read-execute" : "full"
        const short = await doctor({ ...withToken, PVE_ACCESS_TIER: above })
        expect(short.status).toBe(1)
        expect(short.check("privileges").status).toBe("fail")
      }
    },
  )

  it("a second run updates the role instead of failing on it", async () => {
    const env = {
      ...baseEnv(),
      PROXMOX_BOOTSTRAP_TOKEN_ID: sim.tokenId,
      PROXMOX_BOOTSTRAP_TOKEN_SECRET: sim.tokenSecret,
    }
    expect(
      (await runCli(["bootstrap", "--user", "twice@pve", "--token", "one", "--apply"], env)).status,
    ).toBe(0)
    const again = await runCli(["bootstrap", "--user", "twice@pve", "--token", "two", "--apply"], env)
    expect(again.status, again.stderr).toBe(0)
    expect(again.stderr).toMatch(/role ProxmoxMCP-read-only existed: set its privileges/)
  })
})

describe("an empty policy", () => {
  it("refuses to start run and demo, naming the variables", async () => {
    const run = await runCli(["run"], { ...baseEnv(), PVE_CATEGORIES: "remote" })
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(/the policy exposes no tool under PVE_ACCESS_TIER=read-only: PVE_CATEGORIES/)
    const demo = await runCli(["demo"], { PVE_TOOL_WHITELIST: "pve_stop_task", PVE_ACCESS_TIER: "read-only" })
    expect(demo.status).toBe(2)
  })
})

describe("--help", () => {
  it.each([
    ["run"],
    ["demo"],
    ["simulator"],
    ["tools"],
    ["hash-password"],
    ["doctor"],
    ["bootstrap"],
    ["setup"],
    ["audit"],
    ["audit", "verify"],
    ["audit", "export-head"],
    // After other options too: the help, not a usage error or a start.
    ["run", "--transport", "http"],
    ["tools", "--json"],
  ])("proxmox-mcp %s ... --help", async (...command) => {
    const result = await runCli([...command, "--help"], {})
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^Usage: proxmox-mcp ${command[0]}`))
    // Plain text: no terminal escapes, whether or not stdout is a terminal.
    expect(result.stdout).not.toContain("\u001b[")
  })
})

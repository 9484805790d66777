import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Config, Effect, Either, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { configProvider, formatConfigError } from "../../src/config/provider.js"
import { proxmoxConfig } from "../../src/config/proxmox.js"
import { serverConfig } from "../../src/config/server.js"

const load = <A>(config: Config.Config<A>, env: Record<string, string>) => {
  const provider = configProvider(env)
  if (Either.isLeft(provider)) return Either.left(formatConfigError(provider.left))
  return Either.mapLeft(
    Effect.runSync(Effect.either(Effect.withConfigProvider(config, provider.right))),
    formatConfigError,
  )
}

const nandi = {
  PROXMOX_HOST: "pve.example.org",
  PROXMOX_USER: "svc_mcp",
  PROXMOX_REALM: "pve",
  PROXMOX_TOKEN_NAME: "mcp",
  PROXMOX_TOKEN_SECRET: "1b2c3d4e-0000-4000-8000-000000000001",
}
const FP = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"

const errorOf = (env: Record<string, string>) => {
  const result = load(proxmoxConfig, env)
  expect(Either.isLeft(result)).toBe(true)
  return Either.isLeft(result) ? result.left : ""
}

describe("Proxmox connection config", () => {
  it("reads the NANDI form", () => {
    const result = load(proxmoxConfig, nandi)
    const config = Either.getOrThrow(result)
    expect(config.endpoints).toHaveLength(1)
    expect(config.endpoints[0]).toMatchObject({
      name: "pve.example.org",
      host: "pve.example.org",
      port: 8006,
      tokenId: "svc_mcp@pve!mcp",
    })
    expect(Redacted.value(config.endpoints[0]!.tokenSecret)).toBe(nandi.PROXMOX_TOKEN_SECRET)
    expect(config.tls.verify).toBe(true)
  })

  it("reads the Sutian form with per-node tokens in both spellings", () => {
    const config = Either.getOrThrow(
      load(proxmoxConfig, {
        PROXMOX_NODES: "pve1:10.0.0.1:8006,pve2:[fd00::2]:8007,pve3:pve3.lan",
        PROXMOX_TOKEN_ID: "root@pam!mcp",
        PROXMOX_TOKEN_SECRET: "s0",
        PROXMOX_NODE_TOKENS: "pve1=root@pam!one:s1,pve2:root@pam!two:s2",
        PROXMOX_TLS_FINGERPRINTS: `pve2=${FP.replace(/:/g, "").toLowerCase()}`,
      }),
    )
    expect(config.endpoints.map((e) => [e.node, e.host, e.port, e.tokenId])).toEqual([
      ["pve1", "10.0.0.1", 8006, "root@pam!one"],
      ["pve2", "fd00::2", 8007, "root@pam!two"],
      ["pve3", "pve3.lan", 8006, "root@pam!mcp"],
    ])
    expect(Redacted.value(config.endpoints[1]!.tokenSecret)).toBe("s2")
    expect(config.endpoints[1]!.fingerprint).toBe(FP)
    expect(config.endpoints[0]!.fingerprint).toBeUndefined()
  })

  it.each([
    ["openssl's output", `sha256 Fingerprint=${FP}`],
    ["openssl's output, upper case", `SHA256 Fingerprint=${FP}`],
    ["pvenode cert info", `fingerprint : ${FP.toLowerCase()}`],
    ["a sha256: prefix", `sha256:${FP.replace(/:/g, "")}`],
    ["spaces between the pairs", FP.replace(/:/g, " ")],
    ["per node, pasted whole", `pve.example.org=sha256 Fingerprint=${FP}`],
  ])("accepts a fingerprint pasted as %s", (_, pasted) => {
    const config = Either.getOrThrow(load(proxmoxConfig, { ...nandi, PROXMOX_TLS_FINGERPRINTS: pasted }))
    expect(config.endpoints[0]!.fingerprint).toBe(FP)
  })

  it("takes PROXMOX_HOST as a URL copied from the browser", () => {
    const at = (host: string, extra: Record<string, string> = {}) =>
      Either.getOrThrow(load(proxmoxConfig, { ...nandi, PROXMOX_HOST: host, ...extra })).endpoints[0]!
    expect(at("https://pve.lan:8006/")).toMatchObject({ host: "pve.lan", port: 8006 })
    expect(at("https://pve.lan:8443")).toMatchObject({ host: "pve.lan", port: 8443 })
    expect(at("https://pve.lan/api2/json", { PROXMOX_PORT: "9006" })).toMatchObject({ port: 9006 })
    expect(at("https://[fd00::1]:8006")).toMatchObject({ host: "fd00::1", port: 8006 })
    expect(errorOf({ ...nandi, PROXMOX_HOST: "http://pve.lan:8006" })).toMatch(/PROXMOX_HOST: .*https only/)
    expect(errorOf({ ...nandi, PROXMOX_HOST: "https://pve.lan:8006/#v1:0:=qemu" })).toMatch(
      /give the host \(and port\) only/,
    )
  })

  it("never echoes a secret in a configuration error", () => {
    const withPassword = errorOf({ ...nandi, PROXMOX_HOST: "https://root:S3cretPassw0rd@pve.lan:8006" })
    expect(withPassword).toMatch(/PROXMOX_HOST: must not contain a user name or password/)
    expect(withPassword).not.toContain("S3cretPassw0rd")
    const inNodes = errorOf({
      PROXMOX_NODES: "pve1:https://root:S3cretPassw0rd@pve.lan:8006",
      PROXMOX_TOKEN_ID: "a@b!c",
      PROXMOX_TOKEN_SECRET: "s",
    })
    expect(inNodes).toContain("PROXMOX_NODES")
    expect(inNodes).not.toContain("S3cretPassw0rd")
  })

  it("a missing token names PROXMOX_TOKEN_ID and the other ways to give it", () => {
    const { PROXMOX_USER: _u, PROXMOX_REALM: _r, PROXMOX_TOKEN_NAME: _n, ...noToken } = nandi
    expect(errorOf(noToken)).toMatch(
      /PROXMOX_TOKEN_ID: no API token configured for 'pve\.example\.org': set PROXMOX_TOKEN_ID=user@realm!tokenname/,
    )
  })

  it.each([
    [{}, "PROXMOX_HOST"],
    [{ ...nandi, PROXMOX_NODES: "pve1:h:8006" }, "PROXMOX_NODES"],
    [{ ...nandi, PROXMOX_PORT: "80a" }, "PROXMOX_PORT"],
    [{ ...nandi, PROXMOX_PORT: "70000" }, "PROXMOX_PORT"],
    [{ ...nandi, PROXMOX_TOKEN_SECRET: "" }, "PROXMOX_TOKEN_SECRET"],
    [{ ...nandi, PROXMOX_REALM: "" }, "PROXMOX_REALM"],
    [{ ...nandi, PROXMOX_TOKEN_NAME: "" }, "PROXMOX_TOKEN_NAME"],
    [{ ...nandi, PROXMOX_USER: "" }, "PROXMOX_USER"],
    [{ ...nandi, PROXMOX_TOKEN_ID: "root@pam!x" }, "PROXMOX_TOKEN_ID"],
    [{ PROXMOX_HOST: "h", PROXMOX_TOKEN_ID: "no-realm", PROXMOX_TOKEN_SECRET: "s" }, "PROXMOX_TOKEN_ID"],
    [{ PROXMOX_NODES: "pve1", PROXMOX_TOKEN_ID: "a@b!c", PROXMOX_TOKEN_SECRET: "s" }, "PROXMOX_NODES"],
    [
      { PROXMOX_NODES: "bad_name:h:1", PROXMOX_TOKEN_ID: "a@b!c", PROXMOX_TOKEN_SECRET: "s" },
      "PROXMOX_NODES",
    ],
    [{ PROXMOX_NODES: "a:h:1,a:h:2", PROXMOX_TOKEN_ID: "a@b!c", PROXMOX_TOKEN_SECRET: "s" }, "PROXMOX_NODES"],
    [
      { PROXMOX_NODES: "a:h:1", PROXMOX_NODE_TOKENS: "a=broken", PROXMOX_TOKEN_SECRET: "s" },
      "PROXMOX_NODE_TOKENS",
    ],
    [
      {
        PROXMOX_NODES: "a:h:1",
        PROXMOX_NODE_TOKENS: "b=x@y!z:s",
        PROXMOX_TOKEN_ID: "a@b!c",
        PROXMOX_TOKEN_SECRET: "s",
      },
      "PROXMOX_NODE_TOKENS",
    ],
    [{ ...nandi, PROXMOX_NODE_TOKENS: "a=x@y!z:s" }, "PROXMOX_NODE_TOKENS"],
    [{ PROXMOX_NODES: "a:h:1", PROXMOX_TOKEN_SECRET: "s" }, "PROXMOX_TOKEN_ID"],
    [{ ...nandi, PROXMOX_TLS_FINGERPRINTS: "AA:BB" }, "PROXMOX_TLS_FINGERPRINTS"],
    [{ ...nandi, PROXMOX_TLS_FINGERPRINTS: `other=${FP}` }, "PROXMOX_TLS_FINGERPRINTS"],
    [{ ...nandi, PROXMOX_ALLOW_INSECURE_TLS: "maybe" }, "PROXMOX_ALLOW_INSECURE_TLS"],
    [{ ...nandi, VERIFY_TLS: "nope" }, "VERIFY_TLS"],
    [{ ...nandi, PROXMOX_CA_FILE: "/nonexistent/ca.pem" }, "PROXMOX_CA_FILE"],
    [{ ...nandi, PROXMOX_REQUEST_TIMEOUT_MS: "5" }, "PROXMOX_REQUEST_TIMEOUT_MS"],
  ])("names the variable in error %#: %s", (env, variable) => {
    expect(errorOf(env as Record<string, string>)).toContain(variable)
  })

  it("refuses a CA file without a certificate", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pmcp-"))
    const file = path.join(dir, "ca.pem")
    fs.writeFileSync(file, "not a cert")
    expect(errorOf({ ...nandi, PROXMOX_CA_FILE: file })).toMatch(/PROXMOX_CA_FILE: .*no PEM certificate/)
  })

  it("turns verification off only when asked, either spelling", () => {
    expect(
      Either.getOrThrow(load(proxmoxConfig, { ...nandi, PROXMOX_ALLOW_INSECURE_TLS: "true" })).tls.verify,
    ).toBe(false)
    expect(Either.getOrThrow(load(proxmoxConfig, { ...nandi, VERIFY_TLS: "false" })).tls.verify).toBe(false)
    expect(Either.getOrThrow(load(proxmoxConfig, { ...nandi, VERIFY_TLS: "true" })).tls.verify).toBe(true)
  })

  it("reads the JSON config file, environment first, and checks its mode", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pmcp-"))
    const file = path.join(dir, "config.json")
    fs.writeFileSync(file, JSON.stringify({ ...nandi, PROXMOX_PORT: 8443 }), { mode: 0o600 })
    const config = Either.getOrThrow(
      load(proxmoxConfig, { PROXMOX_MCP_CONFIG: file, PROXMOX_HOST: "override.lan" }),
    )
    expect(config.endpoints[0]).toMatchObject({ host: "override.lan", port: 8443 })
    fs.chmodSync(file, 0o644)
    expect(errorOf({ PROXMOX_MCP_CONFIG: file })).toMatch(/PROXMOX_MCP_CONFIG: .*chmod 600/)
    fs.writeFileSync(file, "{not json", { mode: 0o600 })
    fs.chmodSync(file, 0o600)
    expect(errorOf({ NANDI_PROXMOX_CONFIG: file })).toMatch(/NANDI_PROXMOX_CONFIG: .*not valid JSON/)
    expect(errorOf({ PROXMOX_MCP_CONFIG: path.join(dir, "missing.json") })).toMatch(
      /PROXMOX_MCP_CONFIG: cannot read/,
    )
  })
})

describe("server config", () => {
  it("has defaults", () => {
    expect(Either.getOrThrow(load(serverConfig, {}))).toEqual({
      maxResultBytes: 262144,
      logLevel: "info",
      transport: "stdio",
      listAliases: false,
    })
  })
  it.each([
    ["MCP_TRANSPORT", "carrier-pigeon"],
    ["MCP_MAX_RESULT_BYTES", "-1"],
    ["LOG_LEVEL", "loud"],
  ])("rejects %s=%s naming the variable", (variable, value) => {
    const result = load(serverConfig, { [variable]: value })
    expect(Either.isLeft(result) && result.left).toContain(variable)
  })
})

describe("config errors never print a secret", () => {
  const secret = "8a1f3c2e-1111-4222-8333-944455556666"
  it.each([
    { PROXMOX_HOST: "h", PROXMOX_TOKEN_ID: `root@pam!mcp=${secret}`, PROXMOX_TOKEN_SECRET: "x" },
    {
      PROXMOX_NODES: "pve1:h:8006",
      PROXMOX_NODE_TOKENS: `pve1=root@pam!mcp=${secret}:x`,
      PROXMOX_TOKEN_SECRET: "x",
    },
  ])("%#", (env) => {
    const message = errorOf(env as Record<string, string>)
    expect(message).toMatch(/PROXMOX_TOKEN_ID|PROXMOX_NODE_TOKENS/)
    expect(message.includes(secret)).toBe(false)
  })
})

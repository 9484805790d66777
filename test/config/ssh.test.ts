import * as Either from "effect/Either"
import { describe, expect, it } from "vitest"
import { load } from "../../src/cli/args.js"
import { sshConfig, sshConfigured } from "../../src/config/ssh.js"
import { commandLine, quote } from "../../src/ssh/command.js"
import { parseKnownHosts, patternsMatch, verifyKnownHosts } from "../../src/ssh/known-hosts.js"

const read = (env: Record<string, string>) => load(env, sshConfig)
const ok = (env: Record<string, string>) => Either.getOrThrow(read(env))
const error = (env: Record<string, string>) => {
  const result = read(env)
  if (Either.isRight(result)) throw new Error("expected a configuration error")
  return result.left
}

const KEY = { PROXMOX_SSH_KEY_PATH: "/keys/id", PROXMOX_SSH_HOST: "pve1.example" }

describe("SSH configuration", () => {
  it("is disabled without a key, whatever else is set", () => {
    const settings = ok({ PROXMOX_SSH_HOST: "pve1", PROXMOX_SSH_STRATEGY: "direct" })
    expect(settings.strategy).toBe("disabled")
    expect(sshConfigured(settings)).toBe(false)
  })

  it("with a key: the entry host, defaults, nodes and pins", () => {
    const settings = ok({
      ...KEY,
      PROXMOX_SSH_PORT: "2222",
      PROXMOX_SSH_NODES: "pve2=admin@10.0.0.2:22,pve3=[fd00::3]",
      PROXMOX_SSH_HOST_FINGERPRINTS: `pve1.example=SHA256:${"A".repeat(43)},SHA256:${"b".repeat(43)}`,
    })
    expect(sshConfigured(settings)).toBe(true)
    expect(settings.strategy).toBe("auto")
    expect(settings.entry).toEqual({ host: "pve1.example", port: 2222, user: "root" })
    expect(settings.nodes.get("pve2")).toEqual({ host: "10.0.0.2", port: 22, user: "admin" })
    expect(settings.nodes.get("pve3")).toEqual({ host: "fd00::3", port: 2222, user: "root" })
    expect(settings.fingerprints.get("pve1.example")).toEqual([`SHA256:${"A".repeat(43)}`])
    expect(settings.fingerprints.get("*")).toEqual([`SHA256:${"b".repeat(43)}`])
  })

  it("names the variable of each malformed value", () => {
    expect(error({ PROXMOX_SSH_KEY_PATH: "/keys/id" })).toContain("PROXMOX_SSH_HOST")
    expect(error({ ...KEY, PROXMOX_SSH_STRATEGY: "tunnel" })).toContain("PROXMOX_SSH_STRATEGY")
    expect(error({ ...KEY, PROXMOX_SSH_HOST: "-oProxyCommand=id" })).toContain("PROXMOX_SSH_HOST")
    expect(error({ ...KEY, PROXMOX_SSH_USER: "root;id" })).toContain("PROXMOX_SSH_USER")
    expect(error({ ...KEY, PROXMOX_SSH_NODES: "pve2" })).toContain("PROXMOX_SSH_NODES")
    expect(error({ ...KEY, PROXMOX_SSH_NODES: "pve2=host:99999" })).toContain("PROXMOX_SSH_NODES")
    expect(error({ ...KEY, PROXMOX_SSH_HOST_FINGERPRINTS: "MD5:aa:bb" })).toContain(
      "PROXMOX_SSH_HOST_FINGERPRINTS",
    )
    expect(error({ ...KEY, PROXMOX_SSH_ACCEPT_NEW: "maybe" })).toContain("PROXMOX_SSH_ACCEPT_NEW")
    expect(error({ ...KEY, PROXMOX_SSH_NODE_NAME: "pve 1" })).toContain("PROXMOX_SSH_NODE_NAME")
  })
})

describe("quoting", () => {
  it("leaves plain words readable and single-quotes everything else", () => {
    expect(quote("pct")).toBe("pct")
    expect(quote("{{.Names}} {{.Status}}")).toBe("'{{.Names}} {{.Status}}'")
    expect(quote("")).toBe("''")
    expect(quote("it's")).toBe("'it'\\''s'")
    expect(quote("$(id)")).toBe("'$(id)'")
    expect(commandLine(["docker", "logs", "--tail", "5", "web"])).toBe("docker logs --tail 5 web")
    expect(() => commandLine([])).toThrow()
  })
})

describe("known_hosts", () => {
  const blob = (type: string, body: string) => {
    const name = Buffer.from(type)
    const length = Buffer.alloc(4)
    length.writeUInt32BE(name.length)
    return Buffer.concat([length, name, Buffer.from(body)])
  }
  const a = blob("ssh-ed25519", "key-a")
  const b = blob("ssh-ed25519", "key-b")

  it("matches wildcards and negations, and skips lines whose type disagrees with the key", () => {
    expect(patternsMatch("*.example,!bad.example", "pve1.example")).toBe(true)
    expect(patternsMatch("*.example,!bad.example", "bad.example")).toBe(false)
    expect(patternsMatch("pve?", "pve1")).toBe(true)
    expect(patternsMatch("[pve1]:2222", "[pve1]:2222")).toBe(true)
    expect(patternsMatch("pve1", "[pve1]:2222")).toBe(false)
    const entries = parseKnownHosts(
      `# comment\npve1 ssh-ed25519 ${a.toString("base64")}\npve2 ssh-rsa ${b.toString("base64")}\ngarbage\n`,
    )
    expect(entries).toHaveLength(1)
    expect(verifyKnownHosts(entries, "pve1", a)._tag).toBe("Trusted")
    expect(verifyKnownHosts(entries, "pve1", b)._tag).toBe("Changed")
    expect(verifyKnownHosts(entries, "pve2", b)._tag).toBe("Unknown")
  })
})

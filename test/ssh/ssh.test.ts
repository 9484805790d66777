/**
 * The Ssh layer against a real OpenSSH server on loopback: host-key verification (each refusal),
 * argv arriving intact, exit codes, the output cap, the command timeout (on a TestClock) and
 * cancellation closing the channel, connection reuse and the hop through an entry host.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SSH_DISABLED, type SshAddress, type SshSettings } from "../../src/config/ssh.js"
import { SshError } from "../../src/domain/errors.js"
import { fingerprintOf, knownHostsLine } from "../../src/ssh/known-hosts.js"
import { Ssh, type SshLayerOptions, type SshRoute, layer as sshLayer } from "../../src/ssh/ssh.js"
import { eventually } from "../support/cluster.js"
import { keyBlob, makeUserKey, type Sshd, sshdAvailable, startSshd } from "../support/sshd.js"

const user = os.userInfo().username

describe.skipIf(!sshdAvailable)("Ssh layer against a real sshd", () => {
  let dir: string
  let key: { path: string; publicKey: string }
  let entry: Sshd
  let second: Sshd
  let knownHosts: string

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "proxmox-mcp-ssh-test-"))
    key = makeUserKey(dir)
    ;[entry, second] = await Promise.all([
      startSshd({ node: "pve1", containers: [200], authorizedKey: key.publicKey }),
      startSshd({ node: "pve2", containers: [210], authorizedKey: key.publicKey }),
    ])
    knownHosts = path.join(dir, "known_hosts")
    fs.writeFileSync(knownHosts, entry.knownHostsLine + second.knownHostsLine)
  })
  afterAll(async () => {
    await Promise.all([entry?.stop(), second?.stop()])
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  const address = (sshd: Sshd): SshAddress => ({ host: "127.0.0.1", port: sshd.port, user })
  const settings = (overrides: Partial<SshSettings> = {}): SshSettings => ({
    ...SSH_DISABLED,
    strategy: "direct",
    entry: address(entry),
    keyPath: key.path,
    knownHostsPath: knownHosts,
    ...overrides,
  })

  /** Runs `use` with a fresh Ssh layer (its pool closed at the end). */
  const withSsh = <A, E>(
    use: (ssh: Effect.Effect.Success<typeof Ssh>) => Effect.Effect<A, E>,
    overrides: Partial<SshSettings> = {},
    options: SshLayerOptions = {},
  ) => Effect.runPromise(Effect.provide(Effect.flatMap(Ssh, use), sshLayer(settings(overrides), options)))

  const execOn = (route: SshRoute, argv: ReadonlyArray<string>) =>
    withSsh((ssh) => Effect.either(ssh.exec(route, argv)))

  describe("host keys", () => {
    const refused = async (overrides: Partial<SshSettings>) => {
      const result = await withSsh(
        (ssh) => Effect.either(ssh.exec({ target: address(entry) }, ["true"])),
        overrides,
      )
      if (Either.isRight(result)) throw new Error("expected the host key to be refused")
      return result.left
    }
    const fileWith = (name: string, text: string) => {
      const file = path.join(dir, name)
      fs.writeFileSync(file, text)
      return file
    }
    const otherKey = () => {
      // Another host's key for the same name: what a man in the middle would present.
      return second.hostKey
    }
    const entryName = () => `[127.0.0.1]:${entry.port}`

    it("accepts a key listed in known_hosts", async () => {
      const result = await execOn({ target: address(entry) }, ["echo", "hello"])
      expect(Either.getOrThrow(result).stdout).toBe("hello\n")
    })

    it("refuses an unknown host (no trust on first use by default), naming its fingerprint", async () => {
      const error = await refused({ knownHostsPath: fileWith("empty", "") })
      expect(error.code).toBe("SSH_HOST_KEY_REJECTED")
      expect(error.reason).toBe("unknown")
      expect(error.stage).toBe("connect")
      expect(error.fingerprint).toBe(fingerprintOf(keyBlob(entry.hostKey)))
      expect(entry.calls()).toEqual([])
    })

    it("refuses a missing known_hosts file like an empty one", async () => {
      const error = await refused({ knownHostsPath: path.join(dir, "does-not-exist") })
      expect(error.reason).toBe("unknown")
    })

    it("refuses a changed key (the name is known with another key)", async () => {
      const error = await refused({ knownHostsPath: fileWith("changed", `${entryName()} ${otherKey()}\n`) })
      expect(error.code).toBe("SSH_HOST_KEY_REJECTED")
      expect(error.reason).toBe("changed")
      expect(error.message).toContain("CHANGED")
    })

    it("accepts a hashed entry and refuses a hashed entry with another key", async () => {
      const salt = crypto.randomBytes(20)
      const good = knownHostsLine(entryName(), keyBlob(entry.hostKey), salt)
      expect(good.startsWith("|1|")).toBe(true)
      const ok = await withSsh((ssh) => ssh.exec({ target: address(entry) }, ["true"]), {
        knownHostsPath: fileWith("hashed", good),
      })
      expect(ok.exitCode).toBe(0)
      const bad = knownHostsLine(entryName(), keyBlob(otherKey()), salt)
      const error = await refused({ knownHostsPath: fileWith("hashed-bad", bad) })
      expect(error.reason).toBe("changed")
    })

    it("does not take a hashed entry of another name", async () => {
      const line = knownHostsLine(
        `[127.0.0.1]:${entry.port + 1}`,
        keyBlob(entry.hostKey),
        crypto.randomBytes(20),
      )
      const error = await refused({ knownHostsPath: fileWith("hashed-other", line) })
      expect(error.reason).toBe("unknown")
    })

    it("refuses a revoked key even when it is also listed", async () => {
      const error = await refused({
        knownHostsPath: fileWith("revoked", `${entryName()} ${entry.hostKey}\n@revoked * ${entry.hostKey}\n`),
      })
      expect(error.reason).toBe("revoked")
    })

    it("ignores @cert-authority lines (never a reason to accept)", async () => {
      const error = await refused({ knownHostsPath: fileWith("ca", `@cert-authority * ${entry.hostKey}\n`) })
      expect(error.reason).toBe("unknown")
    })

    it("accepts a pinned fingerprint and refuses a pin that does not match", async () => {
      const empty = fileWith("empty2", "")
      const pin = fingerprintOf(keyBlob(entry.hostKey))
      const ok = await withSsh((ssh) => ssh.exec({ target: address(entry) }, ["true"]), {
        knownHostsPath: empty,
        fingerprints: new Map([["127.0.0.1", [pin]]]),
      })
      expect(ok.exitCode).toBe(0)
      const error = await refused({
        knownHostsPath: empty,
        fingerprints: new Map([["*", [fingerprintOf(keyBlob(otherKey()))]]]),
      })
      expect(error.reason).toBe("changed")
    })

    it("with PROXMOX_SSH_ACCEPT_NEW records a new host's key (hashed), and trusts only that key later", async () => {
      const file = fileWith("tofu", "")
      const ok = await withSsh((ssh) => ssh.exec({ target: address(entry) }, ["true"]), {
        knownHostsPath: file,
        acceptNew: true,
      })
      expect(ok.exitCode).toBe(0)
      const recorded = fs.readFileSync(file, "utf8")
      expect(recorded).toMatch(/^\|1\|[^ ]+ ssh-ed25519 /)
      expect(recorded).not.toContain("127.0.0.1")
      // Without accept-new the recorded key is now what this host must present.
      const again = await withSsh((ssh) => ssh.exec({ target: address(entry) }, ["true"]), {
        knownHostsPath: file,
      })
      expect(again.exitCode).toBe(0)
      // A different key under that name is a change, which accept-new never accepts.
      fs.writeFileSync(file, recorded.replace(entry.hostKey.split(" ")[1]!, second.hostKey.split(" ")[1]!))
      const error = await refused({ knownHostsPath: file, acceptNew: true })
      expect(error.reason).toBe("changed")
    })
  })

  describe("commands", () => {
    it("delivers every argument intact: shell syntax in an argument is inert", async () => {
      entry.clearCalls()
      const marker = path.join(dir, "pwned")
      const hostile = [
        `; touch ${marker}`,
        `$(touch ${marker})`,
        `\`touch ${marker}\``,
        "'single' quotes",
        '"double" quotes',
        "line1\nline2",
        "-rf",
        "",
        "a  b\ttab",
        "back\\slash",
        "*",
        "it's",
      ]
      const result = await withSsh((ssh) =>
        ssh.exec({ target: address(entry) }, ["pct", "exec", "200", "--", "printf", "[%s]\\n", ...hostile]),
      )
      expect(entry.calls()).toEqual([["pct", "exec", "200", "--", "printf", "[%s]\\n", ...hostile]])
      expect(result.stdout).toBe(hostile.map((arg) => `[${arg}]\n`).join(""))
      expect(fs.existsSync(marker)).toBe(false)
    })

    it("returns the exit code and stderr; pct fails for an unknown container", async () => {
      const exit7 = await withSsh((ssh) =>
        ssh.exec({ target: address(entry) }, ["sh", "-c", "echo oops >&2; exit 7"]),
      )
      expect(exit7).toMatchObject({ exitCode: 7, stderr: "oops\n", truncated: false })
      const unknown = await withSsh((ssh) =>
        ssh.exec({ target: address(entry) }, ["pct", "exec", "999", "--", "true"]),
      )
      expect(unknown.exitCode).toBe(2)
      expect(unknown.stderr).toContain("999.conf' does not exist")
    })

    it("caps output per stream and says it was truncated", async () => {
      const result = await withSsh((ssh) =>
        ssh.exec(
          { target: address(entry) },
          ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x; echo done >&2"],
          {
            maxOutputBytes: 1024,
          },
        ),
      )
      expect(result.stdout).toBe("x".repeat(1024))
      expect(result).toMatchObject({ truncated: true, stdoutBytes: 300000, stderr: "done\n", exitCode: 0 })
    })

    /** A command that never ends by itself; it writes its pid, then ticks until its output breaks. */
    const ticking = (pidFile: string) => [
      "sh",
      "-c",
      `echo $$ > ${pidFile}; while :; do echo tick; sleep 0.1; done`,
    ]
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }

    it("stops a command that hangs at the timeout (TestClock) and closes its channel", async () => {
      const pidFile = path.join(dir, "timeout.pid")
      const outcome = await withSsh((ssh) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.fork(
            ssh.exec({ target: address(entry) }, ticking(pidFile), { timeoutMs: 30_000 }),
          )
          yield* Effect.promise(() =>
            eventually(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n")),
          )
          expect(yield* ssh.openChannels).toBe(1)
          yield* TestClock.adjust("30 seconds")
          const exit = yield* Fiber.await(fiber)
          return { exit, channels: yield* ssh.openChannels }
        }).pipe(Effect.provide(TestContext.TestContext)),
      )
      expect(Exit.isFailure(outcome.exit)).toBe(true)
      const error = Exit.isFailure(outcome.exit) ? outcome.exit.cause : undefined
      expect(JSON.stringify(error)).toContain('"code":"TIMEOUT"')
      expect(JSON.stringify(error)).toContain('"stage":"command"')
      expect(outcome.channels).toBe(0)
      // The remote side saw its channel close: the command died writing to it.
      const pid = Number(fs.readFileSync(pidFile, "utf8"))
      await eventually(() => !alive(pid))
    })

    it("closes the channel when the call is interrupted (a cancelled MCP call)", async () => {
      const pidFile = path.join(dir, "cancel.pid")
      const channels = await withSsh((ssh) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.fork(ssh.exec({ target: address(entry) }, ticking(pidFile)))
          yield* Effect.promise(() =>
            eventually(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n")),
          )
          yield* Fiber.interrupt(fiber)
          return yield* ssh.openChannels
        }),
      )
      expect(channels).toBe(0)
      const pid = Number(fs.readFileSync(pidFile, "utf8"))
      await eventually(() => !alive(pid))
    })

    it("a connection that drops while a command runs is CONNECTION_RESET at stage command", async () => {
      const pidFile = path.join(dir, "dropped.pid")
      const result = await withSsh((ssh) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.fork(ssh.exec({ target: address(entry) }, ticking(pidFile)))
          yield* Effect.promise(() =>
            eventually(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n")),
          )
          // The session's sshd process is the shell's parent: killing it drops the connection.
          const pid = Number(fs.readFileSync(pidFile, "utf8"))
          const parent = Number(fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[1])
          process.kill(parent, "SIGKILL")
          return yield* Effect.either(Fiber.join(fiber))
        }),
      )
      expect(Either.isLeft(result) && result.left).toMatchObject({
        code: "CONNECTION_RESET",
        stage: "command",
      })
    })

    it("closes pooled connections when the layer is released", async () => {
      const closed = () => (entry.log().match(/Disconnected from user|Connection closed by/g) ?? []).length
      const before = closed()
      await withSsh((ssh) => ssh.exec({ target: address(entry) }, ["true"]))
      await eventually(() => closed() > before)
    })

    it("a host that accepts TCP but never speaks SSH is TIMEOUT at stage connect (PROXMOX_SSH_CONNECT_TIMEOUT_MS)", async () => {
      const silent = net.createServer(() => {})
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
      const port = (silent.address() as net.AddressInfo).port
      try {
        const result = await withSsh(
          (ssh) => Effect.either(ssh.exec({ target: { host: "127.0.0.1", port, user } }, ["true"])),
          {
            connectTimeoutMs: 300,
          },
        )
        expect(Either.isLeft(result) && result.left).toMatchObject({ code: "TIMEOUT", stage: "connect" })
      } finally {
        silent.close()
      }
    })

    it("reuses one pooled connection for several commands", async () => {
      const before = (entry.log().match(/Accepted publickey/g) ?? []).length
      await withSsh((ssh) =>
        Effect.all([
          ssh.exec({ target: address(entry) }, ["true"]),
          ssh.exec({ target: address(entry) }, ["true"]),
        ]),
      )
      await withSsh((ssh) =>
        Effect.zip(
          ssh.exec({ target: address(entry) }, ["true"]),
          ssh.exec({ target: address(entry) }, ["true"]),
        ),
      )
      const after = (entry.log().match(/Accepted publickey/g) ?? []).length
      expect(after - before).toBe(2)
    })
  })

  describe("routes", () => {
    /** The network of the hop tests: the second host answers only through the entry host. */
    const onlyViaEntry: SshLayerOptions = {
      openSocket: (target) =>
        target.port === second.port
          ? Effect.fail(
              new SshError({
                code: "CONNECTION_REFUSED",
                host: `127.0.0.1:${target.port}`,
                stage: "connect",
                message: "refused (test network: reachable only from the entry host)",
              }),
            )
          : Effect.promise(
              () =>
                new Promise<net.Socket>((resolve) => {
                  const socket = net.connect(target.port, target.host, () => resolve(socket))
                }),
            ),
    }

    it("hop reaches the second sshd through the first with a direct-tcpip channel", async () => {
      second.clearCalls()
      entry.clearCalls()
      const result = await withSsh(
        (ssh) => ssh.exec({ target: address(second), via: address(entry) }, ["hostname"]),
        {},
        onlyViaEntry,
      )
      expect(result.stdout).toBe("pve2\n")
      expect(second.calls()).toEqual([["hostname"]])
      // Nothing ran on the entry host: the hop is a forwarded connection, not a command there.
      expect(entry.calls()).toEqual([])
    })

    it("the hop target's host key is verified too", async () => {
      const file = path.join(dir, "entry-only")
      fs.writeFileSync(file, entry.knownHostsLine)
      const result = await withSsh(
        (ssh) => Effect.either(ssh.exec({ target: address(second), via: address(entry) }, ["true"])),
        { knownHostsPath: file },
      )
      expect(Either.isLeft(result) && result.left.code).toBe("SSH_HOST_KEY_REJECTED")
      expect(Either.isLeft(result) && result.left.host).toContain(String(second.port))
    })
  })
})

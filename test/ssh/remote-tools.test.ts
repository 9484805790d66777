/**
 * The remote tools end to end: the tool pipeline (decode, policy, audit) against the simulated
 * cluster for guest and node look-ups, and real sshd servers for the commands. Node pve1 is the
 * entry host (ctid 200 lives there), pve2 a second sshd (ctid 210). Routing strategies, the
 * /cluster/status address, injection attempts, the output cap, cancellation and the audit.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { layerMemory, MemoryAuditRecords } from "../../src/audit/memory.js"
import { SSH_DISABLED, type SshAddress, type SshSettings } from "../../src/config/ssh.js"
import { SshError } from "../../src/domain/errors.js"
import { Redactor } from "../../src/domain/redact.js"
import { toolLayer } from "../../src/layers.js"
import { proxmoxTransportLayer } from "../../src/proxmox/transport.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import type { SshLayerOptions } from "../../src/ssh/ssh.js"
import type { Envelope } from "../../src/tools/envelope.js"
import {
  callTool,
  configFor,
  errorOf,
  eventually,
  okData,
  startTestCluster,
  TEST_POLICY,
} from "../support/cluster.js"
import { makeUserKey, type Sshd, sshdAvailable, startSshd } from "../support/sshd.js"

const user = os.userInfo().username

describe.skipIf(!sshdAvailable)("remote tools against real sshd servers", () => {
  let sim: RunningSimulator
  let dir: string
  let key: { path: string; publicKey: string }
  let pve1: Sshd
  let pve2: Sshd
  let knownHosts: string

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "proxmox-mcp-remote-test-"))
    key = makeUserKey(dir)
    ;[sim, pve1, pve2] = await Promise.all([
      startTestCluster(),
      startSshd({ node: "pve1", containers: [200], authorizedKey: key.publicKey }),
      startSshd({ node: "pve2", containers: [210], authorizedKey: key.publicKey }),
    ])
    knownHosts = path.join(dir, "known_hosts")
    // pve2 is also known under the IP /cluster/status gives it (reached on port 22).
    fs.writeFileSync(
      knownHosts,
      `${pve1.knownHostsLine}${pve2.knownHostsLine}192.168.100.12 ${pve2.hostKey}\n`,
    )
  })
  afterAll(async () => {
    await Promise.all([sim?.close(), pve1?.stop(), pve2?.stop()])
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  const address = (sshd: Sshd): SshAddress => ({ host: "127.0.0.1", port: sshd.port, user })
  const settings = (overrides: Partial<SshSettings> = {}): SshSettings => ({
    ...SSH_DISABLED,
    strategy: "direct",
    entry: address(pve1),
    keyPath: key.path,
    knownHostsPath: knownHosts,
    nodeName: "pve1",
    nodes: new Map([["pve2", address(pve2)]]),
    ...overrides,
  })

  const makeRuntime = (ssh: SshSettings, options: SshLayerOptions) => {
    const config = configFor(sim)
    return ManagedRuntime.make(
      toolLayer(
        config,
        { ...TEST_POLICY, sshConfigured: true },
        { resourcesTtl: "2 seconds" },
        ssh,
        options,
      ).pipe(
        Layer.provideMerge(layerMemory()),
        Layer.provideMerge(Redactor.default),
        Layer.provide(proxmoxTransportLayer(config)),
        Layer.orDie,
      ),
    )
  }
  type Runtime = ReturnType<typeof makeRuntime>

  /** A tool runtime over the simulator with these SSH settings; disposed after `use`. */
  const withRuntime = async <A>(
    overrides: Partial<SshSettings> | ((base: SshSettings) => SshSettings),
    use: (
      call: (name: string, args?: Record<string, unknown>) => Promise<Envelope>,
      runtime: Runtime,
    ) => Promise<A>,
    options: SshLayerOptions = {},
  ): Promise<A> => {
    const runtime = makeRuntime(
      typeof overrides === "function" ? overrides(settings()) : settings(overrides),
      options,
    )
    try {
      return await use((name, args = {}) => callTool(runtime, name, args).run(), runtime)
    } finally {
      await runtime.dispose()
    }
  }

  /** What `pct` received (the stand-ins it starts record themselves too). */
  const pctCalls = (sshd: Sshd) => sshd.calls().filter((call) => call[0] === "pct")

  const clear = () => {
    pve1.clearCalls()
    pve2.clearCalls()
  }

  /** The test network: pve2 answers only through the entry host (and 192.168.100.12:22 is pve2). */
  const network = (options: { readonly pve2Direct: boolean }): SshLayerOptions => ({
    openSocket: (target) => {
      const port = target.host === "192.168.100.12" && target.port === 22 ? pve2.port : target.port
      if (port === pve2.port && !options.pve2Direct)
        return Effect.fail(
          new SshError({
            code: "CONNECTION_REFUSED",
            host: target.host,
            stage: "connect",
            message: "refused",
          }),
        )
      return Effect.promise(
        () =>
          new Promise<net.Socket>((resolve) => {
            const socket = net.connect(port, "127.0.0.1", () => resolve(socket))
          }),
      )
    },
  })

  describe("container tools", () => {
    it("pve_exec_in_container delivers the command as one argument of bash -lc, on the container's node", async () => {
      clear()
      const command = `echo "$(echo sub)"; echo 'single'; printf '%s\\n' \`echo tick\`; exit 3`
      const envelope = await withRuntime({}, (call) =>
        call("pve_exec_in_container", { ctid: 200, command, confirm: true }),
      )
      expect(okData(envelope)).toMatchObject({
        ctid: 200,
        node: "pve1",
        exitCode: 3,
        stdout: "sub\nsingle\ntick\n",
        truncated: false,
      })
      expect(pve1.calls()).toEqual([["pct", "exec", "200", "--", "bash", "-lc", command]])
      expect(pve2.calls()).toEqual([])
    })

    it("needs confirmation (nothing runs without it)", async () => {
      clear()
      const envelope = await withRuntime({}, (call) =>
        call("pve_exec_in_container", { ctid: 200, command: "true" }),
      )
      expect(errorOf(envelope).code).toBe("CONFIRMATION_REQUIRED")
      expect(pve1.calls()).toEqual([])
    })

    it("runs a container on another node there (ctid 210 on pve2)", async () => {
      clear()
      const envelope = await withRuntime({}, (call) => call("pve_docker_ps_in_container", { ctid: 210 }))
      expect(okData(envelope)).toMatchObject({ node: "pve2", exitCode: 0 })
      expect(String((okData(envelope) as { stdout: string }).stdout)).toContain("nginx")
      expect(pctCalls(pve2)).toEqual([["pct", "exec", "210", "--", "docker", "ps"]])
      expect(pve1.calls()).toEqual([])
    })

    it("pve_run_remote_diagnostic runs each allow-listed command as fixed argv and refuses anything else", async () => {
      clear()
      await withRuntime({}, async (call) => {
        const docker = await call("pve_run_remote_diagnostic", {
          ctid: 200,
          command: "docker ps --format '{{.Names}} {{.Status}}'",
        })
        expect(okData(docker)).toMatchObject({ stdout: "web Up 2 hours\ndb Up 3 days\n", exitCode: 0 })
        for (const command of ["uname -a", "uptime", "df -h", "free -m"])
          expect(okData(await call("pve_run_remote_diagnostic", { ctid: 200, command }))).toMatchObject({
            exitCode: 0,
          })
        expect(pctCalls(pve1)[0]).toEqual([
          "pct",
          "exec",
          "200",
          "--",
          "docker",
          "ps",
          "--format",
          "{{.Names}} {{.Status}}",
        ])
        expect(
          pctCalls(pve1)
            .slice(1)
            .map((c) => c.slice(4).join(" ")),
        ).toEqual(["uname -a", "uptime", "df -h", "free -m"])
        clear()
        for (const command of [
          "uname -a; id",
          "uname  -a",
          "uptime && id",
          "$(id)",
          "`id`",
          "uptime\nid",
          " uptime",
        ]) {
          const refused = errorOf(await call("pve_run_remote_diagnostic", { ctid: 200, command }))
          expect(refused.code).toBe("DIAGNOSTIC_COMMAND_NOT_ALLOWED")
        }
        expect(pve1.calls()).toEqual([])
      })
    })

    it("docker logs validates the container name (INVALID_CONTAINER_NAME) and passes tail as a number", async () => {
      clear()
      await withRuntime({}, async (call) => {
        const logs = await call("pve_docker_logs_in_container", { ctid: 200, containerName: "web", tail: 3 })
        expect(okData(logs)).toMatchObject({ stdout: "web log line 1\nweb log line 2\nweb log line 3\n" })
        expect(pctCalls(pve1)).toEqual([["pct", "exec", "200", "--", "docker", "logs", "--tail", "3", "web"]])
        clear()
        for (const containerName of [
          "web; rm -rf /",
          "$(id)",
          "`id`",
          "-f",
          "--help",
          "a'b",
          'a"b',
          "x\ny",
          "",
          "a b",
        ]) {
          const refused = errorOf(await call("pve_docker_logs_in_container", { ctid: 200, containerName }))
          expect(refused.code, containerName).toBe("INVALID_CONTAINER_NAME")
        }
        expect(
          errorOf(
            await call("pve_docker_logs_in_container", { ctid: 200, containerName: "web", tail: "3; id" }),
          ).code,
        ).toBe("INVALID_INPUT")
        expect(pve1.calls()).toEqual([])
      })
    })

    it("a ctid is validated as a vmid: injection attempts are INVALID_INPUT and reach no host", async () => {
      clear()
      await withRuntime({}, async (call) => {
        for (const ctid of ["200; id", "200 $(id)", "`id`", "-200", "200'", "2e2", 99, "abc"]) {
          const refused = errorOf(await call("pve_docker_ps_in_container", { ctid }))
          expect(refused.code, String(ctid)).toBe("INVALID_INPUT")
        }
        expect(errorOf(await call("pve_docker_ps_in_container", { ctid: 999 })).code).toBe("GUEST_NOT_FOUND")
      })
      expect(pve1.calls()).toEqual([])
      expect(pve2.calls()).toEqual([])
    })

    it("output over the cap is cut and says so", async () => {
      const envelope = await withRuntime({ maxOutputBytes: 4096 }, (call) =>
        call("pve_exec_in_container", {
          ctid: 200,
          command: "head -c 100000 /dev/zero | tr '\\0' y",
          confirm: true,
        }),
      )
      const data = okData(envelope) as { stdout: string; truncated: boolean; exitCode: number }
      expect(data.stdout).toBe("y".repeat(4096))
      expect(data.truncated).toBe(true)
      expect(data.exitCode).toBe(0)
    })

    it("cancelling the call closes the channel; the audit records the command as cancelled, without output", async () => {
      const pidFile = path.join(dir, "cancel.pid")
      await withRuntime({}, async (_call, runtime) => {
        const { program } = callTool(runtime, "pve_exec_in_container", {
          ctid: 200,
          command: `echo $$ > ${pidFile}; while :; do echo secret-output; sleep 0.1; done`,
          confirm: true,
        })
        const fiber = runtime.runFork(program)
        await eventually(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n"))
        await runtime.runPromise(Fiber.interrupt(fiber))
        const pid = Number(fs.readFileSync(pidFile, "utf8"))
        await eventually(() => {
          try {
            process.kill(pid, 0)
            return false
          } catch {
            return true
          }
        })
        const records = runtime.runSync(Effect.map(MemoryAuditRecords, (m) => m.records()))
        const completed = records.find(
          (r) => r.event === "tool.completed" && r.tool === "pve_exec_in_container",
        )
        expect(completed?.outcome).toEqual({ ok: false, code: "CANCELLED" })
        const ssh = completed?.upstream?.find((u) => u.method === "SSH")
        expect(ssh).toMatchObject({
          node: "pve1",
          status: -1,
          argv: ["pct", "exec", "200", "--", "bash", "-lc", expect.any(String)],
        })
        expect(ssh?.host).toContain(String(pve1.port))
        expect(JSON.stringify(records)).not.toContain("secret-output\n")
      })
    })
  })

  describe("host diagnostics", () => {
    it("each returns parsed fields and the raw text; node selects the host", async () => {
      clear()
      await withRuntime({}, async (call) => {
        const versions = okData(await call("pve_get_host_versions")) as Record<string, unknown>
        expect(versions).toMatchObject({
          node: "pve1",
          pveManager: "8.2.2",
          proxmoxVe: "8.2.0",
          runningKernel: "6.8.4-2-pve",
        })
        expect((versions.packages as Record<string, string>)["qemu-server"]).toBe("8.2.1")
        expect(versions.raw).toContain("pve-manager")

        const quorum = okData(await call("pve_get_cluster_quorum", { node: "pve2" })) as Record<
          string,
          unknown
        >
        expect(quorum).toMatchObject({
          node: "pve2",
          clusterName: "lab",
          quorate: true,
          expectedVotes: 3,
          totalVotes: 3,
          quorum: 2,
          nodes: 3,
        })
        expect(quorum.members).toHaveLength(3)
        expect(pve2.calls()).toEqual([["pvecm", "status"]])

        const services = okData(await call("pve_get_pve_services")) as {
          services: Array<Record<string, unknown>>
          allRunning: boolean
        }
        expect(services.services).toHaveLength(10)
        expect(services.services.find((s) => s.unit === "pveproxy.service")).toMatchObject({
          running: true,
          enabled: "enabled",
        })
        expect(services.allRunning).toBe(false)

        const journal = okData(await call("pve_get_host_journal", { unit: "pveproxy", lines: 5 })) as {
          entries: Array<unknown>
        }
        expect(journal.entries).toHaveLength(5)
        expect(errorOf(await call("pve_get_host_journal", { unit: "sshd; id" })).code).toBe("INVALID_INPUT")

        const zfs = okData(await call("pve_get_zfs_pool_status")) as {
          pools: Array<Record<string, unknown>>
          healthy: boolean
        }
        expect(zfs.healthy).toBe(true)
        expect(zfs.pools[0]).toMatchObject({ name: "rpool", state: "ONLINE", errors: "No known data errors" })
        expect(zfs.pools[0]?.devices).toHaveLength(4)

        // Real df on this machine: at least the root filesystem.
        const disks = okData(await call("pve_get_host_disk_usage")) as {
          filesystems: Array<{ mountpoint: string; sizeKiB: number }>
        }
        expect(disks.filesystems.some((f) => f.sizeKiB > 0)).toBe(true)

        const batch = okData(await call("pve_ssh_batch_diagnostics")) as {
          checks: Array<{ name: string; ok: boolean; output: string }>
        }
        expect(batch.checks.map((c) => c.name)).toEqual([
          "login",
          "sshPermissions",
          "loginShell",
          "sshdConfig",
        ])
        expect(batch.checks[0]).toMatchObject({ ok: true, output: "batch-ok" })

        expect(errorOf(await call("pve_get_host_versions", { node: "pve9" })).code).toBe("UNKNOWN_NODE")
      })
    })

    it("a host command that exits non-zero is REMOTE_COMMAND_FAILED with its stderr", async () => {
      // The journalctl stand-in fails for spiceproxy, as journalctl does for a unit it cannot match.
      const envelope = await withRuntime({}, (call) => call("pve_get_host_journal", { unit: "spiceproxy" }))
      const error = errorOf(envelope)
      expect(error.code).toBe("REMOTE_COMMAND_FAILED")
      expect(error.message).toContain("stand-in failure")
      expect(error.details).toMatchObject({ node: "pve1", exitCode: 1 })
    })
  })

  describe("routing", () => {
    it("direct: a node that cannot be reached is CONNECTION_REFUSED", async () => {
      const envelope = await withRuntime(
        { strategy: "direct" },
        (call) => call("pve_get_host_versions", { node: "pve2" }),
        network({ pve2Direct: false }),
      )
      expect(errorOf(envelope).code).toBe("CONNECTION_REFUSED")
    })

    it("hop: reaches pve2 through the entry host, which runs nothing", async () => {
      clear()
      const envelope = await withRuntime(
        { strategy: "hop" },
        (call) => call("pve_get_host_versions", { node: "pve2" }),
        network({ pve2Direct: false }),
      )
      expect(okData(envelope)).toMatchObject({ node: "pve2" })
      expect(pve2.calls()).toEqual([["pveversion", "-v"]])
      expect(pve1.calls()).toEqual([])
    })

    it("auto: falls back to the hop when the node is unreachable", async () => {
      clear()
      const envelope = await withRuntime(
        { strategy: "auto" },
        (call) => call("pve_get_host_versions", { node: "pve2" }),
        network({ pve2Direct: false }),
      )
      expect(okData(envelope)).toMatchObject({ node: "pve2" })
      expect(pve2.calls()).toEqual([["pveversion", "-v"]])
    })

    it("auto: no fallback after a host-key refusal (the entry host is never contacted)", async () => {
      const onlyEntry = path.join(dir, "only-entry")
      fs.writeFileSync(onlyEntry, pve1.knownHostsLine)
      const accepted = () => (pve1.log().match(/Accepted publickey/g) ?? []).length
      const before = accepted()
      const envelope = await withRuntime({ strategy: "auto", knownHostsPath: onlyEntry }, (call) =>
        call("pve_get_host_versions", { node: "pve2" }),
      )
      expect(errorOf(envelope).code).toBe("SSH_HOST_KEY_REJECTED")
      expect(accepted()).toBe(before)
    })

    it("auto: no retry once a command ran, even when it failed", async () => {
      clear()
      const envelope = await withRuntime({ strategy: "auto" }, (call) =>
        call("pve_exec_in_container", { ctid: 210, command: "exit 255", confirm: true }),
      )
      expect(okData(envelope)).toMatchObject({ node: "pve2", exitCode: 255 })
      expect(pve2.calls()).toHaveLength(1)
      expect(pve1.calls()).toEqual([])
    })

    it("a node's address comes from /cluster/status when PROXMOX_SSH_NODES does not name it", async () => {
      clear()
      const envelope = await withRuntime(
        { strategy: "direct", nodes: new Map() },
        (call) => call("pve_get_cluster_quorum", { node: "pve2" }),
        network({ pve2Direct: true }),
      )
      // 192.168.100.12:22 (pve2's IP in the simulator) is wired to the second sshd by the test network.
      expect(okData(envelope)).toMatchObject({ node: "pve2", quorate: true })
      expect(pve2.calls()).toEqual([["pvecm", "status"]])
    })

    it("the entry host's node is learned with hostname when PROXMOX_SSH_NODE_NAME is unset", async () => {
      clear()
      const learning = ({ nodeName: _, ...rest }: SshSettings): SshSettings => rest
      await withRuntime(learning, async (call, runtime) => {
        expect(okData(await call("pve_docker_ps_in_container", { ctid: 200 }))).toMatchObject({
          node: "pve1",
        })
        expect(okData(await call("pve_docker_ps_in_container", { ctid: 200 }))).toMatchObject({
          node: "pve1",
        })
        // The look-up is a remote command too, audited with the call that needed it.
        const records = runtime.runSync(Effect.map(MemoryAuditRecords, (m) => m.records()))
        const first = records.find(
          (r) => r.tool === "pve_docker_ps_in_container" && r.event === "tool.completed",
        )
        expect(first?.upstream?.filter((u) => u.method === "SSH").map((u) => u.path)).toEqual([
          "hostname",
          "pct exec 200 -- docker ps",
        ])
      })
      expect(pve1.calls().filter((c) => c[0] !== "docker")).toEqual([
        ["hostname"],
        ["pct", "exec", "200", "--", "docker", "ps"],
        ["pct", "exec", "200", "--", "docker", "ps"],
      ])
    })

    it("disabled: SSH_DISABLED, and no SSH connection is made", async () => {
      const accepted = () => (pve1.log().match(/Accepted publickey/g) ?? []).length
      const before = accepted()
      const envelope = await withRuntime({ strategy: "disabled" }, (call) =>
        call("pve_exec_in_container", { ctid: 200, command: "true", confirm: true }),
      )
      expect(errorOf(envelope).code).toBe("SSH_DISABLED")
      expect(accepted()).toBe(before)
    })
  })
})

/**
 * Remote tools (category `remote`): what Proxmox's API cannot do, over SSH (`src/ssh`).
 *
 * Every command is an argv of fixed words and validated values, quoted once by the SSH layer;
 * nothing from the input becomes shell syntax on the node. The only free-form text is
 * `pve_exec_in_container`'s `command`, which by design is a shell command for the container:
 * it travels as ONE argument of `pct exec <ctid> -- bash -lc <command>`, so the node's shell
 * never interprets it (tier full, module advanced, confirmation required).
 *
 * The curated host diagnostics take no command at all and return parsed fields plus the raw text.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DiagnosticNotAllowed, InvalidContainerName, RemoteCommandFailed } from "../domain/errors.js"
import { IntegerInput, NodeName, VMID_MAX, VMID_MIN } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { NodeRegistry } from "../proxmox/registry.js"
import { CONTAINER_NAME_PATTERN, commandLine, pctExec } from "../ssh/command.js"
import { Remote, type RemoteResult } from "../ssh/remote.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

const ctidField = IntegerInput({ minimum: VMID_MIN, maximum: VMID_MAX, description: "Container id (CTID)" })
const optionalHostNode = Schema.optional(
  NodeName.annotations({ description: "Node to inspect (default: the SSH entry host's node)" }),
)

/** NANDI's allow-list, exactly (SPEC 12), each with the argv it runs. */
export const DIAGNOSTICS: ReadonlyMap<string, ReadonlyArray<string>> = new Map([
  ["uname -a", ["uname", "-a"]],
  ["uptime", ["uptime"]],
  ["df -h", ["df", "-h"]],
  ["free -m", ["free", "-m"]],
  ["docker ps --format '{{.Names}} {{.Status}}'", ["docker", "ps", "--format", "{{.Names}} {{.Status}}"]],
])

const allowListed = (command: string): Effect.Effect<ReadonlyArray<string>, DiagnosticNotAllowed> => {
  const argv = DIAGNOSTICS.get(command)
  return argv === undefined
    ? Effect.fail(new DiagnosticNotAllowed({ allowed: [...DIAGNOSTICS.keys()] }))
    : Effect.succeed(argv)
}

/** A Docker name or id; anything else (a leading `-`, spaces, shell syntax) is refused. */
const containerName = (name: string): Effect.Effect<string, InvalidContainerName> =>
  CONTAINER_NAME_PATTERN.test(name)
    ? Effect.succeed(name)
    : Effect.fail(new InvalidContainerName({ containerName: name }))

/** The output of a command in a container: exit status and (capped) output, never an error for a non-zero exit. */
const commandOutput = (ctid: number, result: RemoteResult) => ({
  ctid,
  node: result.node,
  exitCode: result.exitCode,
  ...(result.signal === undefined ? {} : { signal: result.signal }),
  stdout: result.stdout,
  stderr: result.stderr,
  truncated: result.truncated,
})

/** Runs argv inside container `ctid` on the node that owns it. */
const inContainer = (ctid: number, argv: ReadonlyArray<string>, options?: { readonly timeoutMs?: number }) =>
  Effect.gen(function* () {
    const registry = yield* NodeRegistry
    const remote = yield* Remote
    yield* remote.enabled
    const guest = yield* registry.locateGuest(ctid, "lxc")
    const result = yield* remote.run(guest.node, pctExec(ctid, argv), options)
    return { data: commandOutput(ctid, result), node: result.node }
  })

/** Runs a fixed host command on `node` (checked to exist) or the entry host; non-zero exit fails. */
const onHost = (node: string | undefined, argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const remote = yield* Remote
    yield* remote.enabled
    if (node !== undefined) yield* Effect.flatMap(NodeRegistry, (registry) => registry.requireNode(node))
    const result = yield* remote.run(node, argv)
    if (result.exitCode !== 0)
      return yield* new RemoteCommandFailed({
        command: commandLine(argv),
        node: result.node,
        exitCode: result.exitCode,
        stderr: result.stderr,
      })
    return result
  })

/**
 * The API reads behind a remote command (declared for `tools --json`, the docs and the privilege
 * table): the container's node from /cluster/resources, a node checked in /nodes, and a node's
 * address from /cluster/status when PROXMOX_SSH_NODES does not give it.
 */
const containerLookups = [Endpoint.get("/cluster/resources"), Endpoint.get("/cluster/status")]
const hostLookups = [Endpoint.get("/nodes"), Endpoint.get("/cluster/status")]

const containerTargets = (input: { readonly ctid: number }) => [
  TargetRef.Guest({ vmid: input.ctid, type: "lxc" }),
]
const hostTargets = (input: { readonly node?: string | undefined }) =>
  input.node === undefined ? [TargetRef.Cluster()] : [TargetRef.Node({ node: input.node })]

/** What a host diagnostic answers: the node that ran the command, the parsed fields, the raw text. */
const hostAnswer = <Parsed extends object>(result: RemoteResult, parsed: Parsed) => ({
  data: { node: result.node, ...parsed, raw: result.stdout },
  node: result.node,
})

/**
 * A curated host diagnostic: a read-only tool that runs one fixed command on `node` (default: the
 * entry host) and answers `{node, ...parse(stdout), raw}`. Its documented command is the argv.
 */
const hostCommandTool = <const Name extends string, Parsed extends object>(spec: {
  readonly name: Name
  readonly title: string
  readonly description: string
  readonly argv: ReadonlyArray<string>
  readonly parse: (stdout: string) => Parsed
}) =>
  Tool.make({
    name: spec.name,
    title: spec.title,
    description: spec.description,
    category: "remote",
    tier: "read-only",
    ssh: { command: commandLine(spec.argv) },
    endpoints: hostLookups,
    input: { node: optionalHostNode },
    targets: hostTargets,
    run: (input) =>
      Effect.map(onHost(input.node, spec.argv), (result) => hostAnswer(result, spec.parse(result.stdout))),
  })

// ---------------------------------------------------------------------------------------------
// Parsers (exported for tests): each takes the command's text and never throws.

const lines = (text: string) => text.split("\n").filter((line) => line.trim() !== "")

/** `pveversion -v`: `package: version (extra)` per line. */
export const parsePveVersion = (text: string) => {
  const packages: Record<string, string> = {}
  let runningKernel: string | undefined
  for (const line of lines(text)) {
    const match = /^([A-Za-z0-9][\w.+-]*):\s*(.*)$/.exec(line.trim())
    if (match === null) continue
    const [, name = "", rest = ""] = match
    packages[name] = rest.replace(/\s*\(.*\)$/, "")
    const kernel = /running kernel:\s*([^)\s]+)/.exec(rest)
    if (kernel?.[1] !== undefined) runningKernel = kernel[1]
  }
  return {
    ...(packages["pve-manager"] === undefined ? {} : { pveManager: packages["pve-manager"] }),
    ...(packages["proxmox-ve"] === undefined ? {} : { proxmoxVe: packages["proxmox-ve"] }),
    ...(runningKernel === undefined ? {} : { runningKernel }),
    packages,
  }
}

/** `pvecm status`: the votequorum fields and the membership list. */
export const parsePvecmStatus = (text: string) => {
  const fields: Record<string, string> = {}
  const members: Array<{ nodeid: string; votes: number; address: string; local: boolean }> = []
  for (const line of lines(text)) {
    const member = /^\s*(0x[0-9a-fA-F]+)\s+(\d+)\s+(\S+)(\s+\(local\))?/.exec(line)
    if (member !== null) {
      members.push({
        nodeid: member[1] ?? "",
        votes: Number(member[2]),
        address: member[3] ?? "",
        local: member[4] !== undefined,
      })
      continue
    }
    const field = /^([A-Za-z][A-Za-z ]*?):\s+(.+)$/.exec(line.trim())
    if (field !== null) fields[(field[1] ?? "").toLowerCase()] = (field[2] ?? "").trim()
  }
  const int = (key: string) => {
    const value = Number.parseInt(fields[key] ?? "", 10)
    return Number.isNaN(value) ? undefined : value
  }
  const quorum = int("quorum")
  return {
    ...(fields.name === undefined ? {} : { clusterName: fields.name }),
    ...(fields.quorate === undefined ? {} : { quorate: fields.quorate.toLowerCase() === "yes" }),
    ...(int("nodes") === undefined ? {} : { nodes: int("nodes") }),
    ...(int("expected votes") === undefined ? {} : { expectedVotes: int("expected votes") }),
    ...(int("total votes") === undefined ? {} : { totalVotes: int("total votes") }),
    ...(quorum === undefined ? {} : { quorum }),
    members,
  }
}

/** `systemctl show -p ...`: one `key=value` block per unit, blocks separated by a blank line. */
export const parseSystemctlShow = (text: string) =>
  text
    .split(/\n\s*\n/)
    .map((block) =>
      Object.fromEntries(
        lines(block).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
      ),
    )
    .filter((unit) => typeof unit.Id === "string")
    .map((unit) => ({
      unit: String(unit.Id),
      loaded: unit.LoadState === "loaded",
      activeState: String(unit.ActiveState ?? "unknown"),
      subState: String(unit.SubState ?? "unknown"),
      enabled: String(unit.UnitFileState ?? "unknown"),
      running: unit.ActiveState === "active",
    }))

/** `journalctl -o short-iso`: `time host ident[pid]: message`. */
export const parseJournal = (text: string) =>
  lines(text)
    .filter((line) => !line.startsWith("-- "))
    .map((line) => {
      const match = /^(\S+)\s+(\S+)\s+(.*)$/.exec(line)
      return match === null
        ? { message: line }
        : { time: match[1] ?? "", host: match[2] ?? "", message: match[3] ?? "" }
    })

/** `zpool status`: per pool its state, scan and errors lines, and the devices with their states. */
export const parseZpoolStatus = (text: string) => {
  const pools: Array<{
    name: string
    state?: string
    status?: string
    scan?: string
    errors?: string
    devices: Array<{ name: string; state: string; read: string; write: string; cksum: string }>
  }> = []
  let current: (typeof pools)[number] | undefined
  let inConfig = false
  let lastKey: "status" | "scan" | undefined
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd()
    const key = /^\s*(pool|state|status|action|see|scan|config|errors):\s?(.*)$/.exec(line)
    if (key !== null) {
      const [, name = "", value = ""] = key
      lastKey = undefined
      inConfig = name === "config"
      if (name === "pool") {
        current = { name: value.trim(), devices: [] }
        pools.push(current)
      } else if (current !== undefined) {
        if (name === "state") current.state = value.trim()
        if (name === "errors") current.errors = value.trim()
        if (name === "status" || name === "scan") {
          current[name] = value.trim()
          lastKey = name
        }
      }
      continue
    }
    if (current === undefined) continue
    if (inConfig) {
      const device = /^\s+(\S+)\s+([A-Z]+)\s+(\S+)\s+(\S+)\s+(\S+)/.exec(line)
      if (device !== null && device[1] !== "NAME")
        current.devices.push({
          name: device[1] ?? "",
          state: device[2] ?? "",
          read: device[3] ?? "",
          write: device[4] ?? "",
          cksum: device[5] ?? "",
        })
    } else if (lastKey !== undefined && /^\s+\S/.test(line)) {
      current[lastKey] = `${current[lastKey] ?? ""} ${line.trim()}`.trim()
    }
  }
  return { pools, healthy: pools.every((pool) => pool.state === "ONLINE") }
}

/** `df -P -T -k`: one row per filesystem, sizes in KiB. */
export const parseDf = (text: string) =>
  lines(text)
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 7)
    .map((cols) => ({
      filesystem: cols[0] ?? "",
      type: cols[1] ?? "",
      sizeKiB: Number(cols[2]),
      usedKiB: Number(cols[3]),
      availableKiB: Number(cols[4]),
      usePercent: Number.parseInt(cols[5] ?? "", 10),
      mountpoint: cols.slice(6).join(" "),
    }))

// ---------------------------------------------------------------------------------------------
// Declarations

/** The daemons of a PVE node whose state pve_get_pve_services reports. */
export const PVE_UNITS = [
  "pve-cluster",
  "pvedaemon",
  "pveproxy",
  "pvestatd",
  "pvescheduler",
  "pve-firewall",
  "pve-ha-lrm",
  "pve-ha-crm",
  "corosync",
  "spiceproxy",
] as const

const SERVICE_ARGV = [
  "systemctl",
  "show",
  "--property=Id,LoadState,ActiveState,SubState,UnitFileState",
  ...PVE_UNITS.map((unit) => `${unit}.service`),
]

const BATCH_CHECKS = (user: string | undefined) =>
  [
    { name: "login", argv: ["echo", "batch-ok"] },
    // Relative paths: a command starts in the login user's home directory.
    { name: "sshPermissions", argv: ["stat", "-c", "%a %n", ".ssh", ".ssh/authorized_keys"] },
    { name: "loginShell", argv: ["getent", "passwd", user ?? "root"] },
    { name: "sshdConfig", argv: ["sshd", "-T"] },
  ] as const

/** sshd -T keys worth reporting (the rest is noise for this check). */
const SSHD_KEYS = new Set([
  "permitrootlogin",
  "passwordauthentication",
  "pubkeyauthentication",
  "kbdinteractiveauthentication",
  "maxsessions",
  "maxstartups",
  "allowtcpforwarding",
  "clientaliveinterval",
  "authorizedkeysfile",
])

export const remoteTools = [
  Tool.make({
    name: "pve_run_remote_diagnostic",
    title: "Run an allow-listed diagnostic in a container",
    description: `Runs one fixed diagnostic inside an LXC container (pct exec on the container's node over SSH) and returns its exit code and output. command must be exactly one of: ${[...DIAGNOSTICS.keys()].join(" | ")}.`,
    category: "remote",
    tier: "read-execute",
    destructive: false,
    idempotent: true,
    ssh: { command: "pct exec <ctid> -- <allow-listed command>" },
    endpoints: containerLookups,
    input: {
      ctid: ctidField,
      command: Schema.String.annotations({
        description: "One of the allow-listed commands, exactly as written",
      }),
    },
    targets: containerTargets,
    run: (input) => Effect.flatMap(allowListed(input.command), (argv) => inContainer(input.ctid, argv)),
  }),
  Tool.make({
    name: "pve_ssh_batch_diagnostics",
    title: "Check SSH access to the entry host",
    description:
      "Checks the SSH set-up of the entry host (PROXMOX_SSH_HOST): login works, permissions of ~/.ssh and authorized_keys, the login shell, and the relevant sshd settings. Runs nothing in guests.",
    category: "remote",
    tier: "read-only",
    ssh: {
      command: "echo batch-ok; stat -c '%a %n' .ssh .ssh/authorized_keys; getent passwd <user>; sshd -T",
    },
    endpoints: [],
    input: {},
    targets: () => [TargetRef.Cluster()],
    run: () =>
      Effect.gen(function* () {
        const remote = yield* Remote
        yield* remote.enabled
        const checks: Array<Record<string, unknown>> = []
        let node = ""
        for (const check of BATCH_CHECKS(remote.user)) {
          const result = yield* remote.run(undefined, check.argv)
          node = result.node
          const output =
            check.name === "sshdConfig"
              ? lines(result.stdout)
                  .filter((line) => SSHD_KEYS.has(line.split(" ")[0] ?? ""))
                  .join("\n")
              : check.name === "loginShell"
                ? (result.stdout.trim().split(":")[6] ?? "")
                : result.stdout.trim()
          checks.push({
            name: check.name,
            command: commandLine(check.argv),
            ok: result.exitCode === 0,
            exitCode: result.exitCode,
            output,
            ...(result.exitCode === 0 ? {} : { stderr: result.stderr.trim().slice(0, 500) }),
          })
        }
        return { data: { node, ok: checks.every((c) => c.ok === true), checks }, node }
      }),
  }),
  Tool.make({
    name: "pve_exec_in_container",
    title: "Run a shell command in a container",
    description:
      "Runs an arbitrary shell command as root inside an LXC container (pct exec <ctid> -- bash -lc <command> on the container's node over SSH), once, and returns its exit code and output (capped; `truncated` says when). A non-zero exit is a result, not an error.",
    category: "remote",
    tier: "full",
    module: "advanced",
    confirm: true,
    impact:
      "Runs an arbitrary command as root inside the container; it can change or destroy anything in it.",
    ssh: { command: "pct exec <ctid> -- bash -lc <command>" },
    endpoints: containerLookups,
    input: {
      ctid: ctidField,
      command: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(8192)).annotations({
        description: "Shell command run by bash inside the container",
      }),
      timeoutSeconds: Schema.optional(
        IntegerInput({
          minimum: 1,
          maximum: 3600,
          description: "Stop the command after this many seconds (default: the server's)",
        }),
      ),
    },
    targets: containerTargets,
    run: (input) =>
      inContainer(
        input.ctid,
        ["bash", "-lc", input.command],
        input.timeoutSeconds === undefined ? undefined : { timeoutMs: input.timeoutSeconds * 1000 },
      ),
  }),
  Tool.make({
    name: "pve_docker_ps_in_container",
    title: "List Docker containers in a container",
    description: "Runs `docker ps` inside an LXC container (pct exec over SSH) and returns its output.",
    category: "remote",
    tier: "read-execute",
    module: "advanced",
    destructive: false,
    idempotent: true,
    ssh: { command: "pct exec <ctid> -- docker ps" },
    endpoints: containerLookups,
    input: { ctid: ctidField },
    targets: containerTargets,
    run: (input) => inContainer(input.ctid, ["docker", "ps"]),
  }),
  Tool.make({
    name: "pve_docker_logs_in_container",
    title: "Read a Docker container's logs in a container",
    description:
      "Runs `docker logs --tail <tail> <containerName>` inside an LXC container (pct exec over SSH) and returns the output (capped).",
    category: "remote",
    tier: "read-execute",
    module: "advanced",
    destructive: false,
    idempotent: true,
    ssh: { command: "pct exec <ctid> -- docker logs --tail <tail> <containerName>" },
    endpoints: containerLookups,
    input: {
      ctid: ctidField,
      containerName: Schema.String.annotations({
        description: "Docker container name or id (see pve_docker_ps_in_container)",
      }),
      tail: Schema.optional(
        IntegerInput({ minimum: 1, maximum: 10_000, description: "Last lines to show (default 200)" }),
      ),
    },
    targets: containerTargets,
    run: (input) =>
      Effect.flatMap(containerName(input.containerName), (name) =>
        inContainer(input.ctid, ["docker", "logs", "--tail", String(input.tail ?? 200), name]),
      ),
  }),
  hostCommandTool({
    name: "pve_get_host_versions",
    title: "Get a node's package versions",
    description:
      "Runs `pveversion -v` on a node over SSH: pve-manager, proxmox-ve, the running kernel and every PVE package's version, plus the raw text.",
    argv: ["pveversion", "-v"],
    parse: parsePveVersion,
  }),
  hostCommandTool({
    name: "pve_get_cluster_quorum",
    title: "Get corosync quorum",
    description:
      "Runs `pvecm status` on a node over SSH: quorate, expected and total votes, quorum, members with their addresses, plus the raw text.",
    argv: ["pvecm", "status"],
    parse: parsePvecmStatus,
  }),
  hostCommandTool({
    name: "pve_get_pve_services",
    title: "Get the state of the PVE daemons",
    description: `Reads the systemd state of the PVE daemons (${PVE_UNITS.join(", ")}) on a node over SSH: loaded, active/sub state, enabled.`,
    argv: SERVICE_ARGV,
    parse: (stdout) => {
      const services = parseSystemctlShow(stdout)
      return { services, allRunning: services.every((s) => !s.loaded || s.running) }
    },
  }),
  Tool.make({
    name: "pve_get_host_journal",
    title: "Read a PVE daemon's journal",
    description: `The most recent journal lines of one PVE unit on a node (journalctl -u <unit> -n <lines>), over SSH. unit is one of ${PVE_UNITS.join(", ")}.`,
    category: "remote",
    tier: "read-only",
    ssh: { command: "journalctl -u <unit>.service -n <lines> --no-pager -o short-iso" },
    endpoints: hostLookups,
    input: {
      node: optionalHostNode,
      unit: Schema.Literal(...PVE_UNITS).annotations({ description: "The PVE unit" }),
      lines: Schema.optional(
        IntegerInput({ minimum: 1, maximum: 1000, description: "Lines to read (default 100)" }),
      ),
    },
    targets: hostTargets,
    run: (input) =>
      Effect.map(
        onHost(input.node, [
          "journalctl",
          "-u",
          `${input.unit}.service`,
          "-n",
          String(input.lines ?? 100),
          "--no-pager",
          "-o",
          "short-iso",
        ]),
        (result) =>
          hostAnswer(result, {
            unit: input.unit,
            entries: parseJournal(result.stdout),
            truncated: result.truncated,
          }),
      ),
  }),
  hostCommandTool({
    name: "pve_get_zfs_pool_status",
    title: "Get ZFS pool status",
    description:
      "Runs `zpool status` on a node over SSH: per pool its state, scan, errors and device states, whether all are ONLINE, plus the raw text.",
    argv: ["zpool", "status"],
    parse: parseZpoolStatus,
  }),
  hostCommandTool({
    name: "pve_get_host_disk_usage",
    title: "Get a node's disk usage",
    description:
      "Runs `df -P -T -k` on a node over SSH (pseudo filesystems left out): per filesystem its type, size, used and available KiB, use % and mount point, plus the raw text.",
    argv: ["df", "-P", "-T", "-k", "-x", "tmpfs", "-x", "devtmpfs", "-x", "overlay", "-x", "squashfs"],
    parse: (stdout) => ({ filesystems: parseDf(stdout) }),
  }),
] as const

/** NANDI's camelCase names of the remote tools. */
export const remoteAliases = [
  { name: "runRemoteDiagnostic", aliasFor: "pve_run_remote_diagnostic" },
  { name: "sshBatchDiagnostics", aliasFor: "pve_ssh_batch_diagnostics" },
  { name: "execInContainer", aliasFor: "pve_exec_in_container" },
  { name: "dockerPsInContainer", aliasFor: "pve_docker_ps_in_container" },
  { name: "dockerLogsInContainer", aliasFor: "pve_docker_logs_in_container" },
] as const

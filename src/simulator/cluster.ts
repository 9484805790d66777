// The shared state of the simulated cluster: nodes, guests, storages, tasks, faults, tokens and the
// request log. Every HTTPS endpoint serves this one state, like every node of a real cluster does.
import { createHash, randomUUID } from "node:crypto"
import { AccessModel, ALL_PRIVILEGES } from "./access-model.js"
import { FirewallState, NodeNetwork, PoolState } from "./admin-state.js"
import { serverError } from "./errors.js"
import { demoGuests, type NodeHardware, nodeHardware, STORAGES, type StorageSpec } from "./seed.js"
import { TaskEngine, type TaskState, type TaskWork } from "./tasks.js"
import type {
  Fault,
  GuestInfo,
  GuestSpec,
  GuestStatus,
  GuestType,
  RecordedRequest,
  SimulatedCluster,
} from "./types.js"

const MiB = 1024 ** 2
const GiB = 1024 ** 3

export const PVE_VERSION = { version: "9.1.1", release: "9.1", repoid: "42db4a6cf33dac83" } as const

const AUDIT_PRIVILEGES = ALL_PRIVILEGES.filter((privilege) => privilege.endsWith(".Audit"))

export interface Token {
  /** `user@realm!tokenname` */
  readonly tokenId: string
  readonly secret: string
  /** Privileges on "/" when authenticated; checks on other paths ask `access.allowed`. */
  readonly privileges: ReadonlyArray<string>
}

export interface NodeModel {
  readonly name: string
  readonly nodeid: number
  readonly ip: string
  readonly hardware: NodeHardware
  readonly bootTime: number
}

export interface GuestModel {
  readonly vmid: number
  readonly type: GuestType
  node: string
  status: GuestStatus
  name: string
  tags?: string
  template: boolean
  lock?: string
  cores: number
  memoryMiB: number
  diskGiB: number
  /** When the guest was last started (ms since epoch), for uptime and counters. */
  startedAt: number
  /** Config keys set through the API beyond the modelled ones (PUT config, create, restore). */
  extraConfig?: Record<string, string | number>
}

interface ActiveFault {
  readonly fault: Fault
  /** Requests the fault still applies to; Infinity without a count. */
  remaining: number
  /** Pid of the first task started after the fault was set (tasks get increasing pids). */
  readonly firstTaskPid: number
}

type MutableRequest = { -readonly [K in keyof RecordedRequest]: RecordedRequest[K] }

/** Stable pseudo-random fraction in [0, 1) per guest, so numbers look varied but tests stay deterministic. */
const spread = (vmid: number, salt: number) => ((vmid * 2654435761 + salt * 40503) % 1000) / 1000

const toInfo = (guest: GuestModel): GuestInfo => ({
  vmid: guest.vmid,
  type: guest.type,
  node: guest.node,
  status: guest.status,
  name: guest.name,
  ...(guest.tags === undefined ? {} : { tags: guest.tags }),
  template: guest.template,
  ...(guest.lock === undefined ? {} : { lock: guest.lock }),
  cores: guest.cores,
  memoryMiB: guest.memoryMiB,
  diskGiB: guest.diskGiB,
})

export class ClusterState implements SimulatedCluster {
  readonly nodes: ReadonlyArray<string>
  readonly clusterName = "sim-cluster"
  readonly tasks: TaskEngine
  readonly fullToken: Token = { tokenId: "root@pam!mcp", secret: randomUUID(), privileges: ALL_PRIVILEGES }
  readonly readOnlyToken: Token = {
    tokenId: "auditor@pve!ro",
    secret: randomUUID(),
    privileges: [...AUDIT_PRIVILEGES, "Sys.Syslog"],
  }
  /** Users, groups, roles, ACLs and API tokens (the two tokens above included). */
  readonly access = new AccessModel()
  readonly firewall = new FirewallState()
  readonly pools = new PoolState()
  private readonly networks = new Map<string, NodeNetwork>()
  /** Storage definitions (storage.cfg); POST/PUT/DELETE /storage change the list. */
  storages: ReadonlyArray<StorageSpec> = STORAGES
  /** The listeners' certificate fingerprint, shown as every node's ssl_fingerprint. */
  readonly sslFingerprint: string

  private readonly nodeModels = new Map<string, NodeModel>()
  private readonly guests = new Map<number, GuestModel>()
  private readonly faults = new Map<string, ActiveFault>()
  private readonly requestLog: Array<MutableRequest> = []
  /** Tasks a status or log lookup has found (a `task-status-lag` fault no longer hides them). */
  private readonly foundTasks = new Set<string>()
  private readonly downListeners = new Set<(node: string) => void>()
  private quorumSetting = true

  constructor(
    nodes: ReadonlyArray<string>,
    options: {
      readonly taskDurationMs: number
      readonly seed: "demo" | "empty"
      readonly sslFingerprint: string
    },
  ) {
    if (nodes.length === 0) throw new Error("simulator: at least one node is required")
    if (new Set(nodes).size !== nodes.length) throw new Error("simulator: node names must be unique")
    const invalid = nodes.find((node) => !/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(node))
    if (invalid !== undefined) throw new Error(`simulator: '${invalid}' is not a valid PVE node name`)
    this.nodes = [...nodes]
    this.sslFingerprint = options.sslFingerprint
    const now = Date.now()
    nodes.forEach((name, index) => {
      const hardware = nodeHardware(index)
      this.nodeModels.set(name, {
        name,
        nodeid: index + 1,
        ip: `192.168.100.${11 + index}`,
        hardware,
        bootTime: now - hardware.uptimeSeconds * 1000,
      })
    })
    // What a read-only deployment needs (`bootstrap --tier read-only`): PVEAuditor's privileges
    // and Sys.Syslog for the node and cluster logs.
    this.access.addRole("ReadOnly", [...AUDIT_PRIVILEGES, "Sys.Syslog"])
    this.access.addUser({ userid: "auditor@pve", enable: true, expire: 0, groups: new Set() })
    this.access.updateAcl({
      path: "/",
      roles: ["ReadOnly"],
      users: ["auditor@pve"],
      groups: [],
      tokens: [],
      propagate: true,
      remove: false,
    })
    for (const token of [this.fullToken, this.readOnlyToken]) {
      const [userid = "", tokenid = ""] = token.tokenId.split("!")
      this.access.addToken({ userid, tokenid, privsep: false, expire: 0 }, token.secret)
    }
    this.tasks = new TaskEngine(options.taskDurationMs, (node) => this.nodeModels.get(node)?.bootTime ?? now)
    if (options.seed === "demo") for (const spec of demoGuests(this.nodes)) this.addGuest(spec)
  }

  // --- SimulatedCluster ---------------------------------------------------------------------------

  setFault(node: string, fault: Fault | null) {
    this.requireKnownNode(node)
    if (fault === null) {
      this.faults.delete(node)
      return
    }
    const count = "count" in fault && fault.count !== undefined ? fault.count : Number.POSITIVE_INFINITY
    this.faults.set(node, { fault, remaining: count, firstTaskPid: this.tasks.upcomingPid })
    if (fault.kind === "down") for (const listener of this.downListeners) listener(node)
  }

  getFault(node: string): Fault | undefined {
    return this.faults.get(node)?.fault
  }

  setQuorum(quorate: boolean) {
    this.quorumSetting = quorate
  }

  /** The manual setting, and a majority of nodes up (a real cluster loses quorum without it). */
  isQuorate(): boolean {
    const online = this.nodes.filter((node) => this.isOnline(node)).length
    return this.quorumSetting && online * 2 > this.nodes.length
  }

  setNextTaskOutcome(exitstatus: string) {
    this.tasks.setNextOutcome(exitstatus)
  }

  setTaskDurationMs(ms: number) {
    this.tasks.durationMs = ms
  }

  migrateGuest(vmid: number, targetNode: string) {
    const guest = this.guests.get(vmid)
    if (!guest) throw new Error(`simulator: no guest ${vmid}`)
    this.requireKnownNode(targetNode)
    guest.node = targetNode
  }

  getGuest(vmid: number): GuestInfo | undefined {
    const guest = this.guests.get(vmid)
    return guest && toInfo(guest)
  }

  listGuests(): ReadonlyArray<GuestInfo> {
    return [...this.guests.values()].sort((a, b) => a.vmid - b.vmid).map(toInfo)
  }

  addGuest(spec: GuestSpec): GuestInfo {
    if (this.guests.has(spec.vmid)) throw new Error(`simulator: guest ${spec.vmid} already exists`)
    this.requireKnownNode(spec.node)
    const guest: GuestModel = {
      vmid: spec.vmid,
      type: spec.type,
      node: spec.node,
      status: spec.status ?? "stopped",
      name: spec.name,
      ...(spec.tags === undefined ? {} : { tags: spec.tags }),
      template: spec.template ?? false,
      ...(spec.lock === undefined ? {} : { lock: spec.lock }),
      cores: spec.cores ?? 1,
      memoryMiB: spec.memoryMiB ?? (spec.type === "lxc" ? 512 : 2048),
      diskGiB: spec.diskGiB ?? (spec.type === "lxc" ? 8 : 32),
      // Running seed guests have been up for a while (hours to days).
      startedAt: Date.now() - Math.round(3_600_000 + spread(spec.vmid, 1) * 20 * 86_400_000),
    }
    this.guests.set(guest.vmid, guest)
    return toInfo(guest)
  }

  /** Removes a guest (destroy, or the source of a migration that is re-added elsewhere). */
  removeGuest(vmid: number) {
    this.guests.delete(vmid)
  }

  setGuestLock(vmid: number, lock: string | null) {
    const guest = this.guests.get(vmid)
    if (!guest) throw new Error(`simulator: no guest ${vmid}`)
    if (lock === null) delete guest.lock
    else guest.lock = lock
  }

  setGuestTags(vmid: number, tags: string | null) {
    const guest = this.guests.get(vmid)
    if (!guest) throw new Error(`simulator: no guest ${vmid}`)
    if (tags === null || tags === "") delete guest.tags
    else guest.tags = tags
  }

  get requests(): ReadonlyArray<RecordedRequest> {
    return this.requestLog
  }

  clearRequests() {
    this.requestLog.length = 0
  }

  getTask(upid: string) {
    return this.tasks.get(upid)
  }

  listTasks() {
    return this.tasks.list()
  }

  // --- used by the HTTP layer ---------------------------------------------------------------------

  onNodeDown(listener: (node: string) => void) {
    this.downListeners.add(listener)
  }

  recordRequest(request: Omit<RecordedRequest, "status">): MutableRequest {
    const entry: MutableRequest = { ...request, status: 0 }
    this.requestLog.push(entry)
    return entry
  }

  tokenFor(tokenId: string): Token | undefined {
    const token = this.access.activeToken(tokenId)
    return token && { tokenId, secret: token.secret, privileges: [...this.access.privileges(tokenId, "/")] }
  }

  isOnline(node: string) {
    return this.faults.get(node)?.fault.kind !== "down"
  }

  /** The longest `slow` delay among the nodes a request touches. */
  delayFor(nodes: ReadonlyArray<string>): number {
    let delay = 0
    for (const node of nodes) {
      const fault = this.faults.get(node)?.fault
      if (fault?.kind === "slow") delay = Math.max(delay, fault.delayMs)
    }
    return delay
  }

  /**
   * The counted fault (error, 596, lock-timeout) that applies to a request touching `nodes`, if any;
   * taking it uses up one of its count.
   */
  takeFault(nodes: ReadonlyArray<string>, applies: (fault: Fault) => boolean): Fault | undefined {
    for (const node of nodes) {
      const active = this.faults.get(node)
      if (!active || active.remaining <= 0 || !applies(active.fault)) continue
      active.remaining--
      if (active.remaining <= 0) this.faults.delete(node)
      return active.fault
    }
    return undefined
  }

  /**
   * Whether a status or log lookup of `task` answers "no such task" because of a `task-status-lag`
   * fault on its node, which uses up one of its count. A lookup that is not hidden finds the task
   * for good.
   */
  hidesFreshTask(task: TaskState): boolean {
    if (this.foundTasks.has(task.upid)) return false
    const active = this.faults.get(task.node)
    if (active?.fault.kind === "task-status-lag" && active.remaining > 0 && task.pid >= active.firstTaskPid) {
      active.remaining--
      if (active.remaining <= 0) this.faults.delete(task.node)
      return true
    }
    this.foundTasks.add(task.upid)
    return false
  }

  // --- nodes --------------------------------------------------------------------------------------

  hasNode(node: string) {
    return this.nodeModels.has(node)
  }

  /** What pveproxy answers when asked to proxy to a node name it cannot resolve. */
  requireNode(node: string): NodeModel {
    const model = this.nodeModels.get(node)
    if (!model) {
      throw serverError(
        `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`,
      )
    }
    return model
  }

  private requireKnownNode(node: string) {
    if (!this.nodeModels.has(node)) throw new Error(`simulator: unknown node '${node}'`)
  }

  nodeMetrics(node: string) {
    const { hardware, bootTime } = this.requireNode(node)
    const running = this.guestsOn(node).filter((guest) => guest.status !== "stopped")
    const guestMemory = running.reduce((sum, guest) => sum + this.guestMetrics(guest).mem, 0)
    const guestCpu = running.reduce((sum, guest) => sum + this.guestMetrics(guest).cpu * guest.cores, 0)
    return {
      cpu: Math.min(1, 0.012 + guestCpu / hardware.cpus),
      maxcpu: hardware.cpus,
      mem: Math.round(hardware.baseMemoryBytes + guestMemory),
      maxmem: hardware.memoryBytes,
      disk: Math.round(hardware.rootfsBytes * 0.13),
      maxdisk: hardware.rootfsBytes,
      uptime: Math.floor((Date.now() - bootTime) / 1000),
    }
  }

  /** A node's network configuration (running and staged). */
  network(node: string): NodeNetwork {
    const model = this.requireNode(node)
    let network = this.networks.get(node)
    if (!network) {
      network = new NodeNetwork(model.ip)
      this.networks.set(node, network)
    }
    return network
  }

  // --- guests -------------------------------------------------------------------------------------

  guest(vmid: number): GuestModel | undefined {
    return this.guests.get(vmid)
  }

  guestsOn(node: string, type?: GuestType): ReadonlyArray<GuestModel> {
    return [...this.guests.values()]
      .filter((guest) => guest.node === node && (type === undefined || guest.type === type))
      .sort((a, b) => a.vmid - b.vmid)
  }

  allGuests(): ReadonlyArray<GuestModel> {
    return [...this.guests.values()].sort((a, b) => a.vmid - b.vmid)
  }

  /**
   * The guest as the node in the request path sees it. A guest living on another node does not
   * exist there, exactly as PVE answers (its config file is under another node's directory).
   */
  requireGuest(node: string, type: GuestType, vmid: number): GuestModel {
    const guest = this.guests.get(vmid)
    if (!guest || guest.node !== node || guest.type !== type) {
      const dir = type === "qemu" ? "qemu-server" : "lxc"
      throw serverError(`Configuration file 'nodes/${node}/${dir}/${vmid}.conf' does not exist`)
    }
    return guest
  }

  setGuestStatus(guest: GuestModel, status: GuestStatus) {
    if (guest.status === "stopped" && status !== "stopped") guest.startedAt = Date.now()
    guest.status = status
  }

  /** Restart counters and uptime, as a reboot or reset does. */
  restartGuest(guest: GuestModel) {
    guest.startedAt = Date.now()
  }

  guestMetrics(guest: GuestModel) {
    const maxmem = guest.memoryMiB * MiB
    const maxdisk = guest.diskGiB * GiB
    const diskUsed = guest.type === "lxc" ? Math.round(maxdisk * (0.18 + spread(guest.vmid, 2) * 0.4)) : 0
    if (guest.status === "stopped") {
      return {
        cpu: 0,
        mem: 0,
        maxmem,
        disk: diskUsed,
        maxdisk,
        uptime: 0,
        netin: 0,
        netout: 0,
        diskread: 0,
        diskwrite: 0,
      }
    }
    const uptime = Math.max(0, Math.floor((Date.now() - guest.startedAt) / 1000))
    // Counters grow with uptime at a per-guest rate.
    const rate = (salt: number, perSecond: number) =>
      Math.round(uptime * perSecond * (0.2 + spread(guest.vmid, salt)))
    return {
      cpu: guest.status === "paused" ? 0 : 0.004 + spread(guest.vmid, 3) * 0.18,
      mem: Math.round(maxmem * (0.3 + spread(guest.vmid, 4) * 0.45)),
      maxmem,
      disk: diskUsed,
      maxdisk,
      uptime,
      netin: rate(5, 18_000),
      netout: rate(6, 9_000),
      diskread: rate(7, 40_000),
      diskwrite: rate(8, 65_000),
    }
  }

  /** A stable fake process id for a running guest. */
  guestPid(guest: GuestModel) {
    return 2000 + ((guest.vmid * 7919 + Math.floor(guest.startedAt / 1000)) % 900_000)
  }

  /** The guest's configuration as GET .../config returns it (without digest). */
  guestConfig(guest: GuestModel): Record<string, string | number> {
    const mac = `BC:24:11:${[1, 2, 3]
      .map((salt) =>
        Math.floor(spread(guest.vmid, salt + 10) * 256)
          .toString(16)
          .toUpperCase()
          .padStart(2, "0"),
      )
      .join(":")}`
    const diskPrefix = guest.template ? "base" : "vm"
    const common: Record<string, string | number> = {
      cores: guest.cores,
      ...(guest.tags === undefined ? {} : { tags: guest.tags }),
      ...(guest.lock === undefined ? {} : { lock: guest.lock }),
      ...(guest.template ? { template: 1 } : {}),
    }
    const extra = guest.extraConfig ?? {}
    if (guest.type === "lxc") {
      return {
        ...common,
        arch: "amd64",
        features: "nesting=1",
        hostname: guest.name,
        memory: guest.memoryMiB,
        net0: `name=eth0,bridge=vmbr0,firewall=1,hwaddr=${mac},ip=dhcp,type=veth`,
        onboot: 1,
        ostype: "debian",
        rootfs: `local-lvm:${diskPrefix}-${guest.vmid}-disk-0,size=${guest.diskGiB}G`,
        swap: 512,
        unprivileged: 1,
        ...extra,
      }
    }
    const uuid = createHash("md5").update(`smbios-${guest.vmid}`).digest("hex")
    const asUuid = (hex: string) =>
      `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
    const windows = /^win/i.test(guest.name)
    return {
      ...common,
      agent: "1",
      boot: "order=scsi0;ide2;net0",
      cpu: "x86-64-v2-AES",
      ide2: "none,media=cdrom",
      // PVE 8.1+ stores memory as a property string, so it arrives as a string.
      memory: String(guest.memoryMiB),
      meta: "creation-qemu=9.2.0,ctime=1735689600",
      name: guest.name,
      net0: `virtio=${mac},bridge=vmbr0,firewall=1`,
      numa: 0,
      onboot: guest.tags?.includes("prod") ? 1 : 0,
      ostype: windows ? "win11" : "l26",
      scsi0: `local-lvm:${diskPrefix}-${guest.vmid}-disk-0,iothread=1,size=${guest.diskGiB}G`,
      scsihw: "virtio-scsi-single",
      smbios1: `uuid=${asUuid(uuid)}`,
      sockets: 1,
      vmgenid: asUuid(createHash("md5").update(`vmgenid-${guest.vmid}`).digest("hex")),
      ...extra,
    }
  }

  /** PVE's config digest: SHA-1 of the config file, so it changes whenever the config does. */
  configDigest(config: Readonly<Record<string, string | number>>) {
    const text = Object.entries(config)
      .map(([key, value]) => `${key}: ${value}\n`)
      .join("")
    return createHash("sha1").update(text).digest("hex")
  }

  // --- storage ------------------------------------------------------------------------------------

  requireStorage(storage: string): StorageSpec {
    const spec = this.storages.find((candidate) => candidate.storage === storage)
    if (!spec) throw serverError(`storage '${storage}' does not exist`)
    return spec
  }

  storageUsage(spec: StorageSpec, node: string) {
    const guestBytes = spec.holdsGuestDisks
      ? this.guestsOn(node).reduce(
          (sum, guest) => sum + guest.diskGiB * GiB * (guest.type === "lxc" ? 1 : 0.55),
          0,
        )
      : 0
    const used = Math.round(spec.baseUsedBytes + guestBytes)
    return { total: spec.totalBytes, used, avail: spec.totalBytes - used }
  }

  storageDigest() {
    return createHash("sha1")
      .update(
        JSON.stringify(
          this.storages.map(({ storage, type, content, settings }) => [storage, type, content, settings]),
        ),
      )
      .digest("hex")
  }

  // --- tasks --------------------------------------------------------------------------------------

  startTask(work: TaskWork): TaskState {
    return this.tasks.start(work)
  }

  dispose() {
    this.tasks.dispose()
    this.downListeners.clear()
  }
}

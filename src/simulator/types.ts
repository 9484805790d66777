// Public types of the simulated Proxmox VE cluster.

export interface SimulatorOptions {
  /** Cluster node names; default ["pve1", "pve2", "pve3"]. */
  readonly nodes?: ReadonlyArray<string>
  /** One HTTPS listener per node sharing one cluster state (default true), like a real cluster. */
  readonly perNodeEndpoints?: boolean
  /** Listen address; default "127.0.0.1". */
  readonly host?: string
  /** Port of the first listener; default 0 (random). Other listeners always use random ports. */
  readonly port?: number
  /** How long a task runs before it stops; default 1500 ms. */
  readonly taskDurationMs?: number
  /** Delay of 401 answers (PVE waits 3 s); default 0. */
  readonly authFailureDelayMs?: number
  /** "demo" (default): a few VMs, containers and storages per node; "empty": nodes and storages only. */
  readonly seed?: "demo" | "empty"
  /**
   * true (default): errors carry their text in the body's `message` too, as PVE 8.4 and 9 do.
   * false: as PVE 8.0-8.3, the text is only in the HTTP status line (body `{"data": null}`).
   */
  readonly messageInBody?: boolean
}

export interface SimulatorEndpoint {
  readonly node: string
  readonly url: string
  readonly host: string
  readonly port: number
}

export interface RunningSimulator {
  /** https://HOST:PORT of the first endpoint, without the /api2/json suffix. */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly endpoints: ReadonlyArray<SimulatorEndpoint>
  /** "root@pam!mcp": a token with every privilege. */
  readonly tokenId: string
  readonly tokenSecret: string
  /** "auditor@pve!ro": reads only (role ReadOnly on /: PVEAuditor's privileges and Sys.Syslog); writes answer 403. */
  readonly readOnlyToken: { readonly tokenId: string; readonly tokenSecret: string }
  /** SHA-256 of the certificate (DER), upper-case hex with colons like node:tls `fingerprint256`. */
  readonly fingerprint: string
  /** The self-signed certificate (PEM); usable as a CA file. */
  readonly caPem: string
  readonly nodes: ReadonlyArray<string>
  readonly cluster: SimulatedCluster
  /** TLS connections accepted so far by all listeners (a client's handshakes, for keep-alive checks). */
  connections(): number
  close(): Promise<void>
}

/**
 * Injected failure of one node. Requests "touch" a node when they arrive at its endpoint or their
 * path names it (`/nodes/{node}/...`, including task paths).
 * - `down`: its listener drops connections unanswered; other endpoints answer 595 for its paths.
 * - `slow`: every request touching it waits `delayMs` first.
 * - `error`: the next `count` requests (default: all) touching it answer `status` with `message`.
 * - `596`: like a proxy timeout; a non-GET is still carried out before the 596 is answered.
 * - `lock-timeout`: state-changing requests on a guest answer 500 "can't lock file ... got timeout".
 * - `task-status-lag`: the next `count` status or log lookups (`GET /nodes/{node}/tasks/{upid}/status`
 *   and `.../log`) of tasks on the node started since the fault was set, and not yet found by a
 *   lookup, answer 400 "Parameter verification failed." with `errors: {upid: "no such task"}`, as
 *   PVE does right after dispatch, before the worker has written its task file. A task once found
 *   stays found; other tasks, other nodes and DELETE are not affected.
 */
export type Fault =
  | { readonly kind: "down" }
  | { readonly kind: "slow"; readonly delayMs: number }
  | { readonly kind: "error"; readonly status: number; readonly message: string; readonly count?: number }
  | { readonly kind: "596"; readonly count?: number }
  | { readonly kind: "lock-timeout"; readonly count?: number }
  | { readonly kind: "task-status-lag"; readonly count: number }

export type GuestType = "qemu" | "lxc"
export type GuestStatus = "running" | "stopped" | "paused"

export interface GuestSpec {
  readonly vmid: number
  readonly type: GuestType
  readonly node: string
  readonly name: string
  readonly status?: GuestStatus
  /** PVE tag list as stored, e.g. "prod;web". */
  readonly tags?: string
  readonly template?: boolean
  /** A config lock such as "backup" or "migrate". */
  readonly lock?: string
  readonly cores?: number
  readonly memoryMiB?: number
  readonly diskGiB?: number
}

export interface GuestInfo {
  readonly vmid: number
  readonly type: GuestType
  readonly node: string
  readonly status: GuestStatus
  readonly name: string
  readonly tags?: string
  readonly template: boolean
  readonly lock?: string
  readonly cores: number
  readonly memoryMiB: number
  readonly diskGiB: number
}

export interface RecordedRequest {
  readonly method: string
  /** Path without /api2/json, each segment URI-decoded. */
  readonly path: string
  readonly query: Readonly<Record<string, string | ReadonlyArray<string>>>
  /** Parsed form or JSON body parameters ({} without a body). */
  readonly body: Readonly<Record<string, unknown>>
  /** The node whose endpoint received the request. */
  readonly endpointNode: string
  /** Names of the request's headers, lower-case (their values are not kept: one is the token). */
  readonly headerNames: ReadonlyArray<string>
  /** Status answered; 0 while the request is in flight. */
  readonly status: number
}

export interface TaskInfo {
  readonly upid: string
  readonly node: string
  readonly type: string
  readonly id: string
  /** Full user id, `user@realm!tokenid` for a token. */
  readonly user: string
  readonly starttime: number
  readonly status: "running" | "stopped"
  readonly exitstatus?: string
  readonly endtime?: number
  readonly log: ReadonlyArray<string>
  /** True when the task was ended by DELETE /nodes/{node}/tasks/{upid}. */
  readonly stoppedByDelete: boolean
}

/** In-process control and inspection of the simulated cluster, for tests. */
export interface SimulatedCluster {
  readonly nodes: ReadonlyArray<string>
  setFault(node: string, fault: Fault | null): void
  getFault(node: string): Fault | undefined
  /**
   * false: state-changing requests answer 500 "cluster not ready - no quorum?" and /cluster/status
   * shows quorate 0. The cluster also loses quorum while most of its nodes are down.
   */
  setQuorum(quorate: boolean): void
  isQuorate(): boolean
  /** Exit status of the next task that would otherwise succeed ("OK", "WARNINGS: 2", "some error"). */
  setNextTaskOutcome(exitstatus: string): void
  setTaskDurationMs(ms: number): void
  /** Moves a guest at once, as an HA relocation would. */
  migrateGuest(vmid: number, targetNode: string): void
  getGuest(vmid: number): GuestInfo | undefined
  listGuests(): ReadonlyArray<GuestInfo>
  addGuest(spec: GuestSpec): GuestInfo
  setGuestLock(vmid: number, lock: string | null): void
  /**
   * Replaces a guest's tags as stored ("prod;web"), shown in /cluster/resources, the guest lists,
   * its status and its config (whose digest changes); null or "" removes them.
   */
  setGuestTags(vmid: number, tags: string | null): void
  /** Every request received, oldest first. */
  readonly requests: ReadonlyArray<RecordedRequest>
  clearRequests(): void
  getTask(upid: string): TaskInfo | undefined
  listTasks(): ReadonlyArray<TaskInfo>
}

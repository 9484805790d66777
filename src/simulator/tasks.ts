// Worker tasks: UPIDs, a configurable run time, exit statuses and logs, as PVE's fork_worker has them.
import type { TaskInfo } from "./types.js"

export interface TaskWork {
  readonly node: string
  readonly type: string
  /** The task's object id, usually the vmid ("" when none). */
  readonly id: string
  /** Full user id (`user@realm!tokenid` for a token), as it appears in the UPID. */
  readonly user: string
  /** Tasks with the same key run one after another, like workers waiting for a guest's config lock. */
  readonly lockKey?: string
  /** Log lines written while the task runs. */
  readonly lines?: ReadonlyArray<string>
  /** Checked when the worker runs: an error text makes the task fail with it. */
  readonly precheck?: () => string | undefined
  /** The state change, applied when the task ends with OK or WARNINGS. */
  readonly apply?: () => void
}

interface TaskRecord {
  readonly upid: string
  readonly node: string
  readonly pid: number
  readonly pstart: number
  readonly starttime: number
  readonly type: string
  readonly id: string
  readonly user: string
  readonly work: TaskWork
  /** Exit status chosen by setNextTaskOutcome when the task was started. */
  readonly plannedOutcome: string | undefined
  status: "running" | "stopped"
  exitstatus?: string
  endtime?: number
  readonly log: Array<string>
  stoppedByDelete: boolean
  timer?: NodeJS.Timeout
}

/** A task as the API shows it: the public TaskInfo plus the worker's process fields. */
export interface TaskState extends TaskInfo {
  readonly pid: number
  readonly pstart: number
}

const UPID_RE =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/

/** The node named in a UPID, or undefined when the text is not a UPID (PVE's decode regex). */
export const upidNode = (upid: string): string | undefined => UPID_RE.exec(upid)?.[1]

const hex8 = (value: number) => value.toString(16).toUpperCase().padStart(8, "0")

const isSuccess = (exitstatus: string) => exitstatus === "OK" || /^WARNINGS: \d+$/.test(exitstatus)

const epochSeconds = () => Math.floor(Date.now() / 1000)

export class TaskEngine {
  private readonly tasks = new Map<string, TaskRecord>()
  /** Per lock key, the tasks holding or waiting for the lock, holder first. */
  private readonly queues = new Map<string, Array<TaskRecord>>()
  private nextOutcome: string | undefined
  private nextPid = 0x0003_1a00

  constructor(
    public durationMs: number,
    /** Boot time (ms since epoch) of a node, for the UPID's process start field. */
    private readonly bootTimeOf: (node: string) => number,
  ) {}

  /** The pid the next task gets; tasks started earlier have smaller ones. */
  get upcomingPid(): number {
    return this.nextPid
  }

  setNextOutcome(exitstatus: string) {
    this.nextOutcome = exitstatus
  }

  start(work: TaskWork): TaskState {
    const pid = this.nextPid++
    // pstart is the process start in clock ticks (USER_HZ 100) since the node booted.
    const pstart = Math.floor((Date.now() - this.bootTimeOf(work.node)) / 10)
    const starttime = epochSeconds()
    const upid = `UPID:${work.node}:${hex8(pid)}:${hex8(pstart)}:${hex8(starttime)}:${work.type}:${work.id}:${work.user}:`
    const task: TaskRecord = {
      upid,
      node: work.node,
      pid,
      pstart,
      starttime,
      type: work.type,
      id: work.id,
      user: work.user,
      work,
      plannedOutcome: this.nextOutcome,
      status: "running",
      log: [...(work.lines ?? [])],
      stoppedByDelete: false,
    }
    this.nextOutcome = undefined
    this.tasks.set(upid, task)

    if (work.lockKey === undefined) this.run(task)
    else {
      const queue = this.queues.get(work.lockKey) ?? []
      queue.push(task)
      this.queues.set(work.lockKey, queue)
      if (queue.length === 1) this.run(task)
    }
    return this.snapshot(task)
  }

  /** DELETE /nodes/{node}/tasks/{upid}: ends a running task without its state change. */
  stop(upid: string) {
    const task = this.tasks.get(upid)
    if (task?.status !== "running") return
    clearTimeout(task.timer)
    task.stoppedByDelete = true
    this.finish(task, "unexpected status", "TASK ERROR: interrupted by signal")
  }

  get(upid: string): TaskState | undefined {
    const task = this.tasks.get(upid)
    return task && this.snapshot(task)
  }

  /** All tasks, newest first. */
  list(): ReadonlyArray<TaskState> {
    return [...this.tasks.values()]
      .sort((a, b) => b.starttime - a.starttime || b.pid - a.pid)
      .map((task) => this.snapshot(task))
  }

  dispose() {
    for (const task of this.tasks.values()) clearTimeout(task.timer)
  }

  private run(task: TaskRecord) {
    task.timer = setTimeout(() => this.complete(task), this.durationMs)
  }

  private complete(task: TaskRecord) {
    const failure = task.work.precheck?.()
    const exitstatus = failure ?? task.plannedOutcome ?? "OK"
    if (!isSuccess(exitstatus)) {
      this.finish(task, exitstatus, `TASK ERROR: ${exitstatus}`)
      return
    }
    task.work.apply?.()
    const warnings = Number(/^WARNINGS: (\d+)$/.exec(exitstatus)?.[1] ?? 0)
    for (let index = 1; index <= warnings; index++) task.log.push(`WARN: simulated warning ${index}`)
    this.finish(task, exitstatus, exitstatus === "OK" ? "TASK OK" : `TASK ${exitstatus}`)
  }

  private finish(task: TaskRecord, exitstatus: string, lastLine: string) {
    task.status = "stopped"
    task.exitstatus = exitstatus
    task.endtime = epochSeconds()
    task.log.push(lastLine)
    const lockKey = task.work.lockKey
    if (lockKey === undefined) return
    const queue = this.queues.get(lockKey) ?? []
    const wasHolder = queue[0] === task
    const remaining = queue.filter((queued) => queued !== task)
    if (remaining.length === 0) this.queues.delete(lockKey)
    else this.queues.set(lockKey, remaining)
    const next = remaining[0]
    if (wasHolder && next) this.run(next)
  }

  private snapshot(task: TaskRecord): TaskState {
    return {
      upid: task.upid,
      node: task.node,
      pid: task.pid,
      pstart: task.pstart,
      type: task.type,
      id: task.id,
      user: task.user,
      starttime: task.starttime,
      status: task.status,
      ...(task.exitstatus === undefined ? {} : { exitstatus: task.exitstatus }),
      ...(task.endtime === undefined ? {} : { endtime: task.endtime }),
      log: [...task.log],
      stoppedByDelete: task.stoppedByDelete,
    }
  }
}

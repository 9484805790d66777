/**
 * The hash-chained JSON-lines audit file (SPEC sections 8 and 12).
 *
 * - One record per line, chained by `prev`/`hash`/`seq` (see `chain.ts`).
 * - Every `write` reaches the file (write(2)) before it resolves, so a write failure fails the
 *   call, reads included. `durable` writes are also fsynced before they resolve; other writes are
 *   fsynced within `syncIntervalMs`, by `flush`, before a rotation and when the scope closes.
 *   Concurrent writes are committed together (one write and at most one fsync per batch).
 * - After each fsync `<path>.head` is replaced atomically with `{seq, hash}` of the last fsynced
 *   record (temp file fsynced, renamed, directory fsynced: a power loss cannot leave it empty),
 *   so a cut tail is detectable, not only a torn last line. Durable writers are released right
 *   after the fsync and the head follows, so after a crash the head can lag the data by one
 *   batch, never lead it.
 * - Rotation by size: `path` -> `path.1` -> `path.2` ...; the new file continues the chain.
 * - One writer per file: `<path>.lock` holds the writer's pid; when a live process holds it the
 *   sink writes `<name>.pid<PID><ext>` next to it and says so on stderr.
 * - On open the chain continues from the file's last record, or from the head file when the file
 *   is behind it (so `audit verify` still sees the gap). A torn last line (a crash during a
 *   write) is cut off: it was never fsynced, so no durable write was acknowledged for it.
 * - When the file cannot be opened or written the sink stays up but every write fails with
 *   `AuditWriteError` (fail closed); it tries to reopen at most once per second.
 */
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import {
  Cause,
  Config,
  type ConfigError,
  Deferred,
  Effect,
  Either,
  Exit,
  Layer,
  Option,
  Queue,
  type Scope,
} from "effect"
import { invalid, optionalString } from "../config/values.js"
import { redactSecrets } from "../domain/redact.js"
import type { ChainPosition } from "./chain.js"
import { Audit, type AuditEntry, type AuditService, AuditWriteError } from "./port.js"
import { type PreparedRecord, prepare, type Redact, START, seal } from "./record.js"

export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024
export const DEFAULT_MAX_FILES = 10
export const DEFAULT_SYNC_INTERVAL_MS = 100
const REOPEN_AFTER_MS = 1_000
/** A last record larger than this cannot be recovered on open. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024

export interface FileAuditOptions {
  readonly path: string
  /** Rotate before a write would take the file over this size (default 10 MiB). */
  readonly maxBytes?: number
  /** Rotated files kept: `path.1` (newest) .. `path.N` (default 10). */
  readonly maxFiles?: number
  /** Redacts each entry before it is sealed; the default redactor unless given. */
  readonly redactor?: Redact
  /** Upper bound on how long a non-durable record waits for its fsync (default 100 ms). */
  readonly syncIntervalMs?: number
}

// ---------------------------------------------------------------------------------------------
// Configuration

export interface AuditSettings {
  readonly path: string
  readonly maxBytes: number
  readonly maxFiles: number
}

/** `$XDG_STATE_HOME/proxmox-mcp/audit.jsonl`, else `~/.local/state/proxmox-mcp/audit.jsonl`. */
export const defaultAuditPath = (xdgStateHome: string | undefined, home: string | undefined): string => {
  // The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
  const base =
    xdgStateHome !== undefined && path.isAbsolute(xdgStateHome)
      ? xdgStateHome
      : path.join(home ?? os.homedir(), ".local", "state")
  return path.join(base, "proxmox-mcp", "audit.jsonl")
}

const boundedBytes = (variable: string, fallback: number, min: number) =>
  Config.string(variable).pipe(
    Config.option,
    Config.mapOrFail((value) => {
      if (value._tag === "None" || value.value.trim() === "") return Either.right(fallback)
      const match = /^(\d+)\s*(k|ki|kib|m|mi|mib|g|gi|gib)?$/i.exec(value.value.trim())
      const unit = match?.[2]?.toLowerCase()[0]
      const factor = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1
      const parsed = match ? Number(match[1]) * factor : Number.NaN
      return Number.isSafeInteger(parsed) && parsed >= min
        ? Either.right(parsed)
        : Either.left(
            invalid(variable, `expected a size in bytes >= ${min} (or with K/M/G), got '${value.value}'`),
          )
    }),
  )

const boundedCount = (variable: string, fallback: number, min: number, max: number) =>
  Config.string(variable).pipe(
    Config.option,
    Config.mapOrFail((value) => {
      if (value._tag === "None" || value.value.trim() === "") return Either.right(fallback)
      const parsed = /^\d+$/.test(value.value.trim()) ? Number(value.value.trim()) : Number.NaN
      return Number.isSafeInteger(parsed) && parsed >= min && parsed <= max
        ? Either.right(parsed)
        : Either.left(invalid(variable, `expected an integer ${min}..${max}, got '${value.value}'`))
    }),
  )

/**
 * `AUDIT_LOG_PATH` (default under `$XDG_STATE_HOME/proxmox-mcp/`), `AUDIT_MAX_BYTES` (10 MiB;
 * accepts `10M`), `AUDIT_MAX_FILES` (rotated files kept, 10). Errors name the variable.
 */
export const auditConfig: Config.Config<AuditSettings> = Config.all({
  explicit: optionalString("AUDIT_LOG_PATH"),
  xdgStateHome: optionalString("XDG_STATE_HOME"),
  home: optionalString("HOME"),
  maxBytes: boundedBytes("AUDIT_MAX_BYTES", DEFAULT_MAX_BYTES, 4096),
  maxFiles: boundedCount("AUDIT_MAX_FILES", DEFAULT_MAX_FILES, 1, 1000),
}).pipe(
  Config.mapOrFail(({ explicit, xdgStateHome, home, maxBytes, maxFiles }) => {
    if (explicit !== undefined) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
      if (/[\u0000-\u001f]/.test(explicit)) {
        return Either.left(invalid("AUDIT_LOG_PATH", "path contains control characters"))
      }
      if (explicit.endsWith("/") || explicit.endsWith(path.sep)) {
        return Either.left(
          invalid("AUDIT_LOG_PATH", `'${explicit}' names a directory; give the log file's path`),
        )
      }
    }
    return Either.right({
      path: path.resolve(explicit ?? defaultAuditPath(xdgStateHome, home)),
      maxBytes,
      maxFiles,
    })
  }),
)

// ---------------------------------------------------------------------------------------------
// Files next to the log

export const headPathOf = (file: string): string => `${file}.head`
export const lockPathOf = (file: string): string => `${file}.lock`
export const rotatedPathOf = (file: string, n: number): string => `${file}.${n}`

/** `audit.jsonl` -> `audit.pid1234.jsonl`: where a second process writes while the lock is held. */
export const siblingPathOf = (file: string, pid: number, attempt = 1): string => {
  const extension = path.extname(file)
  const base = extension === "" ? file : file.slice(0, -extension.length)
  return `${base}.pid${pid}${attempt > 1 ? `-${attempt}` : ""}${extension}`
}

/** The head file's `{seq, hash}`, or undefined when it is absent or unreadable. */
export const readHead = (file: string): ChainPosition | undefined => {
  let text: string
  try {
    text = fs.readFileSync(headPathOf(file), "utf8")
  } catch {
    return undefined
  }
  return parsePosition(text)
}

const parsePosition = (text: string): ChainPosition | undefined => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null) return undefined
  const { seq, hash } = value as Record<string, unknown>
  return typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0 && typeof hash === "string"
    ? { seq, hash }
    : undefined
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code

const describeError = (error: unknown) => {
  const code = errorCode(error)
  const message = error instanceof Error ? error.message : String(error)
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message
}

// ---------------------------------------------------------------------------------------------
// The single-writer lock

/** Lock files this process holds, so a second sink in the same process is not taken for stale. */
const heldLocks = new Set<string>()

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errorCode(error) === "EPERM"
  }
}

const lockHolder = (lockPath: string): number | undefined => {
  try {
    const pid = Number.parseInt(fs.readFileSync(lockPath, "utf8").trim(), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

type LockResult = { readonly held: false } | { readonly held: true; readonly pid: number }

/** Takes `lockPath` unless a live process (or another sink of this one) holds it. */
const tryLock = (lockPath: string): LockResult => {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lockPath, `${process.pid}\n`, { flag: "wx", mode: 0o600 })
      heldLocks.add(lockPath)
      return { held: false }
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw error
    }
    const holder = lockHolder(lockPath)
    if (holder !== undefined) {
      if (holder === process.pid ? heldLocks.has(lockPath) : isAlive(holder))
        return { held: true, pid: holder }
    }
    // The holder is gone (or the file is garbage): the lock is stale.
    fs.rmSync(lockPath, { force: true })
  }
  throw new Error(`cannot take the lock ${lockPath}`)
}

const releaseLock = (lockPath: string) => {
  heldLocks.delete(lockPath)
  if (lockHolder(lockPath) === process.pid) fs.rmSync(lockPath, { force: true })
}

// ---------------------------------------------------------------------------------------------
// Recovery on open

interface Tail {
  readonly size: number
  /** Offset where a torn (newline-less) last line starts. */
  readonly tornFrom?: number
  /** The last complete line, without its newline. */
  readonly lastLine?: string
}

/** Reads a file backwards just far enough to find its last complete line. */
const readTail = (file: string): Tail | undefined => {
  let fd: number
  try {
    fd = fs.openSync(file, "r")
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined
    throw error
  }
  try {
    const size = fs.fstatSync(fd).size
    let start = size
    let tail = Buffer.alloc(0)
    let lastNewline = -1
    let previousNewline = -1
    while (start > 0) {
      const length = Math.min(64 * 1024, start)
      start -= length
      const chunk = Buffer.alloc(length)
      fs.readSync(fd, chunk, 0, length, start)
      tail = Buffer.concat([chunk, tail])
      lastNewline = tail.lastIndexOf(0x0a)
      previousNewline = lastNewline > 0 ? tail.lastIndexOf(0x0a, lastNewline - 1) : -1
      if (previousNewline >= 0) break
      if (tail.length > MAX_RECORD_BYTES) throw new Error(`the last record of ${file} is larger than 16 MiB`)
    }
    const torn = size > 0 && tail[tail.length - 1] !== 0x0a
    const tornFrom = torn ? start + lastNewline + 1 : undefined
    const lastLine =
      lastNewline >= 0 ? tail.subarray(previousNewline + 1, lastNewline).toString("utf8") : undefined
    return {
      size,
      ...(tornFrom === undefined ? {} : { tornFrom }),
      ...(lastLine === undefined ? {} : { lastLine }),
    }
  } finally {
    fs.closeSync(fd)
  }
}

interface Recovered {
  readonly position: ChainPosition
  readonly warnings: ReadonlyArray<string>
}

/** Where the chain continues: the file's last record, or the head file when the file is behind it. */
const recover = (file: string): Recovered => {
  const warnings: Array<string> = []
  let tail = readTail(file)
  if (tail?.tornFrom !== undefined) {
    fs.truncateSync(file, tail.tornFrom)
    warnings.push(
      `${file}: removed a torn last line of ${tail.size - tail.tornFrom} bytes (a write interrupted by a crash)`,
    )
    tail = { size: tail.tornFrom, ...(tail.lastLine === undefined ? {} : { lastLine: tail.lastLine }) }
  }
  let source = file
  if (tail?.lastLine === undefined) {
    // Empty or missing: a rotation may have happened just before a crash.
    source = rotatedPathOf(file, 1)
    tail = readTail(source)
  }
  let fromFile: ChainPosition | undefined
  if (tail?.lastLine !== undefined) {
    fromFile = parsePosition(tail.lastLine)
    if (fromFile === undefined || !/^[0-9a-f]{64}$/.test(fromFile.hash)) {
      throw new Error(
        `the last record of ${source} is unreadable, so the chain cannot continue; ` +
          "run 'proxmox-mcp audit verify' on it and move it aside",
      )
    }
  }
  const head = readHead(file)
  if (head === undefined && fs.existsSync(headPathOf(file))) {
    warnings.push(`${headPathOf(file)} is unreadable; it will be rewritten`)
  }
  if (head !== undefined && (fromFile === undefined || head.seq > fromFile.seq)) {
    if (fromFile !== undefined || head.seq > 0) {
      warnings.push(
        `${file} ends at seq ${fromFile?.seq ?? 0} but its head file says seq ${head.seq}: ` +
          "records are missing; continuing from the head so 'audit verify' shows the gap",
      )
    }
    return { position: head, warnings }
  }
  if (
    head !== undefined &&
    fromFile !== undefined &&
    head.seq === fromFile.seq &&
    head.hash !== fromFile.hash
  ) {
    warnings.push(
      `the last record of ${file} does not match its head file: it was altered; ` +
        "continuing from the head so 'audit verify' shows it",
    )
    return { position: head, warnings }
  }
  return { position: fromFile ?? START, warnings }
}

// ---------------------------------------------------------------------------------------------
// The sink

interface OpenFile {
  readonly handle: fsp.FileHandle
  size: number
  position: ChainPosition
  /** Records written since the last fsync. */
  unsynced: boolean
}

type FileState =
  | { readonly _tag: "Open"; readonly file: OpenFile }
  | { readonly _tag: "Unavailable"; readonly error: AuditWriteError; readonly since: number }
  | { readonly _tag: "Closed" }

/** What the writer fiber is asked to do; callers wait on `done`. */
type Command =
  | {
      readonly _tag: "Record"
      readonly prepared: PreparedRecord
      readonly durable: boolean
      readonly done: Deferred.Deferred<string, AuditWriteError>
    }
  | { readonly _tag: "Flush"; readonly done: Deferred.Deferred<void, AuditWriteError> }
  | { readonly _tag: "Close"; readonly done: Deferred.Deferred<void> }

type RecordCommand = Extract<Command, { readonly _tag: "Record" }>

const ioError = (target: string, action: string) => (cause: unknown) =>
  new AuditWriteError({ message: `audit log ${target}: cannot ${action}: ${describeError(cause)}`, cause })

const DIRECTORY_SYNC_UNSUPPORTED: ReadonlySet<string> = new Set(["EISDIR", "EINVAL"])

/**
 * fsync a directory, so a rename or a new entry in it survives a power loss. Platforms that cannot
 * open or fsync a directory (EISDIR, EINVAL: Windows, some network file systems) are let be.
 */
const fsyncDirectory = async (directory: string) => {
  let handle: fsp.FileHandle
  try {
    handle = await fsp.open(directory, "r")
  } catch (error) {
    if (DIRECTORY_SYNC_UNSUPPORTED.has(errorCode(error) ?? "")) return
    throw error
  }
  try {
    await handle.sync()
  } catch (error) {
    if (!DIRECTORY_SYNC_UNSUPPORTED.has(errorCode(error) ?? "")) throw error
  } finally {
    await handle.close()
  }
}

const syncDirectory = (directory: string) =>
  Effect.tryPromise({
    try: () => fsyncDirectory(directory),
    catch: ioError(directory, "fsync the directory"),
  })

/**
 * Replaces `target` with `text` so that after a crash it holds the old or the new text, whole:
 * temp file written and fsynced, renamed over `target`, then the directory fsynced so the rename
 * itself is durable. Without the fsyncs a power loss can leave `target` empty (the rename reached
 * the disk before the data), which `audit verify` would report as tampering.
 */
const replaceFileDurably = async (target: string, text: string) => {
  const temporary = `${target}.tmp`
  const handle = await fsp.open(temporary, "w", 0o600)
  try {
    await handle.writeFile(text, "utf8")
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fsp.rename(temporary, target)
  await fsyncDirectory(path.dirname(target))
}

/** Writes all of `bytes` (a regular file may take fewer bytes per call). */
const writeAll = (handle: fsp.FileHandle, bytes: Buffer, target: string) =>
  Effect.tryPromise({
    try: async () => {
      let offset = 0
      while (offset < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset)
        offset += bytesWritten
      }
    },
    catch: ioError(target, "write"),
  })

export const makeFile = (options: FileAuditOptions): Effect.Effect<AuditService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const requested = path.resolve(options.path)
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
    const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES
    const redact = options.redactor ?? redactSecrets
    const syncInterval = options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS

    /** The file this sink writes: `requested`, or its pid-named sibling when another process holds it. */
    let target: string | undefined
    let state: FileState = {
      _tag: "Unavailable",
      error: new AuditWriteError({ message: `audit log ${requested}: not opened yet` }),
      since: Number.NEGATIVE_INFINITY,
    }
    // One writer fiber owns the file: callers post commands and wait. Whatever piles up while it
    // writes or fsyncs goes out as the next batch (group commit), in the order it was posted.
    const mailbox = yield* Queue.unbounded<Command>()
    /** Set once the sink stops taking commands; checked and posted to without a yield in between. */
    let closed = false
    let lockReleased = false
    const closedError = () => new AuditWriteError({ message: `audit log ${target ?? requested}: closed` })

    const takeLock = Effect.try({
      try: () => {
        const candidates = [requested, ...[1, 2, 3, 4].map((n) => siblingPathOf(requested, process.pid, n))]
        let heldBy: number | undefined
        for (const file of candidates) {
          const result = tryLock(lockPathOf(file))
          if (!result.held) return { file, heldBy }
          heldBy ??= result.pid
        }
        throw new Error(`${requested} and its pid-named siblings are all locked`)
      },
      catch: ioError(requested, "take the writer lock"),
    }).pipe(
      Effect.tap(({ file, heldBy }) =>
        heldBy === undefined
          ? Effect.void
          : Effect.logWarning(
              heldBy === process.pid
                ? `audit log ${requested} is already open in this process (${process.pid}); this sink writes ${file} instead`
                : `audit log ${requested} is locked by live process ${heldBy}; this process (${process.pid}) writes ${file} instead`,
            ),
      ),
      Effect.map(({ file }) => file),
    )

    const open = Effect.gen(function* () {
      yield* Effect.tryPromise({
        try: () => fsp.mkdir(path.dirname(requested), { recursive: true, mode: 0o700 }),
        catch: ioError(requested, "create its directory"),
      })
      target ??= yield* takeLock
      const file = target
      const recovered = yield* Effect.try({
        try: () => recover(file),
        catch: ioError(file, "recover the chain"),
      })
      for (const warning of recovered.warnings) yield* Effect.logWarning(`audit log: ${warning}`)
      const existed = fs.existsSync(file)
      const handle = yield* Effect.tryPromise({
        try: () => fsp.open(file, "a", 0o600),
        catch: ioError(file, "open"),
      })
      const opened = yield* Effect.tryPromise({
        try: async () => {
          const stat = await handle.stat()
          if ((stat.mode & 0o077) !== 0) await handle.chmod(0o600)
          return { handle, size: stat.size, position: recovered.position, unsynced: false }
        },
        catch: ioError(file, "inspect"),
      }).pipe(Effect.tapError(() => Effect.promise(() => handle.close().catch(() => undefined))))
      if (!existed) yield* syncDirectory(path.dirname(file))
      return opened
    })

    const closeQuietly = (file: OpenFile) => Effect.promise(() => file.handle.close().catch(() => undefined))

    /** Marks the sink unavailable after an I/O failure; the next open recovers from the disk. */
    const fail = (error: AuditWriteError) =>
      Effect.gen(function* () {
        if (state._tag === "Open") yield* closeQuietly(state.file)
        if (state._tag !== "Closed") state = { _tag: "Unavailable", error, since: Date.now() }
        yield* Effect.logError(`audit log unavailable, calls fail closed: ${error.message}`)
        return yield* Effect.fail(error)
      })

    const ensureOpen: Effect.Effect<OpenFile, AuditWriteError> = Effect.suspend(() => {
      switch (state._tag) {
        case "Open":
          return Effect.succeed(state.file)
        case "Closed":
          return Effect.fail(new AuditWriteError({ message: `audit log ${requested}: closed` }))
        case "Unavailable": {
          if (Date.now() - state.since < REOPEN_AFTER_MS) return Effect.fail(state.error)
          return open.pipe(
            Effect.tap((file) =>
              Effect.sync(() => {
                state = { _tag: "Open", file }
              }),
            ),
            Effect.catchAll(fail),
          )
        }
      }
    })

    /** The position fsynced last but not yet published in the head file. */
    let headPending: ChainPosition | undefined

    /** Atomically and durably replaces the head file (fsynced temp file + rename + directory fsync). */
    const publishHead = Effect.suspend(() => {
      const position = headPending
      if (position === undefined) return Effect.void
      const head = headPathOf(target ?? requested)
      return Effect.tryPromise({
        try: () => replaceFileDurably(head, `${JSON.stringify(position)}\n`),
        catch: ioError(head, "replace the head file"),
      }).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            if (headPending === position) headPending = undefined
          }),
        ),
      )
    })

    /** fsync the data; the head follows with `publishHead`. */
    const sync = (file: OpenFile) =>
      Effect.gen(function* () {
        if (!file.unsynced) return
        yield* Effect.tryPromise({
          try: () => file.handle.datasync(),
          catch: ioError(target ?? requested, "fsync"),
        }).pipe(Effect.catchAll(fail))
        file.unsynced = false
        headPending = file.position
      })

    const syncAndPublish = (file: OpenFile) => Effect.zipRight(sync(file), publishHead)

    const rotate = (file: OpenFile) =>
      Effect.gen(function* () {
        const current = target ?? requested
        yield* Effect.tryPromise({
          try: async () => {
            if (file.unsynced) await file.handle.datasync()
            await file.handle.close()
            for (let n = maxFiles - 1; n >= 1; n--) {
              await fsp.rename(rotatedPathOf(current, n), rotatedPathOf(current, n + 1)).catch((error) => {
                if (errorCode(error) !== "ENOENT") throw error
              })
            }
            await fsp.rename(current, rotatedPathOf(current, 1))
          },
          catch: ioError(current, "rotate"),
        })
        const handle = yield* Effect.tryPromise({
          try: () => fsp.open(current, "a", 0o600),
          catch: ioError(current, "open after rotation"),
        })
        const next: OpenFile = { handle, size: 0, position: file.position, unsynced: false }
        state = { _tag: "Open", file: next }
        yield* syncDirectory(path.dirname(current))
        return next
      }).pipe(Effect.catchAll(fail))

    /** Seals and appends records (write(2), no fsync); rotates first when the file would grow too big. */
    const writeBatch = (batch: ReadonlyArray<RecordCommand>) =>
      Effect.gen(function* () {
        let file = yield* ensureOpen
        let position = file.position
        const lines: Array<string> = []
        for (const item of batch) {
          const record = yield* Effect.try({
            try: () => seal(item.prepared, position),
            catch: (cause) => new AuditWriteError({ message: "audit record could not be sealed", cause }),
          })
          lines.push(`${JSON.stringify(record)}\n`)
          position = { seq: record.seq, hash: record.hash }
        }
        const bytes = Buffer.from(lines.join(""), "utf8")
        if (file.size > 0 && file.size + bytes.length > maxBytes) file = yield* rotate(file)
        const written = file
        yield* writeAll(written.handle, bytes, target ?? requested).pipe(Effect.catchAll(fail))
        written.size += bytes.length
        written.position = position
        written.unsynced = true
      })

    const asWriteError = (cause: Cause.Cause<AuditWriteError>): AuditWriteError =>
      Option.getOrElse(
        Cause.failureOption(cause),
        () => new AuditWriteError({ message: "audit log writer failed", cause: Cause.squash(cause) }),
      )

    /** Closes the file and releases the lock; later commands fail. Idempotent. */
    const shutdown = Effect.gen(function* () {
      closed = true
      if (state._tag === "Open") {
        const file = state.file
        yield* syncAndPublish(file).pipe(
          Effect.catchAll((error) => Effect.logError(`audit log: final fsync failed: ${error.message}`)),
        )
        yield* closeQuietly(file)
      }
      state = { _tag: "Closed" }
      if (target !== undefined && !lockReleased) releaseLock(lockPathOf(target))
      lockReleased = true
      for (const command of yield* Queue.takeAll(mailbox)) {
        if (command._tag === "Close") yield* Deferred.done(command.done, Exit.void)
        else if (command._tag === "Flush") yield* Deferred.fail(command.done, closedError())
        else yield* Deferred.fail(command.done, closedError())
      }
    })

    /** Handles one batch of commands; true when the sink was closed. */
    const execute = (commands: ReadonlyArray<Command>) =>
      Effect.gen(function* () {
        const records = commands.filter((command): command is RecordCommand => command._tag === "Record")
        const written = records.length === 0 ? Exit.void : yield* Effect.exit(writeBatch(records))
        const wantsSync = commands.some((command) => command._tag !== "Record" || command.durable)
        const synced =
          !wantsSync || Exit.isFailure(written)
            ? Exit.void
            : yield* Effect.exit(Effect.flatMap(ensureOpen, sync))
        for (const command of commands) {
          if (command._tag !== "Record") continue
          const outcome = Exit.isFailure(written) ? written : command.durable ? synced : Exit.void
          yield* Deferred.done(
            command.done,
            Exit.isFailure(outcome)
              ? Exit.fail(asWriteError(outcome.cause))
              : Exit.succeed(command.prepared.id),
          )
        }
        // The head follows the fsync; durable writers need not wait for it, `flush` does.
        const published = yield* Effect.exit(publishHead)
        if (Exit.isFailure(published)) {
          yield* Effect.logError(`audit log: ${asWriteError(published.cause).message}`)
        }
        for (const command of commands) {
          if (command._tag !== "Flush") continue
          const outcome = Exit.isFailure(written) ? written : Exit.isFailure(synced) ? synced : published
          yield* Deferred.done(
            command.done,
            Exit.isFailure(outcome) ? Exit.fail(asWriteError(outcome.cause)) : Exit.void,
          )
        }
        const close = commands.find((command) => command._tag === "Close")
        if (close === undefined) return false
        yield* shutdown
        yield* Deferred.done(close.done, Exit.void)
        return true
      })

    /** Waits for commands; with unsynced data (or head) it waits at most `syncInterval`, then fsyncs. */
    const nextBatch = Effect.gen(function* () {
      const first =
        (state._tag === "Open" && state.file.unsynced) || headPending !== undefined
          ? yield* Queue.take(mailbox).pipe(Effect.timeoutOption(syncInterval))
          : Option.some(yield* Queue.take(mailbox))
      if (Option.isNone(first)) return []
      return [first.value, ...(yield* Queue.takeAll(mailbox))]
    })

    const periodicSync = Effect.suspend(() =>
      state._tag === "Open" ? syncAndPublish(state.file) : publishHead,
    ).pipe(Effect.catchAll((error) => Effect.logError(`audit log: periodic fsync failed: ${error.message}`)))

    const writer = Effect.gen(function* () {
      while (true) {
        const batch = yield* nextBatch
        const stop = yield* Effect.uninterruptible(
          batch.length === 0 ? Effect.as(periodicSync, false) : execute(batch),
        )
        if (stop) return
      }
    })

    const post = <A, E>(make: (done: Deferred.Deferred<A, E>) => Command, whenClosed: Effect.Effect<A, E>) =>
      Effect.flatMap(Deferred.make<A, E>(), (done) =>
        Effect.suspend(() => {
          if (closed) return whenClosed
          mailbox.unsafeOffer(make(done))
          return Deferred.await(done)
        }),
      )

    const write = Effect.fn("Audit.write")(function* (
      entry: AuditEntry,
      writeOptions?: { readonly durable?: boolean },
    ) {
      const prepared = yield* Effect.try({
        try: () => prepare(entry, redact),
        catch: (cause) => new AuditWriteError({ message: "audit record could not be built", cause }),
      })
      const durable = writeOptions?.durable === true
      return yield* post<string, AuditWriteError>(
        (done) => ({ _tag: "Record", prepared, durable, done }),
        Effect.fail(closedError()),
      )
    })

    const flush: AuditService["flush"] = post<void, AuditWriteError>(
      (done) => ({ _tag: "Flush", done }),
      Effect.fail(closedError()),
    ).pipe(Effect.withSpan("Audit.flush"))

    // First open now, so a lock conflict and recovery are reported at start; a failure is
    // reported and retried by the first write.
    yield* ensureOpen.pipe(Effect.ignore)

    // Should the writer ever stop on a defect, nobody is left waiting and the file is closed.
    yield* writer.pipe(
      Effect.ensuring(Effect.uninterruptible(shutdown)),
      Effect.catchAllCause((cause) => Effect.logError("audit log writer stopped", cause)),
      Effect.forkScoped,
    )

    // Runs before the writer fiber is interrupted: everything posted is written and fsynced.
    yield* Effect.addFinalizer(() => post<void, never>((done) => ({ _tag: "Close", done }), Effect.void))

    return { write, flush } satisfies AuditService
  })

/** The file sink as the `Audit` service; the file is closed (and fsynced) with the scope. */
export const layerFile = (options: FileAuditOptions): Layer.Layer<Audit> =>
  Layer.scoped(Audit, makeFile(options))

/** The file sink configured by `AUDIT_LOG_PATH`, `AUDIT_MAX_BYTES` and `AUDIT_MAX_FILES`. */
export const layerFileConfig = (
  options: Omit<FileAuditOptions, "path" | "maxBytes" | "maxFiles"> = {},
): Layer.Layer<Audit, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(auditConfig, (config) => layerFile({ ...options, ...config })))

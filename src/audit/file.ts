/**
 * The hash-chained JSON-lines audit file (SPEC sections 8 and 12).
 *
 * - One record per line, chained by `prev`/`hash`/`seq` (see `chain.ts`).
 * - Every `write` reaches the file (write(2)) before it resolves, so a write failure fails the
 *   call, reads included. `durable` writes are also fsynced before they resolve; other writes are
 *   fsynced within `syncIntervalMs`, by `flush`, before a rotation and when the scope closes.
 * - A non-durable record (a read) is sealed and appended in the caller's fiber when nothing is
 *   queued before it: one write(2) (and a stat of the path at most every `pathCheckIntervalMs`),
 *   no fiber hop. Everything else (durable records, rotation, a replaced file, a sink to reopen)
 *   goes through one writer fiber, in order; concurrent writes queued there are committed
 *   together (one write, at most one fsync per batch).
 * - After each fsync `<path>.head` is replaced atomically with `{seq, hash}` of the last fsynced
 *   record (temp file fsynced, renamed, directory fsynced: a power loss cannot leave it empty),
 *   so a cut tail is detectable, not only a torn last line. Durable writers are released right
 *   after the fsync and the head follows, so after a crash the head can lag the data by one
 *   batch, never lead it.
 * - Rotation by size: `path` -> `path.1` -> `path.2` ...; the new file continues the chain.
 * - One writer per file: `<path>.lock` holds the writer's pid; when a live process holds it the
 *   sink writes `<name>.pid<PID><ext>` next to it and says so on stderr.
 * - A log file deleted or replaced while open (another inode at the path, checked before each
 *   batch of the writer, and before a read's record at most every `pathCheckIntervalMs`) is
 *   reopened at its path; the chain goes on there after an `audit.reopened` record, which says
 *   up to which seq the records went to the old file (reads' records of that last interval
 *   included).
 * - On open the chain continues from the file's last record, or from the head file when the file
 *   is behind it (so `audit verify` still sees the gap). A torn last line (a crash during a
 *   write) is cut off: it was never fsynced, so no durable write was acknowledged for it.
 * - When the file cannot be opened or written the sink stays up but every write fails with
 *   `AuditWriteError` (fail closed); it tries to reopen at most once per second.
 */
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as ConfigError from "effect/ConfigError"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { redactSecrets } from "../domain/redact.js"
import { traced } from "../domain/tracing.js"
import type { ChainPosition } from "./chain.js"
import { auditConfig, DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES, hmacKeyObject } from "./config.js"
import { errorCode, ioError, replaceFileDurably, syncDirectory, writeAllSync, writeTextSync } from "./io.js"
import { releaseLock, tryLock } from "./lock.js"
import { headPathOf, lockPathOf, rotatedPathOf, siblingPathOf } from "./paths.js"
import { Audit, type AuditRecord, type AuditService, AuditWriteError } from "./port.js"
import { type PreparedRecord, prepare, type Redact, seal } from "./record.js"
import { recover } from "./recovery.js"

export const DEFAULT_SYNC_INTERVAL_MS = 100
export const DEFAULT_HEAD_INTERVAL_MS = 1_000
export const DEFAULT_PATH_CHECK_INTERVAL_MS = 100

/** Who writes the sink's own records (`audit.reopened`). */
const AUDIT_SINK_PRINCIPAL = { sub: "proxmox-mcp", role: "system", transport: "cli" } as const
const REOPEN_AFTER_MS = 1_000

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
  /**
   * How often a background fsync (of reads' records) publishes the head file, at most (default
   * 1 s). A durable record's fsync, `flush` and closing publish it at once.
   */
  readonly headIntervalMs?: number
  /**
   * How often, at most, a read's record first checks that the file at the path is still the one
   * open (default 100 ms; 0: before every record). The writer checks before each batch anyway,
   * so a durable record never goes to a deleted or replaced file. A `stat` per read was a third
   * of the sink's cost.
   */
  readonly pathCheckIntervalMs?: number
  /** `AUDIT_HMAC_KEY`: every record then carries a keyed `mac` (see `chain.ts`). */
  readonly hmacKey?: Redacted.Redacted<string>
}

interface OpenFile {
  readonly handle: fsp.FileHandle
  /** The file's identity when opened: another one at the path means it was deleted or replaced. */
  readonly dev: number
  readonly ino: number
  size: number
  position: ChainPosition
  /** The last record known fsynced; records after it wait for the next fsync. */
  syncedSeq: number
}

const unsynced = (file: OpenFile) => file.position.seq > file.syncedSeq

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
  /** The periodic fsync is due (posted by the sync timer; nobody waits for it). */
  | { readonly _tag: "Tick" }

type RecordCommand = Extract<Command, { readonly _tag: "Record" }>

export const makeFile = (options: FileAuditOptions): Effect.Effect<AuditService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const requested = path.resolve(options.path)
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
    const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES
    const redact = options.redactor ?? redactSecrets
    const syncInterval = options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS
    const headInterval = options.headIntervalMs ?? DEFAULT_HEAD_INTERVAL_MS
    const pathCheckInterval = options.pathCheckIntervalMs ?? DEFAULT_PATH_CHECK_INTERVAL_MS
    /** Clock time a read's record last found the open file at the path. */
    let pathCheckedAt = Number.NEGATIVE_INFINITY
    const key = options.hmacKey === undefined ? undefined : hmacKeyObject(options.hmacKey)

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
          return {
            handle,
            dev: stat.dev,
            ino: stat.ino,
            size: stat.size,
            position: recovered.position,
            syncedSeq: recovered.position.seq,
          }
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
        const now = yield* Clock.currentTimeMillis
        if (state._tag === "Open") yield* closeQuietly(state.file)
        if (state._tag !== "Closed") state = { _tag: "Unavailable", error, since: now }
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
          const { error, since } = state
          return Effect.flatMap(Clock.currentTimeMillis, (now) =>
            now - since < REOPEN_AFTER_MS
              ? Effect.fail(error)
              : open.pipe(
                  Effect.tap((file) =>
                    Effect.sync(() => {
                      state = { _tag: "Open", file }
                    }),
                  ),
                  Effect.catchAll(fail),
                ),
          )
        }
      }
    })

    /**
     * Clock time the last fsync started (or the start): the periodic fsync is due `syncInterval`
     * after it, so records appended while one runs wait for the next, not for one right after.
     */
    let lastSyncAt = yield* Clock.currentTimeMillis
    /** Clock time the head was last published. */
    let lastHeadAt = lastSyncAt

    /** The position fsynced last but not yet published in the head file. */
    let headPending: ChainPosition | undefined

    /**
     * Atomically and durably replaces the head file (fsynced temp file + rename + directory
     * fsync): at once when `now`, else only when `headInterval` has passed since the last time.
     * (Two more fsyncs: after a background fsync every 100 ms they would cost more than the data's.)
     */
    const publishHead = (now: boolean) =>
      Effect.clockWith((clock) => {
        const position = headPending
        if (position === undefined) return Effect.void
        const at = clock.unsafeCurrentTimeMillis()
        if (!now && at - lastHeadAt < headInterval) return Effect.void
        const head = headPathOf(target ?? requested)
        return Effect.tryPromise({
          try: () => replaceFileDurably(head, `${JSON.stringify(position)}\n`),
          catch: ioError(head, "replace the head file"),
        }).pipe(
          Effect.tap(() =>
            Effect.sync(() => {
              lastHeadAt = at
              if (headPending === position) headPending = undefined
            }),
          ),
        )
      })

    /**
     * fsync the data; the head follows with `publishHead`. Records appended meanwhile (in the
     * callers' fibers) are not counted as synced: they wait for the next one.
     */
    const sync = (file: OpenFile) =>
      Effect.gen(function* () {
        if (!unsynced(file)) return
        const upTo = file.position
        lastSyncAt = yield* Clock.currentTimeMillis
        yield* Effect.tryPromise({
          try: () => file.handle.datasync(),
          catch: ioError(target ?? requested, "fsync"),
        }).pipe(Effect.catchAll(fail))
        if (upTo.seq > file.syncedSeq) {
          file.syncedSeq = upTo.seq
          headPending = upTo
        }
      })

    const syncAndPublish = (file: OpenFile) => Effect.zipRight(sync(file), publishHead(true))

    const rotate = (file: OpenFile) =>
      Effect.gen(function* () {
        const current = target ?? requested
        yield* Effect.tryPromise({
          try: async () => {
            if (unsynced(file)) await file.handle.datasync()
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
        const next = yield* reopenAt(current, file.position, "open after rotation")
        state = { _tag: "Open", file: next }
        yield* syncDirectory(path.dirname(current))
        return next
      }).pipe(Effect.catchAll(fail))

    /** Opens (creating) the file at `file` anew; the chain goes on from `position`. */
    const reopenAt = (file: string, position: ChainPosition, action: string) =>
      Effect.tryPromise({
        try: async () => {
          await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
          const handle = await fsp.open(file, "a", 0o600)
          try {
            const stat = await handle.stat()
            return {
              handle,
              dev: stat.dev,
              ino: stat.ino,
              size: stat.size,
              position,
              syncedSeq: position.seq,
            }
          } catch (error) {
            await handle.close().catch(() => undefined)
            throw error
          }
        },
        catch: ioError(file, action),
      })

    /**
     * The file at the path is no longer the one open (deleted, or moved away and maybe replaced):
     * records would go on into a file nobody can read. Reopens the path and continues the chain
     * there, after an `audit.reopened` record that says what happened. One stat per batch.
     */
    const followReplacement = (file: OpenFile) =>
      Effect.gen(function* () {
        const current = target ?? requested
        const stat = yield* Effect.try({
          try: () => fs.statSync(current, { throwIfNoEntry: false }),
          catch: ioError(current, "stat"),
        })
        if (stat !== undefined && stat.ino === file.ino && stat.dev === file.dev) return { file }
        const reason = stat === undefined ? "deleted" : "replaced"
        yield* Effect.logWarning(
          `audit log ${current} was ${reason} while open; reopening it, the chain continues at seq ${file.position.seq + 1}`,
        )
        // Whatever the old inode still holds was written by us; it is fsynced before it is let go.
        if (unsynced(file)) yield* Effect.promise(() => file.handle.datasync().catch(() => undefined))
        yield* closeQuietly(file)
        const next = yield* reopenAt(current, file.position, "reopen")
        state = { _tag: "Open", file: next }
        yield* syncDirectory(path.dirname(current))
        const now = yield* Clock.currentTimeMillis
        const notice = prepare(
          {
            event: "audit.reopened",
            principal: AUDIT_SINK_PRINCIPAL,
            detail:
              `the log file was ${reason} while the server had it open; records up to seq ` +
              `${file.position.seq} were written to the ${reason === "deleted" ? "deleted" : "previous"} file`,
          },
          redact,
          new Date(now),
        )
        return { file: next, notice }
      }).pipe(Effect.catchAll(fail))

    /** Seals and appends records (write(2), no fsync); rotates first when the file would grow too big. */
    const writeBatch = (batch: ReadonlyArray<RecordCommand>) =>
      Effect.gen(function* () {
        const checked = yield* Effect.flatMap(ensureOpen, followReplacement)
        let file = checked.file
        let position = file.position
        const lines: Array<string> = []
        const prepared =
          checked.notice === undefined
            ? batch.map((item) => item.prepared)
            : [checked.notice, ...batch.map((item) => item.prepared)]
        for (const item of prepared) {
          const record = yield* Effect.try({
            try: () => seal(item, position, key),
            catch: (cause) => new AuditWriteError({ message: "audit record could not be sealed", cause }),
          })
          lines.push(`${JSON.stringify(record)}\n`)
          position = { seq: record.seq, hash: record.hash }
        }
        const bytes = Buffer.from(lines.join(""), "utf8")
        if (file.size > 0 && file.size + bytes.length > maxBytes) file = yield* rotate(file)
        yield* append(file, bytes, position)
      })

    /** Appends sealed records that end at `position` (the writer's batches). */
    const append = (file: OpenFile, bytes: Buffer, position: ChainPosition) =>
      Effect.try({
        try: () => {
          writeAllSync(file.handle.fd, bytes)
          file.size += bytes.length
          file.position = position
        },
        catch: ioError(target ?? requested, "write"),
      }).pipe(Effect.catchAll(fail))

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
        if (command._tag === "Close") yield* settle(command.done, Exit.void)
        else if (command._tag === "Flush") yield* settle(command.done, Exit.fail(closedError()))
        else if (command._tag === "Record") yield* settle(command.done, Exit.fail(closedError()))
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
          yield* settle(
            command.done,
            Exit.isFailure(outcome)
              ? Exit.fail(asWriteError(outcome.cause))
              : Exit.succeed(command.prepared.id),
          )
        }
        // The head follows the fsync; durable writers need not wait for it, `flush` does. After a
        // background fsync (a Tick alone) it follows at most every `headInterval`.
        const published = yield* Effect.exit(
          publishHead(
            commands.some(
              (command) => command._tag !== "Tick" && (command._tag !== "Record" || command.durable),
            ),
          ),
        )
        if (Exit.isFailure(published)) {
          yield* Effect.logError(`audit log: ${asWriteError(published.cause).message}`)
        }
        for (const command of commands) {
          if (command._tag !== "Flush") continue
          const outcome = Exit.isFailure(written) ? written : Exit.isFailure(synced) ? synced : published
          yield* settle(
            command.done,
            Exit.isFailure(outcome) ? Exit.fail(asWriteError(outcome.cause)) : Exit.void,
          )
        }
        if (commands.some((command) => command._tag === "Tick")) tickPosted = false
        const close = commands.find((command) => command._tag === "Close")
        if (close === undefined) {
          armSyncTimer()
          return false
        }
        yield* shutdown
        yield* settle(close.done, Exit.void)
        return true
      })

    /** Waits for commands; whatever piled up meanwhile comes with the first. */
    const nextBatch = Effect.flatMap(Queue.take(mailbox), (first) =>
      Effect.map(Queue.takeAll(mailbox), (rest) => [first, ...rest]),
    )

    const writer = Effect.gen(function* () {
      while (true) {
        const batch = yield* nextBatch
        const stop = yield* Effect.uninterruptible(execute(batch))
        if (stop) return
      }
    })

    const needsSync = () => (state._tag === "Open" && unsynced(state.file)) || headPending !== undefined

    /** When the next background fsync (data) or head publication is due; Infinity: none is. */
    const dueAt = () =>
      Math.min(
        state._tag === "Open" && unsynced(state.file) ? lastSyncAt + syncInterval : Number.POSITIVE_INFINITY,
        headPending === undefined ? Number.POSITIVE_INFINITY : lastHeadAt + headInterval,
      )

    /**
     * The periodic fsync: when records (or the head) are left unsynced, the sync timer is armed;
     * when the fsync or the head is due it posts one `Tick`, which joins the writer's next batch,
     * and posts no other until the writer has handled it. One timer, armed at most once per
     * interval: a timeout on the writer's wait would start again with each batch and, under
     * steady load, never fire.
     */
    const timerArmed = yield* Queue.sliding<void>(1)
    /** An offer is waiting in `timerArmed`: another would change nothing. */
    let timerOffered = false
    let tickPosted = false
    const armSyncTimer = () => {
      // While a Tick is in flight the writer arms the timer once it has handled it: waking the
      // timer for each record meanwhile would only make it return.
      if (timerOffered || tickPosted || !needsSync()) return
      timerOffered = true
      timerArmed.unsafeOffer(undefined)
    }
    const syncTimer = Effect.forever(
      Effect.gen(function* () {
        yield* Queue.take(timerArmed)
        timerOffered = false
        // Armed again by the writer once it has handled the Tick in flight.
        if (tickPosted) return
        const due = dueAt() - (yield* Clock.currentTimeMillis)
        if (due === Number.POSITIVE_INFINITY) return
        // Never longer than the sync interval: records written meanwhile may be due sooner than
        // the head this wait was for.
        if (due > 0) yield* Effect.sleep(Duration.millis(Math.min(due, syncInterval)))
        if (closed || tickPosted || !needsSync()) return
        if (dueAt() <= (yield* Clock.currentTimeMillis)) {
          tickPosted = true
          mailbox.unsafeOffer({ _tag: "Tick" })
        } else {
          armSyncTimer()
        }
      }),
    )

    /** Commands posted and not yet answered by the writer: while any is, records queue behind it. */
    let pending = 0
    const settle = <A, E>(done: Deferred.Deferred<A, E>, exit: Exit.Exit<A, E>) => {
      pending--
      return Deferred.done(done, exit)
    }

    /** Posts a command and waits for it; `whenClosed` (built only then) once the sink is closed. */
    const post = <A, E>(
      make: (done: Deferred.Deferred<A, E>) => Command,
      whenClosed: () => Effect.Effect<A, E>,
    ) =>
      Effect.suspend(() => {
        if (closed) return whenClosed()
        const done = Deferred.unsafeMake<A, E>(FiberId.none)
        pending++
        mailbox.unsafeOffer(make(done))
        return Deferred.await(done)
      })

    const failClosed = () => Effect.fail(closedError())

    /**
     * A non-durable record appended at once, in the caller's fiber: only when nothing is queued
     * or being handled before it (order), the file is open and was still the one at the path when
     * last checked (within `pathCheckIntervalMs` of `now`), and no rotation is due. `undefined`
     * otherwise: the writer takes it.
     */
    const appendNow = (
      prepared: PreparedRecord,
      now: number,
    ): Effect.Effect<string, AuditWriteError> | undefined => {
      if (pending > 0 || state._tag !== "Open") return undefined
      const file = state.file
      const current = target ?? requested
      if (now - pathCheckedAt >= pathCheckInterval) {
        let stat: fs.Stats | undefined
        try {
          stat = fs.statSync(current, { throwIfNoEntry: false })
        } catch {
          return undefined
        }
        // Another file (or none) at the path: the writer reopens it and says so in the log.
        if (stat === undefined || stat.ino !== file.ino || stat.dev !== file.dev) return undefined
        pathCheckedAt = now
      }
      let record: AuditRecord
      try {
        record = seal(prepared, file.position, key)
      } catch (cause) {
        return Effect.fail(new AuditWriteError({ message: "audit record could not be sealed", cause }))
      }
      const line = `${JSON.stringify(record)}\n`
      const size = Buffer.byteLength(line)
      if (file.size > 0 && file.size + size > maxBytes) return undefined
      // Sealed and written in this one synchronous step: no other record can take the same place
      // in the chain between the two.
      try {
        writeTextSync(file.handle.fd, line, size)
      } catch (cause) {
        // Until the sink is marked unavailable, records queue behind this failure.
        pending++
        return Effect.ensuring(
          fail(ioError(current, "write")(cause)),
          Effect.sync(() => {
            pending--
          }),
        )
      }
      file.size += size
      file.position = { seq: record.seq, hash: record.hash }
      armSyncTimer()
      return Effect.succeed(prepared.id)
    }

    const write: AuditService["write"] = (entry, writeOptions) =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        let prepared: PreparedRecord
        try {
          prepared = prepare(entry, redact, new Date(now))
        } catch (cause) {
          return Effect.fail(new AuditWriteError({ message: "audit record could not be built", cause }))
        }
        const durable = writeOptions?.durable === true
        if (!durable && !closed) {
          const appended = appendNow(prepared, now)
          if (appended !== undefined) return appended
        }
        return post<string, AuditWriteError>(
          (done) => ({ _tag: "Record", prepared, durable, done }),
          failClosed,
        )
      }).pipe((written) => traced("Audit.write", {}, written))

    const flush: AuditService["flush"] = post<void, AuditWriteError>(
      (done) => ({ _tag: "Flush", done }),
      failClosed,
    ).pipe((flushed) => traced("Audit.flush", {}, flushed))

    // First open now, so a lock conflict and recovery are reported at start; a failure is
    // reported and retried by the first write.
    yield* ensureOpen.pipe(Effect.ignore)

    yield* Effect.forkScoped(syncTimer)

    // Should the writer ever stop on a defect, nobody is left waiting and the file is closed.
    yield* writer.pipe(
      Effect.ensuring(Effect.uninterruptible(shutdown)),
      Effect.catchAllCause((cause) => Effect.logError("audit log writer stopped", cause)),
      Effect.forkScoped,
    )

    // Runs before the writer fiber is interrupted: everything posted is written and fsynced.
    yield* Effect.addFinalizer(() =>
      post<void, never>(
        (done) => ({ _tag: "Close", done }),
        () => Effect.void,
      ),
    )

    return { write, flush, currentFile: () => target ?? requested } satisfies AuditService
  })

/** The file sink as the `Audit` service; the file is closed (and fsynced) with the scope. */
export const layerFile = (options: FileAuditOptions): Layer.Layer<Audit> =>
  Layer.scoped(Audit, makeFile(options))

/** The file sink configured by `AUDIT_LOG_PATH`, `AUDIT_MAX_BYTES` and `AUDIT_MAX_FILES`. */
export const layerFileConfig = (
  options: Omit<FileAuditOptions, "path" | "maxBytes" | "maxFiles"> = {},
): Layer.Layer<Audit, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(auditConfig, (config) => layerFile({ ...options, ...config })))

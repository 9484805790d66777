/**
 * File-system helpers of the file sink: errno codes, I/O failures as `AuditWriteError`, complete
 * writes, and the fsyncs that make a new directory entry or a replaced file survive a power loss.
 */
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import { AuditWriteError } from "./port.js"

export const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code

const describeError = (error: unknown) => {
  const code = errorCode(error)
  const message = error instanceof Error ? error.message : String(error)
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message
}

export const ioError = (target: string, action: string) => (cause: unknown) =>
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

export const syncDirectory = (directory: string) =>
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
export const replaceFileDurably = async (target: string, text: string) => {
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

/**
 * Writes all of `bytes` to `fd` at once (a regular file may take fewer bytes per call). Synchronous
 * on purpose: appending to a file is a copy into the page cache, microseconds, and a write that
 * cannot interleave with another needs no coordination. Throws on failure.
 */
export const writeAllSync = (fd: number, bytes: Buffer) => {
  let offset = 0
  while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset)
}

/**
 * Writes all of `text` (`byteLength` bytes of UTF-8) to `fd`: handed to the kernel as a string,
 * without a Buffer of its own; a short write (rare for a file) finishes from a Buffer.
 */
export const writeTextSync = (fd: number, text: string, byteLength: number) => {
  const written = fs.writeSync(fd, text)
  if (written < byteLength) writeAllSync(fd, Buffer.from(text, "utf8").subarray(written))
}

/**
 * Where the chain continues when a log is opened: the log's last record, or its head file when
 * the log is behind it. A torn last line (a write interrupted by a crash) is cut off first.
 */
import * as fs from "node:fs"
import type { ChainPosition } from "./chain.js"
import { errorCode } from "./io.js"
import { headPathOf, rotatedPathOf } from "./paths.js"
import { START } from "./record.js"

/** A last record larger than this cannot be recovered on open. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024

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

export interface Recovered {
  readonly position: ChainPosition
  readonly warnings: ReadonlyArray<string>
}

/** Where the chain continues: the file's last record, or the head file when the file is behind it. */
export const recover = (file: string): Recovered => {
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

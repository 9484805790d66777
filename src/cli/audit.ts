/**
 * `proxmox-mcp audit verify [--partial] FILE...`: checks the audit hash chain across rotated files
 * (oldest first) and, when the newest file has a `.head` next to it, that nothing was cut from
 * its end. Names the first bad record by file, line and seq. Exit 0 intact, 1 tampered (or
 * damaged), 2 usage or unreadable files.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { type ChainPosition, makeVerifier } from "../audit/chain.js"
import { headPathOf, rotatedPathOf } from "../audit/paths.js"

export interface VerifyOptions {
  /** Accept a chain that starts mid-way (the oldest rotated files were removed by rotation). */
  readonly partial?: boolean
}

export interface VerifyResult {
  readonly ok: boolean
  readonly status: "intact" | "tampered" | "unreadable"
  readonly message: string
}

interface Line {
  readonly text: string
  readonly number: number
  /** false for a last line without its newline: the record was cut. */
  readonly terminated: boolean
}

/** The file's lines; split on the newline byte, which never occurs inside a UTF-8 sequence. */
async function* readLines(file: string): AsyncGenerator<Line> {
  let rest: Buffer = Buffer.alloc(0)
  let number = 0
  for await (const chunk of fs.createReadStream(file)) {
    const buffer: Buffer = rest.length === 0 ? (chunk as Buffer) : Buffer.concat([rest, chunk as Buffer])
    let start = 0
    let end = buffer.indexOf(0x0a, start)
    while (end !== -1) {
      number++
      yield { text: buffer.toString("utf8", start, end), number, terminated: true }
      start = end + 1
      end = buffer.indexOf(0x0a, start)
    }
    rest = buffer.subarray(start)
  }
  if (rest.length > 0) yield { text: rest.toString("utf8"), number: number + 1, terminated: false }
}

const parseHead = (text: string): ChainPosition | undefined => {
  try {
    const value = JSON.parse(text) as { seq?: unknown; hash?: unknown }
    return typeof value.seq === "number" && Number.isSafeInteger(value.seq) && typeof value.hash === "string"
      ? { seq: value.seq, hash: value.hash }
      : undefined
  } catch {
    return undefined
  }
}

/** `audit.jsonl.2 audit.jsonl.1 audit.jsonl`, when the first file given has rotated siblings. */
const rotationHint = (file: string): string => {
  const base = file.replace(/\.\d+$/, "")
  const rotated: Array<string> = []
  for (let n = 1; fs.existsSync(rotatedPathOf(base, n)); n++) rotated.unshift(rotatedPathOf(base, n))
  return rotated.length === 0 ? "" : ` (rotated files exist; oldest first: ${[...rotated, base].join(" ")})`
}

const seqIn = (text: string): number | undefined => {
  const match = /"seq"\s*:\s*(\d+)/.exec(text)
  return match ? Number(match[1]) : undefined
}

export const auditVerify = async (
  files: ReadonlyArray<string>,
  options: VerifyOptions = {},
): Promise<VerifyResult> => {
  if (files.length === 0) return { ok: false, status: "unreadable", message: "no audit files given" }
  const tampered = (file: string, line: number, seq: number | undefined, reason: string): VerifyResult => ({
    ok: false,
    status: "tampered",
    message: `TAMPERED: ${file}:${line}${seq === undefined ? "" : ` (seq ${seq})`}: ${reason}`,
  })

  const newest = files[files.length - 1]!
  const headFile = headPathOf(newest)
  let head: ChainPosition | undefined
  if (fs.existsSync(headFile)) {
    head = parseHead(fs.readFileSync(headFile, "utf8"))
    if (head === undefined) {
      return { ok: false, status: "tampered", message: `TAMPERED: ${headFile}: the head file is unreadable` }
    }
  }

  const verifier = makeVerifier(options.partial ? { partial: true } : {})
  let count = 0
  let first: number | undefined
  let last: { file: string; line: number; seq: number } | undefined
  for (const file of files) {
    try {
      for await (const line of readLines(file)) {
        if (!line.terminated) {
          return tampered(
            file,
            line.number,
            seqIn(line.text),
            "the last line is truncated (the record was cut)",
          )
        }
        let record: unknown
        try {
          record = JSON.parse(line.text)
        } catch {
          return tampered(file, line.number, seqIn(line.text), "not a JSON record")
        }
        const check = verifier.next(record)
        if (!check.ok) {
          const hint =
            count === 0 && check.reason.startsWith("the chain does not start") ? rotationHint(file) : ""
          return tampered(file, line.number, check.seq ?? seqIn(line.text), check.reason + hint)
        }
        if (head !== undefined && check.seq === head.seq && check.hash !== head.hash) {
          return tampered(
            file,
            line.number,
            check.seq,
            `the head file says this record's hash is ${head.hash}: the chain was rewritten from here on`,
          )
        }
        count++
        first ??= check.seq
        last = { file, line: line.number, seq: check.seq }
      }
    } catch (error) {
      return {
        ok: false,
        status: "unreadable",
        message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      }
    }
  }

  if (head !== undefined && head.seq > (last?.seq ?? 0)) {
    const where =
      last === undefined
        ? `${newest} holds no records`
        : `the log ends at seq ${last.seq} (${last.file}:${last.line})`
    return {
      ok: false,
      status: "tampered",
      message: `TAMPERED: ${newest}: ${where} but ${path.basename(headFile)} says seq ${head.seq}: records after it were cut`,
    }
  }
  // The head is replaced after each flush, so after a crash it may lag the log by one record,
  // never by more: more records past it were not written by the server.
  if (head !== undefined && last !== undefined && last.seq > head.seq + 1) {
    return {
      ok: false,
      status: "tampered",
      message: `TAMPERED: ${newest}: the log goes on to seq ${last.seq} (${last.file}:${last.line}) but ${path.basename(headFile)} says seq ${head.seq}: records were appended after it`,
    }
  }
  const span = last === undefined ? "no records" : `${count} records, seq ${first}..${last.seq}`
  const headNote =
    head === undefined
      ? `; no ${path.basename(headFile)} next to ${newest}, so a cut tail cannot be detected`
      : last !== undefined && last.seq === head.seq + 1
        ? `; one record past the head (seq ${head.seq}), as a crash before the head was updated leaves it`
        : `; head matches (seq ${head.seq})`
  return {
    ok: true,
    status: "intact",
    message: `OK: ${span} in ${files.length} file${files.length === 1 ? "" : "s"}, chain intact${headNote}`,
  }
}

const USAGE = `Usage: proxmox-mcp audit verify [--partial] FILE...

Checks the hash chain of audit log files, given oldest first, e.g.
  proxmox-mcp audit verify audit.jsonl.2 audit.jsonl.1 audit.jsonl
and the head file next to the newest one (audit.jsonl.head), which catches a cut tail.
  --partial   the first file does not start the log (older rotated files were removed)
Exit status: 0 intact, 1 tampered or damaged (the first bad record is named), 2 usage or unreadable file.`

/** `proxmox-mcp audit ...` (args after `audit`): prints the verdict and returns the exit code. */
export const runAuditCommand = async (args: ReadonlyArray<string>): Promise<number> => {
  const [command, ...rest] = args
  if (command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (command !== "verify") {
    process.stderr.write(
      `${command === undefined ? "missing command" : `unknown command 'audit ${command}'`}\n${USAGE}\n`,
    )
    return 2
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const unknown = rest.find((arg) => arg.startsWith("-") && arg !== "--partial")
  const files = rest.filter((arg) => !arg.startsWith("-"))
  if (unknown !== undefined || files.length === 0) {
    process.stderr.write(
      `${unknown === undefined ? "no audit files given" : `unknown option ${unknown}`}\n${USAGE}\n`,
    )
    return 2
  }
  const result = await auditVerify(files, { partial: rest.includes("--partial") })
  if (result.ok) {
    process.stdout.write(`${result.message}\n`)
    return 0
  }
  process.stderr.write(`${result.message}\n`)
  return result.status === "unreadable" ? 2 : 1
}

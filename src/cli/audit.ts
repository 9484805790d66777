/**
 * `proxmox-mcp audit verify|export-head [--partial] [--key|--key-file F] [--witness S:H] FILE...`:
 * checks the audit hash chain across rotated files (oldest first) and, when the newest file has a
 * `.head` next to it, that nothing was cut from its end. With a key every record's `mac` is
 * checked too; with a witness (an earlier `export-head`), that the record it names is unchanged.
 * Names the first bad record by file, line and seq. Exit 0 intact, 1 tampered (or damaged),
 * 2 usage or unreadable files.
 */
import type { KeyObject } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Redacted from "effect/Redacted"
import { type ChainPosition, makeVerifier } from "../audit/chain.js"
import { hmacKeyObject, MIN_HMAC_KEY_LENGTH } from "../audit/config.js"
import { headPathOf, rotatedPathOf } from "../audit/paths.js"
import type { Environment } from "../config/provider.js"

export interface VerifyOptions {
  /** Accept a chain that starts mid-way (the oldest rotated files were removed by rotation). */
  readonly partial?: boolean
  /** The `AUDIT_HMAC_KEY`: every record must carry a `mac` made with it. */
  readonly key?: KeyObject
  /** A head exported earlier (`audit export-head`): the record at its seq must still have its hash. */
  readonly witness?: ChainPosition
}

/** The newest record of an intact log, as `audit export-head` prints it. */
export interface ExportedHead {
  readonly file: string
  readonly seq: number
  readonly hash: string
  readonly ts?: string
  readonly mac?: string
  /** `seq:hash`, the value `audit verify --witness` takes. */
  readonly witness: string
}

export interface VerifyResult {
  readonly ok: boolean
  readonly status: "intact" | "tampered" | "unreadable"
  readonly message: string
  /** The newest record, when the log is intact and not empty. */
  readonly head?: ExportedHead
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

  const verifier = makeVerifier({
    ...(options.partial ? { partial: true } : {}),
    ...(options.key === undefined ? {} : { key: options.key }),
  })
  const witness = options.witness
  let witnessSeen = false
  let count = 0
  let first: number | undefined
  let last: { file: string; line: number; seq: number; record: Record<string, unknown> } | undefined
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
        if (witness !== undefined && check.seq === witness.seq) {
          if (check.hash !== witness.hash) {
            return tampered(
              file,
              line.number,
              check.seq,
              `the witness says this record's hash is ${witness.hash}: the chain was rewritten from here on`,
            )
          }
          witnessSeen = true
        }
        count++
        first ??= check.seq
        last = { file, line: line.number, seq: check.seq, record: record as Record<string, unknown> }
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
  if (witness !== undefined && !witnessSeen) {
    if (last === undefined || witness.seq > last.seq) {
      return {
        ok: false,
        status: "tampered",
        message: `TAMPERED: ${newest}: the log ends at seq ${last?.seq ?? 0} but the witness saw seq ${witness.seq}: records were cut`,
      }
    }
    return {
      ok: false,
      status: "unreadable",
      message: `the witness names seq ${witness.seq}, which is not in the files given (they start at seq ${first}); give the rotated file that holds it`,
    }
  }
  const span = last === undefined ? "no records" : `${count} records, seq ${first}..${last.seq}`
  const headNote =
    head === undefined
      ? `; no ${path.basename(headFile)} next to ${newest}, so a cut tail cannot be detected`
      : last !== undefined && last.seq === head.seq + 1
        ? `; one record past the head (seq ${head.seq}), as a crash before the head was updated leaves it`
        : `; head matches (seq ${head.seq})`
  const checks = [
    options.key === undefined ? "" : ", every mac valid",
    witness === undefined ? "" : `, witness seq ${witness.seq} matches`,
  ].join("")
  return {
    ok: true,
    status: "intact",
    message: `OK: ${span} in ${files.length} file${files.length === 1 ? "" : "s"}, chain intact${checks}${headNote}`,
    ...(last === undefined ? {} : { head: exportedHead(newest, last.record, last.seq) }),
  }
}

const exportedHead = (file: string, record: Record<string, unknown>, seq: number): ExportedHead => {
  const hash = String(record.hash)
  return {
    file: path.resolve(file),
    seq,
    hash,
    ...(typeof record.ts === "string" ? { ts: record.ts } : {}),
    ...(typeof record.mac === "string" ? { mac: record.mac } : {}),
    witness: `${seq}:${hash}`,
  }
}

const USAGE = `Usage: proxmox-mcp audit verify [options] FILE...
       proxmox-mcp audit export-head [options] FILE...

verify checks the hash chain of audit log files, given oldest first, e.g.
  proxmox-mcp audit verify audit.jsonl.2 audit.jsonl.1 audit.jsonl
and the head file next to the newest one (audit.jsonl.head), which catches a cut tail.
export-head verifies the same way, then prints the newest record's seq and hash as one JSON line,
for an external witness (a syslog line, a ticket); give its "witness" to a later verify.

Options:
  --partial          the first file does not start the log (older rotated files were removed)
  --key              also check every record's mac with the key in AUDIT_HMAC_KEY (from the
                     environment, so it stays off the command line)
  --key-file FILE    the same, with the key read from FILE (one trailing newline is ignored)
  --witness SEQ:HASH the record SEQ must still have HASH (the "witness" of an earlier export-head)
Exit status: 0 intact, 1 tampered or damaged (the first bad record is named), 2 usage or unreadable file.`

class AuditUsageError extends Error {}

const parseWitness = (text: string): ChainPosition => {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text.trim())
  if (match === null) throw new AuditUsageError(`--witness: expected SEQ:HASH (64 hex digits), got '${text}'`)
  return { seq: Number(match[1]), hash: match[2]! }
}

const keyFrom = (text: string, source: string): KeyObject => {
  if (text.length < MIN_HMAC_KEY_LENGTH)
    throw new AuditUsageError(`${source}: the key is shorter than ${MIN_HMAC_KEY_LENGTH} characters`)
  return hmacKeyObject(Redacted.make(text))
}

interface AuditArgs {
  readonly files: ReadonlyArray<string>
  readonly options: VerifyOptions
}

const parseArgs = (args: ReadonlyArray<string>, env: Environment): AuditArgs => {
  const files: Array<string> = []
  let partial = false
  let key: KeyObject | undefined
  let witness: ChainPosition | undefined
  const flagArgument = (flag: string, index: number) => {
    const value = args[index + 1]
    if (value === undefined || value.startsWith("-")) throw new AuditUsageError(`${flag} needs a value`)
    return value
  }
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!
    if (arg === "--partial") partial = true
    else if (arg === "--key") {
      const text = env.AUDIT_HMAC_KEY
      if (text === undefined || text === "") throw new AuditUsageError("--key: AUDIT_HMAC_KEY is not set")
      key = keyFrom(text, "AUDIT_HMAC_KEY")
    } else if (arg === "--key-file") {
      const file = flagArgument(arg, index++)
      let text: string
      try {
        text = fs.readFileSync(file, "utf8").replace(/\r?\n$/, "")
      } catch (error) {
        throw new AuditUsageError(
          `--key-file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
        )
      }
      key = keyFrom(text, `--key-file ${file}`)
    } else if (arg === "--witness") witness = parseWitness(flagArgument(arg, index++))
    else if (arg.startsWith("-")) throw new AuditUsageError(`unknown option ${arg}`)
    else files.push(arg)
  }
  if (files.length === 0) throw new AuditUsageError("no audit files given")
  return {
    files,
    options: {
      ...(partial ? { partial } : {}),
      ...(key === undefined ? {} : { key }),
      ...(witness === undefined ? {} : { witness }),
    },
  }
}

/** `proxmox-mcp audit ...` (args after `audit`): prints the verdict and returns the exit code. */
export const runAuditCommand = async (
  args: ReadonlyArray<string>,
  env: Environment = {},
): Promise<number> => {
  const [command, ...rest] = args
  if (
    command === "help" ||
    command === "--help" ||
    command === "-h" ||
    rest.includes("--help") ||
    rest.includes("-h")
  ) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (command !== "verify" && command !== "export-head") {
    process.stderr.write(
      `${command === undefined ? "missing command" : `unknown command 'audit ${command}'`}\n${USAGE}\n`,
    )
    return 2
  }
  let parsed: AuditArgs
  try {
    parsed = parseArgs(rest, env)
  } catch (error) {
    if (!(error instanceof AuditUsageError)) throw error
    process.stderr.write(`${error.message}\n${USAGE}\n`)
    return 2
  }
  const result = await auditVerify(parsed.files, parsed.options)
  if (!result.ok) {
    process.stderr.write(`${result.message}\n`)
    return result.status === "unreadable" ? 2 : 1
  }
  if (command === "verify") {
    process.stdout.write(`${result.message}\n`)
    return 0
  }
  if (result.head === undefined) {
    process.stderr.write(`${parsed.files.at(-1)} holds no records: there is no head to export\n`)
    return 1
  }
  process.stdout.write(`${JSON.stringify(result.head)}\n`)
  return 0
}

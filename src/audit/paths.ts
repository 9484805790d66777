/** Names of the files that live next to an audit log. */
import * as path from "node:path"

export const headPathOf = (file: string): string => `${file}.head`
export const lockPathOf = (file: string): string => `${file}.lock`
export const rotatedPathOf = (file: string, n: number): string => `${file}.${n}`

/** `audit.jsonl` -> `audit.pid1234.jsonl`: where a second process writes while the lock is held. */
export const siblingPathOf = (file: string, pid: number, attempt = 1): string => {
  const extension = path.extname(file)
  const base = extension === "" ? file : file.slice(0, -extension.length)
  return `${base}.pid${pid}${attempt > 1 ? `-${attempt}` : ""}${extension}`
}

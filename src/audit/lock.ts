/**
 * The single-writer lock: `<log>.lock` holds the writer's pid. A lock whose holder is gone is
 * stale and taken over; one held by a live process, or by another sink of this one, is not.
 */
import * as fs from "node:fs"
import { errorCode } from "./io.js"

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
export const tryLock = (lockPath: string): LockResult => {
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

export const releaseLock = (lockPath: string) => {
  heldLocks.delete(lockPath)
  if (lockHolder(lockPath) === process.pid) fs.rmSync(lockPath, { force: true })
}

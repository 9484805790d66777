/** `hash-password`: one line from stdin (newline removed) -> its PHC scrypt hash on stdout, nothing else. */
import * as Effect from "effect/Effect"
import { hashPassword } from "../auth/password.js"
import { say } from "./args.js"

const MAX_PASSWORD_BYTES = 1024

const readLine = Effect.async<string | undefined>((resume) => {
  const chunks: Array<Buffer> = []
  let size = 0
  const finish = () => {
    process.stdin.off("data", onData)
    process.stdin.off("end", finish)
    process.stdin.pause()
    const text = Buffer.concat(chunks).toString("utf8")
    const newline = text.indexOf("\n")
    if (newline < 0 && size > MAX_PASSWORD_BYTES) return resume(Effect.succeed(undefined))
    resume(Effect.succeed((newline < 0 ? text : text.slice(0, newline)).replace(/\r$/, "")))
  }
  const onData = (chunk: Buffer) => {
    chunks.push(chunk)
    size += chunk.length
    if (chunk.includes(10) || size > MAX_PASSWORD_BYTES) finish()
  }
  process.stdin.on("data", onData)
  process.stdin.once("end", finish)
})

export const hashPasswordCommand: Effect.Effect<number> = Effect.gen(function* () {
  const password = yield* readLine
  if (password === undefined || password === "" || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    say("proxmox-mcp hash-password: expected one line of 1 to 1024 bytes on stdin")
    return 2
  }
  const hash = yield* Effect.orDie(hashPassword(password))
  process.stdout.write(`${hash}\n`)
  return 0
})

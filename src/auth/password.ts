/**
 * Password hashes as PHC strings with scrypt from `node:crypto` (no native build):
 * `$scrypt$ln=14,r=8,p=5$<salt>$<hash>` (salt and hash in unpadded base64). The default cost is
 * one of OWASP's scrypt equivalents (N=2^14, r=8, p=5: 16 MiB, about the work of N=2^17, p=1)
 * and keeps a login's memory small in a 256 MB container. Verification reads the cost from the
 * string, within bounds, and compares in constant time.
 */
import * as crypto from "node:crypto"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

export interface ScryptCost {
  readonly ln: number
  readonly r: number
  readonly p: number
}

export const DEFAULT_COST: ScryptCost = { ln: 13, r: 8, p: 10 }

const KEY_BYTES = 32
const SALT_BYTES = 16

/** A stored hash that is not a PHC scrypt string this server accepts. */
export class InvalidPasswordHash extends Data.TaggedError("InvalidPasswordHash")<{
  readonly message: string
}> {}

const b64 = (bytes: Buffer) => bytes.toString("base64").replace(/=+$/, "")

const derive = (password: string, salt: Buffer, cost: ScryptCost) =>
  Effect.async<Buffer, InvalidPasswordHash>((resume) => {
    const N = 2 ** cost.ln
    crypto.scrypt(
      password.normalize("NFKC"),
      salt,
      KEY_BYTES,
      { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r + 1024 * 1024 },
      (error, key) =>
        resume(
          error === null
            ? Effect.succeed(key)
            : Effect.fail(new InvalidPasswordHash({ message: "scrypt refused the parameters" })),
        ),
    )
  })

export const hashPassword = (password: string, cost: ScryptCost = DEFAULT_COST) =>
  Effect.gen(function* () {
    const salt = crypto.randomBytes(SALT_BYTES)
    const key = yield* derive(password, salt, cost)
    return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${b64(salt)}$${b64(key)}`
  })

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{32,})$/

/** Parses a PHC scrypt string; bounds keep a hostile users file from exhausting memory. */
export const parseHash = (phc: string) => {
  const match = PHC.exec(phc)
  if (match === null) return undefined
  const cost = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) }
  if (cost.ln < 10 || cost.ln > 20 || cost.r < 1 || cost.r > 32 || cost.p < 1 || cost.p > 16) return undefined
  return { cost, salt: Buffer.from(match[4]!, "base64"), key: Buffer.from(match[5]!, "base64") }
}

export const verifyPassword = (password: string, phc: string) =>
  Effect.gen(function* () {
    const parsed = parseHash(phc)
    if (parsed === undefined) return yield* new InvalidPasswordHash({ message: "not a PHC scrypt hash" })
    const key = yield* derive(password, parsed.salt, parsed.cost)
    return key.length === parsed.key.length && crypto.timingSafeEqual(key, parsed.key)
  })

/** Spends the time of one verification, so an unknown user answers as slowly as a wrong password. */
let dummyHash: string | undefined
export const burnVerification = (password: string) =>
  Effect.gen(function* () {
    dummyHash ??= yield* Effect.orDie(hashPassword("not a password of anyone"))
    yield* Effect.ignore(verifyPassword(password, dummyHash))
  })

/** Who is calling. stdio has one local principal; the HTTP transport derives one per login. */
import type { Tier } from "./ids.js"

export interface Principal {
  readonly sub: string
  readonly role: string
  readonly transport: "stdio" | "http" | "rest" | "cli"
  readonly ip?: string
  /** The role's or user's tier; the effective tier is the lowest of this and the server's. */
  readonly tier?: Tier
  /** Globs over target paths (`/nodes/pve1/*`, `*\/qemu/*`); absent = every resource. */
  readonly resources?: ReadonlyArray<string>
  /** May run Sutian's admin-only operations. */
  readonly admin?: boolean
}

/** The operator at the other end of a stdio pipe: limited only by the server's own policy. */
export const LOCAL_PRINCIPAL: Principal = { sub: "local", role: "local", transport: "stdio", admin: true }

/**
 * A TLS handshake with an endpoint that only looks: is it reachable, which certificate does it
 * show (SHA-256 fingerprint), and would the configured trust (CA, pin) accept it. Nothing is sent
 * after the handshake. Used by `doctor` and `setup` to tell a user exactly what to pin.
 */
import * as net from "node:net"
import * as tls from "node:tls"
import * as Effect from "effect/Effect"

export interface ProbeTarget {
  readonly host: string
  readonly port: number
  /** PEM CA bundle to verify against instead of the system store. */
  readonly ca?: string
  readonly timeoutMs?: number
}

export type ProbeResult =
  | {
      readonly _tag: "Handshake"
      /** Upper-case hex with colons, as Node and `PROXMOX_TLS_FINGERPRINTS` write it. */
      readonly fingerprint: string
      /** The chain and host name verify against the CA (or the system store). */
      readonly trusted: boolean
      /** Why not, in Node's words (`self-signed certificate`, `unable to verify ...`). */
      readonly untrustedReason?: string
      readonly subject?: string
      readonly validTo?: string
    }
  | { readonly _tag: "Unreachable"; readonly code: string; readonly message: string }

const describeSubject = (cert: tls.PeerCertificate) => {
  const cn = cert.subject?.CN
  return Array.isArray(cn) ? cn.join(", ") : cn
}

export const probeTls = (target: ProbeTarget): Effect.Effect<ProbeResult> =>
  Effect.async<ProbeResult>((resume) => {
    // SNI takes host names only.
    const servername = net.isIP(target.host) === 0 ? target.host : undefined
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      rejectUnauthorized: false,
      ...(servername === undefined ? {} : { servername }),
      ...(target.ca === undefined ? {} : { ca: target.ca }),
    })
    let settled = false
    const settle = (result: ProbeResult) => {
      if (settled) return
      settled = true
      socket.destroy()
      resume(Effect.succeed(result))
    }
    socket.setTimeout(target.timeoutMs ?? 5_000, () =>
      settle({
        _tag: "Unreachable",
        code: "TIMEOUT",
        message: `no TLS handshake within ${target.timeoutMs ?? 5_000} ms`,
      }),
    )
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate()
      if (cert === undefined || cert.fingerprint256 === undefined) {
        settle({ _tag: "Unreachable", code: "NO_CERTIFICATE", message: "the server showed no certificate" })
        return
      }
      const identity = socket.authorized ? tls.checkServerIdentity(target.host, cert) : undefined
      const trusted = socket.authorized && identity === undefined
      const subject = describeSubject(cert)
      settle({
        _tag: "Handshake",
        fingerprint: cert.fingerprint256.toUpperCase(),
        trusted,
        ...(trusted
          ? {}
          : { untrustedReason: identity?.message ?? String(socket.authorizationError ?? "not trusted") }),
        ...(subject === undefined ? {} : { subject }),
        ...(cert.valid_to === undefined ? {} : { validTo: cert.valid_to }),
      })
    })
    socket.once("error", (error: NodeJS.ErrnoException) =>
      settle({ _tag: "Unreachable", code: error.code ?? "ERROR", message: error.message }),
    )
    return Effect.sync(() => socket.destroy())
  })

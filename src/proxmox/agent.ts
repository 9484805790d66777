/**
 * The HTTPS agent for Proxmox endpoints: keep-alive, the configured CA, and SHA-256 certificate
 * pinning that works with self-signed certificates.
 *
 * Node does not call `checkServerIdentity` when the chain fails verification, so a pinned
 * connection completes the handshake without chain verification and compares the peer
 * certificate's fingerprint with the pin. The socket is handed to the HTTP client at once, so
 * that Node's agent counts it against `maxSockets` while it is still connecting (a socket given
 * later, through the callback, is not counted: 16 concurrent requests would open 16 sockets),
 * but corked: what the client writes stays in the socket's buffer, and reaches TLS only after
 * the fingerprint matched. On a mismatch the socket is destroyed with the error before a single
 * request byte is written. TLS sessions are not cached, so a resumed session can never skip the
 * comparison.
 */

import type * as http from "node:http"
import * as https from "node:https"
import type { Duplex } from "node:stream"
import * as tls from "node:tls"
import * as Effect from "effect/Effect"
import type { ProxmoxConfig } from "../config/proxmox.js"
import { markUnsent } from "./unsent.js"

export class PinMismatchError extends Error {
  readonly code = "ERR_TLS_CERT_PIN_MISMATCH"
  constructor(
    readonly endpoint: string,
    readonly expected: string,
    readonly actual: string | undefined,
  ) {
    super(
      `certificate of ${endpoint} does not match the pinned SHA-256 fingerprint (got ${actual ?? "no certificate"})`,
    )
  }
}

type ConnectCallback = (error: Error | null, stream: Duplex) => void

class ProxmoxAgent extends https.Agent {
  /**
   * One TLS context for every connection (the CA, or the system's roots): `tls.connect` would
   * build one per connection otherwise, about 0.3 ms each, and PVE closes the connection after
   * every error answer.
   */
  private readonly secureContext: tls.SecureContext

  constructor(
    options: https.AgentOptions,
    /** `host:port` -> pinned fingerprint */
    private readonly pins: ReadonlyMap<string, string>,
  ) {
    super(options)
    this.secureContext = tls.createSecureContext(options.ca === undefined ? {} : { ca: options.ca })
  }

  override createConnection(
    options: http.RequestOptions,
    callback?: ConnectCallback,
  ): Duplex | null | undefined {
    const key = `${options.host}:${options.port}`
    const pin = this.pins.get(key)
    if (pin === undefined) {
      return super.createConnection(
        { ...options, secureContext: this.secureContext } as http.RequestOptions,
        callback,
      )
    }
    const socket = tls.connect({
      ...(options as tls.ConnectionOptions),
      secureContext: this.secureContext,
      rejectUnauthorized: false,
      session: undefined,
    })
    // Held until the pin matched; the HTTP client's own cork/uncork pairs nest inside this one.
    socket.cork()
    // A failure before the handshake completed sent nothing: the API layer may send elsewhere.
    socket.once("error", markUnsent)
    socket.once("secureConnect", () => {
      socket.off("error", markUnsent)
      const actual = socket.getPeerCertificate()?.fingerprint256
      if (actual !== pin) {
        socket.destroy(new PinMismatchError(key, pin, actual))
        return
      }
      socket.uncork()
    })
    return socket
  }
}

const endpointKey = (host: string, port: number) => `${host}:${port}`

/** The pinning keep-alive agent for `config`'s endpoints, destroyed with the scope. */
export const makeProxmoxAgent = (config: ProxmoxConfig) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const pins = new Map<string, string>()
      for (const endpoint of config.endpoints) {
        if (endpoint.fingerprint !== undefined)
          pins.set(endpointKey(endpoint.host, endpoint.port), endpoint.fingerprint)
      }
      return new ProxmoxAgent(
        {
          keepAlive: true,
          // pvedaemon runs 3 workers per node by default (WIRE.md 2.1); a few sockets per endpoint suffice.
          maxSockets: 8,
          rejectUnauthorized: config.tls.verify,
          ...(config.tls.ca === undefined ? {} : { ca: config.tls.ca }),
          maxCachedSessions: pins.size > 0 ? 0 : 100,
        },
        pins,
      )
    }),
    (agent) => Effect.sync(() => agent.destroy()),
  )

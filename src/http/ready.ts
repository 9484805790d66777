/**
 * Readiness (SPEC section 12): ready when at least one configured API endpoint answers an
 * authenticated `GET /version` with 200 within the timeout. 595, 596, timeouts and refused
 * connections do not count. The answer names no node, host or address.
 */

import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { ProxmoxConfig, ProxmoxEndpoint } from "../config/proxmox.js"
import { ProxmoxTransport } from "../proxmox/transport.js"

export interface Readiness {
  readonly ready: boolean
  readonly reachable: number
  readonly total: number
  readonly reason?: string
}

const PROBE_TIMEOUT_MS = 3_000

/** Probes every endpoint concurrently; R = the Proxmox transport (pinned, as the calls use it). */
export const makeReadiness = (config: ProxmoxConfig) =>
  Effect.map(ProxmoxTransport, (transport) => {
    const probe = (endpoint: ProxmoxEndpoint) =>
      transport
        .exchange({
          method: "GET",
          host: endpoint.host,
          port: endpoint.port,
          path: "/api2/json/version",
          authorization: `PVEAPIToken=${endpoint.tokenId}=${Redacted.value(endpoint.tokenSecret)}`,
          timeoutMs: PROBE_TIMEOUT_MS,
        })
        .pipe(
          Effect.map((answer) => answer.status === 200),
          Effect.orElseSucceed(() => false),
        )
    return Effect.gen(function* () {
      const answers = yield* Effect.forEach(config.endpoints, probe, { concurrency: "unbounded" })
      const reachable = answers.filter(Boolean).length
      const total = config.endpoints.length
      return reachable > 0
        ? ({ ready: true, reachable, total } satisfies Readiness)
        : ({
            ready: false,
            reachable,
            total,
            reason: "no Proxmox API endpoint answered an authenticated GET /version",
          } satisfies Readiness)
    })
  })

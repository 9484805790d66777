/**
 * Readiness (SPEC section 12): ready when at least one configured API endpoint answers an
 * authenticated `GET /version` with 200 within the timeout. 595, 596, timeouts and refused
 * connections do not count. The answer names no node, host or address.
 */

import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { ProxmoxConfig, ProxmoxEndpoint } from "../config/proxmox.js"

export interface Readiness {
  readonly ready: boolean
  readonly reachable: number
  readonly total: number
  readonly reason?: string
}

const PROBE_TIMEOUT = "3 seconds"

const versionUrl = (endpoint: ProxmoxEndpoint) =>
  `https://${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}/api2/json/version`

/** Probes every endpoint concurrently; R = HttpClient (the pinned Proxmox client). */
export const makeReadiness = (config: ProxmoxConfig) =>
  Effect.map(HttpClient.HttpClient, (client) => {
    const probe = (endpoint: ProxmoxEndpoint) =>
      client
        .execute(
          HttpClientRequest.get(versionUrl(endpoint)).pipe(
            HttpClientRequest.setHeader(
              "Authorization",
              `PVEAPIToken=${endpoint.tokenId}=${Redacted.value(endpoint.tokenSecret)}`,
            ),
            HttpClientRequest.acceptJson,
          ),
        )
        .pipe(
          Effect.map((response) => response.status === 200),
          Effect.scoped,
          Effect.timeoutOption(PROBE_TIMEOUT),
          Effect.map((answered) => answered._tag === "Some" && answered.value),
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

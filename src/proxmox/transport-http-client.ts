/**
 * `ProxmoxTransport` over an `@effect/platform` HttpClient, for an embedder that brings its own
 * (a proxy, its own tracing, another runtime's client). The binary uses the Node transport
 * (`transport.ts`); certificate pinning is that transport's, so a client given here verifies TLS
 * its own way.
 */
import { IncomingMessage } from "node:http"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ExchangeFailed, ProxmoxTransport } from "./transport.js"

/**
 * The HTTP reason phrase: the platform response does not expose it; the Node `IncomingMessage`
 * under it does (Node clients only), under the client's wrappers (`original`) as `source`.
 */
const statusMessageOf = (response: HttpClientResponse.HttpClientResponse): string | undefined => {
  let current: unknown = response
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    if ("source" in current && current.source instanceof IncomingMessage) return current.source.statusMessage
    current = "original" in current ? current.original : undefined
  }
  return undefined
}

const hostOf = (host: string) => (host.includes(":") ? `[${host}]` : host)

/** The transport over the context's `HttpClient`. No trace headers are sent to Proxmox. */
export const httpClientTransportLayer: Layer.Layer<ProxmoxTransport, never, HttpClient.HttpClient> =
  Layer.effect(
    ProxmoxTransport,
    Effect.map(HttpClient.HttpClient, (platformClient) => {
      const client = HttpClient.withTracerPropagation(platformClient, false)
      return ProxmoxTransport.of({
        exchange: (exchange) => {
          const url = `https://${hostOf(exchange.host)}:${exchange.port}${exchange.path}`
          const base = HttpClientRequest.make(exchange.method)(url).pipe(
            HttpClientRequest.setHeader("Authorization", exchange.authorization),
            HttpClientRequest.acceptJson,
          )
          const request =
            exchange.form === undefined
              ? base
              : HttpClientRequest.bodyText(base, exchange.form, "application/x-www-form-urlencoded")
          return client.execute(request).pipe(
            Effect.mapError((error) => new ExchangeFailed({ stage: "send", cause: error.cause ?? error })),
            Effect.flatMap((response) =>
              Effect.map(
                Effect.mapError(
                  response.text,
                  (error) => new ExchangeFailed({ stage: "read", cause: error }),
                ),
                (text) => ({ status: response.status, statusMessage: statusMessageOf(response), text }),
              ),
            ),
            Effect.timeoutFail({
              duration: Duration.millis(exchange.timeoutMs),
              onTimeout: () => new ExchangeFailed({ stage: "timeout" }),
            }),
          )
        },
      })
    }),
  )

/**
 * The HTTP exchange with a Proxmox endpoint: the port under `ProxmoxApi`, and its Node
 * implementation over `node:https` with the pinning agent (`agent.ts`).
 *
 * One exchange is one request and its whole answer, bounded by a timeout. The API layer does the
 * rest (PVE's envelope, status classification, retries, failover, coalescing). The Node
 * implementation is the per-call hot path, so it is one `Effect.async`: no fiber, no span, no
 * `AbortController`; its timeout is a timer of the request itself, cleared with it. Under a clock
 * other than the live one (a test's `TestClock`), the timeout is the Effect clock's instead, so
 * a test controls when it fires.
 *
 * An embedder with its own `@effect/platform` HttpClient (a proxy, its own tracing) uses
 * `transport-http-client.ts` instead; nothing in the `run` path loads the platform client.
 */
import * as https from "node:https"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type ProxmoxConfig, proxmoxConfig } from "../config/proxmox.js"
import type { HttpMethod } from "../domain/tool.js"
import { makeProxmoxAgent } from "./agent.js"

export interface Exchange {
  readonly method: HttpMethod
  readonly host: string
  readonly port: number
  /** The request target: `/api2/json/...`, with the query string for GET and DELETE. */
  readonly path: string
  readonly authorization: string
  /** The form-encoded body of a POST or PUT. */
  readonly form?: string
  readonly timeoutMs: number
}

export interface Answer {
  readonly status: number
  /** The HTTP reason phrase: PVE before 8.4 puts its error text only there. */
  readonly statusMessage: string | undefined
  readonly text: string
}

/**
 * No answer, or no whole answer:
 * - `send`: nothing came back (refused, DNS, TLS, the connection dropped before the status line);
 *   `cause` is the Node error, which says whether anything was written (`unsent.ts`);
 * - `read`: the status came, and the body broke off;
 * - `timeout`: no whole answer within the exchange's timeout.
 */
export class ExchangeFailed extends Data.TaggedError("ExchangeFailed")<{
  readonly stage: "send" | "read" | "timeout"
  readonly cause?: unknown
}> {
  override get message(): string {
    if (this.stage === "timeout") return "no answer in time"
    const cause = this.cause as { message?: unknown } | undefined
    return typeof cause?.message === "string" ? cause.message : String(this.cause)
  }
}

export interface ProxmoxTransportService {
  readonly exchange: (exchange: Exchange) => Effect.Effect<Answer, ExchangeFailed>
}

export class ProxmoxTransport extends Context.Tag("proxmox-mcp/ProxmoxTransport")<
  ProxmoxTransport,
  ProxmoxTransportService
>() {}

/** The clock every runtime has unless one is installed (a test's `TestClock`). */
const liveClock = Effect.runSync(Effect.clock)

const TIMED_OUT = new ExchangeFailed({ stage: "timeout" })

/** The largest answer read by default: PVE's biggest (task logs, cluster resources) are far smaller. */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024

/**
 * Sends `exchange` through `agent` and collects the answer. `timeoutMs` undefined: no timer (the
 * caller bounds the exchange on its own clock).
 */
const send = (
  agent: https.Agent,
  exchange: Exchange,
  timeoutMs: number | undefined,
  maxAnswerBytes: number,
) =>
  Effect.async<Answer, ExchangeFailed>((resume) => {
    let done = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const finish = (result: Effect.Effect<Answer, ExchangeFailed>) => {
      if (done) return
      done = true
      if (timer !== undefined) clearTimeout(timer)
      resume(result)
    }
    let answered = false
    const headers: Record<string, string | number> = {
      Authorization: exchange.authorization,
      Accept: "application/json",
    }
    if (exchange.form !== undefined) {
      headers["Content-Type"] = "application/x-www-form-urlencoded"
      headers["Content-Length"] = Buffer.byteLength(exchange.form)
    }
    const request = https.request(
      {
        host: exchange.host,
        port: exchange.port,
        method: exchange.method,
        path: exchange.path,
        headers,
        agent,
      },
      (response) => {
        answered = true
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          text += chunk
          // Counted in characters (what is held), the bytes of PVE's ASCII JSON.
          if (text.length > maxAnswerBytes) {
            finish(
              Effect.fail(
                new ExchangeFailed({
                  stage: "read",
                  cause: new Error(`the answer is larger than ${maxAnswerBytes} bytes`),
                }),
              ),
            )
            request.destroy()
          }
        })
        response.once("end", () =>
          finish(
            Effect.succeed({ status: response.statusCode ?? 0, statusMessage: response.statusMessage, text }),
          ),
        )
        response.on("error", (cause) => finish(Effect.fail(new ExchangeFailed({ stage: "read", cause }))))
        // Closed before the whole body came (after `end`, `finish` has already run).
        response.once("close", () => {
          if (!response.complete)
            finish(
              Effect.fail(
                new ExchangeFailed({ stage: "read", cause: new Error("the connection closed mid-answer") }),
              ),
            )
        })
      },
    )
    // `on`, not `once`: a request destroyed after a first error may emit another, and an
    // 'error' without a listener would end the process. `finish` takes the first only.
    request.on("error", (cause) =>
      finish(Effect.fail(new ExchangeFailed({ stage: answered ? "read" : "send", cause }))),
    )
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        finish(Effect.fail(TIMED_OUT))
        request.destroy()
      }, timeoutMs)
    }
    request.end(exchange.form)
    // Interrupted (the call was cancelled, or its deadline passed on the Effect clock).
    return Effect.sync(() => {
      done = true
      if (timer !== undefined) clearTimeout(timer)
      request.destroy()
    })
  })

/** The transport over `agent`: timers of its own under the live clock, the Effect clock's otherwise. */
export const makeNode = (
  agent: https.Agent,
  options: { readonly maxAnswerBytes?: number } = {},
): ProxmoxTransportService => {
  const maxAnswerBytes = options.maxAnswerBytes ?? MAX_ANSWER_BYTES
  return {
    exchange: (exchange) =>
      Effect.clockWith((clock) =>
        clock === liveClock
          ? send(agent, exchange, exchange.timeoutMs, maxAnswerBytes)
          : Effect.timeoutFail(send(agent, exchange, undefined, maxAnswerBytes), {
              duration: Duration.millis(exchange.timeoutMs),
              onTimeout: () => TIMED_OUT,
            }),
      ),
  }
}

/** The Node transport with the pinning agent for `config`'s endpoints (closed with the layer). */
export const proxmoxTransportLayer = (config: ProxmoxConfig): Layer.Layer<ProxmoxTransport> =>
  Layer.scoped(
    ProxmoxTransport,
    Effect.map(makeProxmoxAgent(config), (agent) => makeNode(agent)),
  )

/** The same, its TLS settings (pins, CA, insecure mode) read from the configuration. */
export const proxmoxTransportLayerConfig = Layer.unwrapEffect(
  Effect.map(proxmoxConfig, proxmoxTransportLayer),
)

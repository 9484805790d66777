/**
 * The Proxmox API port and its live implementation over the `ProxmoxTransport` port
 * (`transport.ts`: Node's HTTPS with the pinning agent, or an `@effect/platform` HttpClient).
 *
 * - `Authorization: PVEAPIToken=...`, form-encoded bodies with `1`/`0` booleans, `{data}` decoding;
 * - every status of WIRE.md 2.3 mapped to a typed error keeping PVE's reason and `errors` map;
 * - a per-call timeout; reads retry transient failures with jittered exponential backoff, all
 *   of it within one deadline (`readDeadlineMs`); a mutation is retried only when it provably
 *   never reached Proxmox (WIRE.md 2.6);
 * - several endpoints: the target node's own endpoint first, failover when the endpoint itself
 *   failed (not the node a request is for: every endpoint would proxy to that same node);
 * - identical concurrent reads share one request (see `coalesce`);
 * - no trace headers are sent to Proxmox; a span per request only when a tracer is installed;
 * - interruption aborts the HTTP request.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { UpstreamLog } from "../audit/upstream.js"
import { type ProxmoxConfig, type ProxmoxEndpoint, proxmoxConfig } from "../config/proxmox.js"
import { type InvalidInput, OutcomeUnknown, ProxmoxError, type ProxmoxErrorCode } from "../domain/errors.js"
import type { HttpMethod } from "../domain/tool.js"
import { traced } from "../domain/tracing.js"
import { buildPath, type PathParams } from "./path.js"
import { probeTls } from "./probe.js"
import { type Answer, type ExchangeFailed, ProxmoxTransport } from "./transport.js"
import { wasUnsent } from "./unsent.js"

export type { HttpMethod } from "../domain/tool.js"

export type ParamValue = string | number | boolean | ReadonlyArray<string> | undefined

export interface ApiRequest {
  readonly method: HttpMethod
  /** PVE path template without the `/api2/json` prefix, e.g. `/nodes/{node}/qemu/{vmid}/status/start`. */
  readonly path: string
  readonly pathParams?: PathParams
  /** Query parameters for GET/DELETE, form body for POST/PUT. Undefined values are left out. */
  readonly params?: Readonly<Record<string, ParamValue>>
  readonly timeoutMs?: number
}

export type ApiError = ProxmoxError | OutcomeUnknown | InvalidInput

/** PVE's success envelope: `data`, plus `total` on paged lists (task list, task log). */
export interface ApiEnvelope {
  readonly data: unknown
  readonly total?: number
}

export interface ProxmoxApiService {
  /** Sends one request and returns PVE's `data`. */
  readonly request: (request: ApiRequest) => Effect.Effect<unknown, ApiError>
  /** Like `request`, keeping the envelope's `total`. */
  readonly requestEnvelope: (request: ApiRequest) => Effect.Effect<ApiEnvelope, ApiError>
}

export class ProxmoxApi extends Context.Tag("proxmox-mcp/ProxmoxApi")<ProxmoxApi, ProxmoxApiService>() {}

/** Reads retry these: the request failed on the way, or PVE said the condition is temporary. */
export const isTransient = (error: ApiError): boolean => {
  if (error._tag !== "ProxmoxError") return false
  switch (error.code) {
    case "CONNECTION_RESET":
    case "CONNECTION_REFUSED":
    case "HOST_UNREACHABLE":
    case "TIMEOUT":
      return true
    case "GUEST_LOCKED":
      return isLockTimeout(error)
    case "PROXMOX_SERVER_ERROR":
      return [502, 503, 504].includes(error.status ?? 0) || /got no worker upid/.test(error.message)
    default:
      return false
  }
}

/** PVE gave up waiting for a config or cluster lock: nothing was done, so trying again is safe. */
const isLockTimeout = (error: ProxmoxError): boolean => /got timeout|lock request timeout/.test(error.message)

/** The first back-off before a try is repeated; it doubles with each further try. */
const READ_BACKOFF_MS = 200
/** Tries after the first. */
const READ_RETRIES = 3

/**
 * Jittered exponential backoff for transient failures: 4 attempts in all. Mutations use it as
 * is; reads follow the same steps within their deadline (`read` in `make`).
 */
export const readRetrySchedule = Schedule.exponential(Duration.millis(READ_BACKOFF_MS), 2).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(READ_RETRIES)),
)

const PRIVSEP_HINT =
  "The API token lacks a privilege for this path. Tokens created with privilege separation (the default) " +
  "have only the ACLs granted to the token itself: grant them with 'pveum acl modify <path> --tokens <user@realm!token> --roles <role>', " +
  "or run 'proxmox-mcp bootstrap' for a least-privilege setup."

/** PVE's reason: the status line first, then the body's `message` (PVE >= 8.4). */
const reasonOf = (statusMessage: string | undefined, body: { message?: unknown } | undefined): string => {
  const fromBody = typeof body?.message === "string" ? body.message.trim() : ""
  const fromLine = (statusMessage ?? "").trim()
  return fromBody !== "" ? fromBody : fromLine
}

export const classifyStatus = (status: number, reason: string): { code: ProxmoxErrorCode; hint?: string } => {
  if (status === 400) return { code: "PROXMOX_REQUEST_REJECTED" }
  if (status === 401) {
    return {
      code: "PROXMOX_AUTH_FAILED",
      hint: "Check the token id and secret, and that the user and token are enabled and not expired.",
    }
  }
  if (status === 403) return { code: "PROXMOX_ACL_FORBIDDEN", hint: PRIVSEP_HINT }
  if (status === 501) {
    return {
      code: "PROXMOX_REQUEST_REJECTED",
      hint: "This Proxmox version does not implement the endpoint or method.",
    }
  }
  if (status === 595) {
    return {
      code: "HOST_UNREACHABLE",
      hint: "Proxmox could not reach the target node; it may be down or restarting.",
    }
  }
  if (status === 596) return { code: "TIMEOUT", hint: "Proxmox timed out talking to the target node." }
  if (
    /does not exist|no such (?:vm|resource|user|group|role|pool|storage|task|file)|not found/i.test(reason)
  ) {
    return { code: "PROXMOX_NOT_FOUND" }
  }
  if (/no quorum/i.test(reason)) {
    return {
      code: "NO_QUORUM",
      hint: "The cluster has lost quorum: reads work, writes are refused until quorum returns.",
    }
  }
  if (/is locked|can't lock file|lock request timeout/i.test(reason)) {
    return {
      code: "GUEST_LOCKED",
      hint: "Another operation holds the lock; check the guest's 'lock' field and retry later.",
    }
  }
  if (/hostname lookup '[^']*' failed/.test(reason)) return { code: "PROXMOX_NOT_FOUND" }
  return { code: "PROXMOX_SERVER_ERROR" }
}

/** A transport failure, classified from the Node error code. `notSent` when no byte reached Proxmox. */
const classifyTransport = (cause: unknown): { code: ProxmoxErrorCode; message: string; notSent: boolean } => {
  const classified = classifyTransportCode(cause)
  // The connection failed before anything was written (e.g. dropped during the handshake).
  return classified.notSent || !wasUnsent(cause) ? classified : { ...classified, notSent: true }
}

const classifyTransportCode = (
  cause: unknown,
): { code: ProxmoxErrorCode; message: string; notSent: boolean } => {
  const error = cause as { code?: string; message?: string; cause?: unknown } | undefined
  const nodeCode = error?.code ?? (error?.cause as { code?: string } | undefined)?.code ?? ""
  const message = error?.message ?? String(cause)
  switch (nodeCode) {
    case "ECONNREFUSED":
      return { code: "CONNECTION_REFUSED", message: `connection refused: ${message}`, notSent: true }
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { code: "DNS_RESOLUTION_FAILED", message: `DNS lookup failed: ${message}`, notSent: true }
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
      return { code: "HOST_UNREACHABLE", message: `host unreachable: ${message}`, notSent: true }
    case "ETIMEDOUT":
      // Connect timeout or a stalled established socket: the request may have been written.
      return { code: "TIMEOUT", message: `connection timed out: ${message}`, notSent: false }
    case "ECONNRESET":
    case "EPIPE":
      return { code: "CONNECTION_RESET", message: `connection reset: ${message}`, notSent: false }
  }
  // Certificate checks (and our pin) fail during the handshake, before any request byte.
  if (
    nodeCode === "ERR_TLS_CERT_PIN_MISMATCH" ||
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|DEPTH_ZERO/.test(nodeCode)
  ) {
    return { code: "TLS_ERROR", message: `TLS verification failed: ${message}`, notSent: true }
  }
  // Other TLS errors can happen on an established connection, after the request was written.
  if (nodeCode.startsWith("ERR_TLS") || nodeCode.startsWith("ERR_SSL")) {
    return { code: "TLS_ERROR", message: `TLS error: ${message}`, notSent: false }
  }
  return { code: "CONNECTION_RESET", message, notSent: false }
}

const TRANSPORT_CODES: ReadonlySet<ProxmoxErrorCode> = new Set([
  "CONNECTION_REFUSED",
  "CONNECTION_RESET",
  "DNS_RESOLUTION_FAILED",
  "HOST_UNREACHABLE",
  "TIMEOUT",
])

/**
 * Another endpoint is tried when this one failed, not the node the request is for:
 * - the request provably never left (connection refused, DNS, TLS handshake): any request;
 * - a read not bound to a node that got no answer (timeout, lost connection).
 * A read for a node that got no answer is not repeated elsewhere: every endpoint would proxy it
 * to that same node, so a hung node would cost one timeout per endpoint. A failure that Proxmox
 * answered (an HTTP status, 595/596 included) is never a reason to fail over.
 */
const shouldFailOver = (request: ApiRequest, error: ApiError, node: string | undefined): boolean => {
  if (error._tag !== "ProxmoxError") return false
  if (error.notSent === true) return true
  return (
    request.method === "GET" &&
    node === undefined &&
    error.status === undefined &&
    TRANSPORT_CODES.has(error.code)
  )
}

/**
 * Set (with `fresh`) around reads that must not share an answer with a read already in flight:
 * the state after a task ended, which a read sent before the end would not show.
 */
export const FreshReads = FiberRef.unsafeMake(false)

/** Runs `effect` with reads that send their own request (never sharing one in flight). */
export const fresh = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.locally(effect, FreshReads, true)

/**
 * Set (with `singleTry`) around the reads of a fan-out over many nodes: a read that fails is not
 * tried again. The fan-out reports that node in a warning rather than hold every other node's
 * answer back for the back-offs (a dead node's 595 would otherwise cost seconds of them).
 */
export const SingleTryReads = FiberRef.unsafeMake(false)

/** Runs `effect` with reads that are tried once (see `SingleTryReads`). */
export const singleTry = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.locally(effect, SingleTryReads, true)

/** The default of `ProxmoxConfig.readDeadlineMs`. */
export const DEFAULT_READ_DEADLINE_MS = 40_000

/** A try is not started with less time than this left of the read's deadline. */
const MIN_TRY_MS = 50

const encodeParams = (params: Readonly<Record<string, ParamValue>> | undefined): Array<[string, string]> => {
  const entries: Array<[string, string]> = []
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined) continue
    if (typeof value === "boolean") entries.push([key, value ? "1" : "0"])
    else if (Array.isArray(value)) for (const item of value) entries.push([key, item])
    else entries.push([key, String(value)])
  }
  return entries
}

/** The query string of a GET or DELETE, or the form body of a POST or PUT. */
const encodeQuery = (params: Readonly<Record<string, ParamValue>> | undefined): string =>
  params === undefined ? "" : new URLSearchParams(encodeParams(params)).toString()

/** PVE's `{data}` envelope from an answer's text; `undefined` when the text is not JSON. */
const parseBody = (
  text: string,
): { data?: unknown; total?: unknown; message?: unknown; errors?: unknown } | undefined => {
  if (text.trim() === "") return undefined
  try {
    const body: unknown = JSON.parse(text)
    return typeof body === "object" && body !== null ? body : undefined
  } catch {
    return undefined
  }
}

export const make = (config: ProxmoxConfig) =>
  Effect.gen(function* () {
    const transport = yield* ProxmoxTransport
    const upstream = yield* UpstreamLog
    const readDeadlineMs = config.readDeadlineMs ?? DEFAULT_READ_DEADLINE_MS
    const authorizations = config.endpoints.map(
      (endpoint) => `PVEAPIToken=${endpoint.tokenId}=${Redacted.value(endpoint.tokenSecret)}`,
    )

    /**
     * Every try is recorded for the audit, also one that timed out, lost its connection or was
     * interrupted (status 0). With LOG_LEVEL=debug it is also logged: method, path template with
     * its values, status, duration and endpoint; never parameters or headers (they may hold
     * secrets). The line is not even built at other levels.
     */
    const recordTry = (
      endpoint: ProxmoxEndpoint,
      method: HttpMethod,
      path: string,
      answer: { readonly status: number; readonly upid?: string },
      startedAt: number,
    ) => {
      const recorded = upstream.record({ node: endpoint.name, method, path, ...answer })
      return Effect.withFiberRuntime<void>((fiber) =>
        LogLevel.greaterThan(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), LogLevel.Debug)
          ? recorded
          : Effect.zipRight(
              recorded,
              Effect.logDebug(`upstream ${method} ${path} -> ${answer.status}`).pipe(
                Effect.annotateLogs({
                  endpoint: endpoint.name,
                  status: answer.status,
                  durationMs: Date.now() - startedAt,
                }),
              ),
            ),
      )
    }

    /** What to pin for an endpoint whose certificate was refused: the fingerprint it shows now. */
    const pinHint = (endpoint: ProxmoxEndpoint) =>
      Effect.map(
        probeTls({
          host: endpoint.host,
          port: endpoint.port,
          timeoutMs: 5_000,
          ...(config.tls.ca === undefined ? {} : { ca: config.tls.ca }),
        }),
        (probe) =>
          probe._tag !== "Handshake"
            ? undefined
            : `The certificate's SHA-256 fingerprint is ${probe.fingerprint}. If you trust it (compare with ` +
              "the web UI: node > System > Certificates), pin it: PROXMOX_TLS_FINGERPRINTS=" +
              `${config.endpoints.length === 1 ? "" : `${endpoint.name}=`}${probe.fingerprint}` +
              " (proxmox-mcp doctor checks the whole setup).",
      )

    // The endpoint that answered last is tried first for requests not bound to a node.
    let preferred = 0

    // Built once: a fan-out asks every node, so a search of the endpoints per request would cost
    // nodes x endpoints.
    const ownEndpoint = new Map<string, number>()
    config.endpoints.forEach((endpoint, index) => {
      if (endpoint.node !== undefined && !ownEndpoint.has(endpoint.node))
        ownEndpoint.set(endpoint.node, index)
    })
    /** For each first endpoint: it, then the others in configuration order. */
    const orders: ReadonlyArray<ReadonlyArray<number>> = config.endpoints.map((_, first) => [
      first,
      ...config.endpoints.map((_, i) => i).filter((i) => i !== first),
    ])
    const orderFor = (node: string | undefined): ReadonlyArray<number> => {
      const own = node === undefined ? undefined : ownEndpoint.get(node)
      return orders[own ?? preferred]!
    }

    /** PVE's answer as the envelope, or the typed error its status means. */
    const interpret = (
      endpoint: ProxmoxEndpoint,
      request: ApiRequest,
      path: string,
      answer: Answer,
      body: ReturnType<typeof parseBody>,
    ): Effect.Effect<ApiEnvelope, ApiError> => {
      const status = answer.status
      if (status >= 200 && status < 300) {
        if (body === undefined || !("data" in body)) {
          return Effect.fail(
            new ProxmoxError({
              code: "PROXMOX_INVALID_RESPONSE",
              message: `Proxmox answered ${status} without a JSON {data} envelope`,
              method: request.method,
              path,
              endpoint: endpoint.name,
              status,
            }),
          )
        }
        const total = Number(body.total)
        return Effect.succeed(
          body.total === undefined || !Number.isFinite(total)
            ? { data: body.data }
            : { data: body.data, total },
        )
      }
      const reason = reasonOf(answer.statusMessage, body) || `HTTP ${status}`
      if (request.method !== "GET" && status === 596) {
        return Effect.fail(
          new OutcomeUnknown({
            message: `${status} ${reason}`,
            method: request.method,
            path,
            endpoint: endpoint.name,
          }),
        )
      }
      const { code, hint } = classifyStatus(status, reason)
      const errors =
        body?.errors !== undefined && typeof body.errors === "object" && body.errors !== null
          ? Object.fromEntries(Object.entries(body.errors).map(([k, v]) => [k, String(v).trim()]))
          : undefined
      return Effect.fail(
        new ProxmoxError({
          code,
          message: reason,
          method: request.method,
          path,
          endpoint: endpoint.name,
          status,
          ...(errors === undefined ? {} : { errors }),
          ...(hint === undefined ? {} : { hint }),
        }),
      )
    }

    /** The typed error of an exchange that got no (whole) answer. */
    const unanswered = (
      endpoint: ProxmoxEndpoint,
      request: ApiRequest,
      path: string,
      timeoutMs: number,
      failure: ExchangeFailed,
    ): Effect.Effect<never, ApiError> => {
      const mutation = request.method !== "GET"
      const where = { method: request.method, path, endpoint: endpoint.name }
      if (failure.stage === "timeout") {
        const message = `no answer within ${timeoutMs} ms`
        return Effect.fail(
          mutation
            ? new OutcomeUnknown({ message, ...where })
            : new ProxmoxError({ code: "TIMEOUT", message, ...where }),
        )
      }
      if (failure.stage === "read") {
        const message = `reading the response failed: ${failure.message}`
        return Effect.fail(
          mutation
            ? new OutcomeUnknown({ message, ...where })
            : new ProxmoxError({ code: "CONNECTION_RESET", message, ...where }),
        )
      }
      const transport = classifyTransport(failure.cause)
      if (mutation && !transport.notSent)
        return Effect.fail(new OutcomeUnknown({ message: transport.message, ...where }))
      const failed = (hint?: string) =>
        new ProxmoxError({
          code: transport.code,
          message: transport.message,
          notSent: transport.notSent,
          ...where,
          ...(hint === undefined ? {} : { hint }),
        })
      // A refused certificate: look at it (one more handshake, on this failure only) and say
      // exactly what to pin, the first thing almost every new user needs.
      if (transport.code !== "TLS_ERROR" || !transport.notSent) return Effect.fail(failed())
      return Effect.flatMap(pinHint(endpoint), (hint) => Effect.fail(failed(hint)))
    }

    /** One try against one endpoint. */
    const sendOnce = (
      index: number,
      request: ApiRequest,
      path: string,
      query: string,
      timeoutMs: number,
    ): Effect.Effect<ApiEnvelope, ApiError> => {
      const endpoint = config.endpoints[index]!
      const withBody = request.method === "POST" || request.method === "PUT"
      const startedAt = Date.now()
      // What Proxmox answered, if anything.
      let answer: { readonly status: number; readonly upid?: string } = { status: 0 }
      return transport
        .exchange({
          method: request.method,
          host: endpoint.host,
          port: endpoint.port,
          path: withBody || query === "" ? `/api2/json${path}` : `/api2/json${path}?${query}`,
          authorization: authorizations[index]!,
          ...(withBody ? { form: query } : {}),
          timeoutMs,
        })
        .pipe(
          Effect.matchEffect({
            onFailure: (failure) => unanswered(endpoint, request, path, timeoutMs, failure),
            onSuccess: (reply) => {
              const body = parseBody(reply.text)
              answer =
                typeof body?.data === "string" && body.data.startsWith("UPID:")
                  ? { status: reply.status, upid: body.data }
                  : { status: reply.status }
              return interpret(endpoint, request, path, reply, body)
            },
          }),
          Effect.onExit(() => recordTry(endpoint, request.method, path, answer, startedAt)),
        )
    }

    /**
     * Tries endpoints in order while the failure is the endpoint's own (`shouldFailOver`). A read
     * has a deadline (epoch ms): each try gets what is left of it, at most the request timeout.
     */
    const sendWithFailover = (
      request: ApiRequest,
      path: string,
      query: string,
      node: string | undefined,
      deadline: number | undefined,
    ): Effect.Effect<ApiEnvelope, ApiError> => {
      const order = orderFor(node)
      const timeout = request.timeoutMs ?? config.requestTimeoutMs
      const tryFrom = (position: number, left: number): Effect.Effect<ApiEnvelope, ApiError> => {
        const index = order[position]!
        const sent = sendOnce(index, request, path, query, Math.max(1, Math.min(timeout, left)))
        const answered =
          node === undefined
            ? Effect.map(sent, (envelope) => {
                preferred = index
                return envelope
              })
            : sent
        if (position + 1 >= order.length) return answered
        return Effect.catchIf(
          answered,
          (error) => shouldFailOver(request, error, node),
          (error) =>
            deadline === undefined
              ? tryFrom(position + 1, timeout)
              : Effect.flatMap(Clock.currentTimeMillis, (now) =>
                  deadline - now < MIN_TRY_MS ? Effect.fail(error) : tryFrom(position + 1, deadline - now),
                ),
        )
      }
      return deadline === undefined
        ? tryFrom(0, timeout)
        : Effect.flatMap(Clock.currentTimeMillis, (now) => tryFrom(0, deadline - now))
    }

    /**
     * A read: retried like `readRetrySchedule` (4 tries, jittered exponential back-off) while the
     * failure is transient and its deadline leaves time for the back-off and another try.
     */
    const read = (
      request: ApiRequest,
      path: string,
      query: string,
      node: string | undefined,
      retries: number,
    ) =>
      Effect.flatMap(Clock.currentTimeMillis, (started) => {
        const deadline = started + readDeadlineMs
        const attempt = (retry: number): Effect.Effect<ApiEnvelope, ApiError> =>
          Effect.catchIf(sendWithFailover(request, path, query, node, deadline), isTransient, (error) =>
            retry >= retries
              ? Effect.fail(error)
              : Effect.flatMap(
                  Effect.all([Clock.currentTimeMillis, Random.nextRange(0.8, 1.2)]),
                  ([now, jitter]) => {
                    const delay = READ_BACKOFF_MS * 2 ** retry * jitter
                    return now + delay + MIN_TRY_MS > deadline
                      ? Effect.fail(error)
                      : Effect.zipRight(Effect.sleep(Duration.millis(delay)), attempt(retry + 1))
                  },
                ),
          )
        return attempt(0)
      })

    /**
     * Identical concurrent reads share one request: a read that arrives while the same one
     * (same method, path, parameters and timeout; every call uses the same token for a node) is
     * in flight waits for its answer instead of sending its own. Only in-flight requests are
     * shared, nothing is cached: a read that starts after the answer sends a new request, and a
     * mutation ends the sharing of every read in flight, so a read after a write never gets an
     * answer older than the write. A shared read that was interrupted (its call cancelled) is
     * not an answer: the ones waiting for it send their own.
     */
    const inFlight = new Map<string, Array<(exit: Exit.Exit<ApiEnvelope, ApiError>) => void>>()
    const coalesce = (
      key: string,
      send: Effect.Effect<ApiEnvelope, ApiError>,
    ): Effect.Effect<ApiEnvelope, ApiError> =>
      Effect.withFiberRuntime((fiber) => {
        const waiters = fiber.getFiberRef(FreshReads) ? undefined : inFlight.get(key)
        if (waiters !== undefined) {
          const answer = Effect.async<ApiEnvelope, ApiError>((resume) => {
            waiters.push(resume)
            return Effect.sync(() => {
              const index = waiters.indexOf(resume)
              if (index >= 0) waiters.splice(index, 1)
            })
          })
          return Effect.catchAllCause(answer, (cause) =>
            Cause.isInterruptedOnly(cause) ? coalesce(key, send) : Effect.failCause(cause),
          )
        }
        const mine: Array<(exit: Exit.Exit<ApiEnvelope, ApiError>) => void> = []
        inFlight.set(key, mine)
        return Effect.onExit(send, (exit) =>
          Effect.sync(() => {
            if (inFlight.get(key) === mine) inFlight.delete(key)
            for (const resume of mine) resume(exit)
          }),
        )
      })

    const requestEnvelope = (request: ApiRequest): Effect.Effect<ApiEnvelope, ApiError> => {
      const built = buildPath(request.path, request.pathParams)
      if (Either.isLeft(built)) return Effect.fail(built.left)
      const path = built.right
      const query = encodeQuery(request.params)
      const node = request.pathParams?.node === undefined ? undefined : String(request.pathParams.node)
      const attributes = { method: request.method, path: request.path }
      if (request.method === "GET")
        return traced(
          "ProxmoxApi.request",
          attributes,
          Effect.withFiberRuntime((fiber) => {
            // A read tried once shares only with reads tried once: it must not wait out back-offs.
            const once = fiber.getFiberRef(SingleTryReads)
            return coalesce(
              `${once ? "once " : ""}${request.timeoutMs ?? ""} ${path}?${query}`,
              read(request, path, query, node, once ? 0 : READ_RETRIES),
            )
          }),
        )
      return traced(
        "ProxmoxApi.request",
        attributes,
        Effect.suspend(() => {
          // A write ends the sharing of reads in flight, when it is sent and when it is answered:
          // a read that starts after the write never shares an answer from before it.
          inFlight.clear()
          const once = Effect.ensuring(
            sendWithFailover(request, path, query, node, undefined),
            Effect.sync(() => inFlight.clear()),
          )
          // A mutation is repeated only when nothing reached Proxmox or PVE refused it before acting
          // (lock timeout); a 596 or a lost connection surfaces as OUTCOME_UNKNOWN instead.
          const mutation = once.pipe(
            Effect.retry({
              schedule: readRetrySchedule,
              while: (error) =>
                error._tag === "ProxmoxError" &&
                (error.notSent === true || (error.code === "GUEST_LOCKED" && isLockTimeout(error))),
            }),
          )
          // Once sent, a mutation is not abandoned half-way: a cancelled call waits for Proxmox's
          // answer (bounded by the request timeout), so the task it started is known and can be
          // stopped. The exchange itself stays interruptible by its own timeout.
          return Effect.uninterruptibleMask((restore) =>
            Effect.flatMap(Effect.forkDaemon(restore(mutation)), Fiber.join),
          )
        }),
      )
    }

    return ProxmoxApi.of({
      request: (request) => Effect.map(requestEnvelope(request), (envelope) => envelope.data),
      requestEnvelope,
    })
  })

export const layer = (config: ProxmoxConfig) => Layer.effect(ProxmoxApi, make(config))

/** The API configured by environment / config file (`PROXMOX_HOST` or `PROXMOX_NODES`, token, TLS). */
export const layerConfig = Layer.unwrapEffect(Effect.map(proxmoxConfig, layer))

// The HTTPS side: one listener per simulated node, each answering the PVE API over the shared
// cluster state with pveproxy's wire behaviour (WIRE.md): envelope, status lines, auth, parameter
// checks, proxying to other nodes and the injected faults.
import { timingSafeEqual } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { createServer, type Server } from "node:https"
import type { Socket } from "node:net"
import type { SimulatorCertificate } from "./certificate.js"
import type { ClusterState, Token } from "./cluster.js"
import { notImplemented, PveError, parameterError, serverError } from "./errors.js"
import { permissionDenied, type Reply } from "./router.js"
import { routes } from "./routes/index.js"
import { type HttpMethod, type RawParams, resolvePath, validateParameters } from "./schema.js"

const API_PREFIX = ["api2", "json"]
const MAX_BODY_BYTES = 512 * 1024
const METHODS: ReadonlySet<string> = new Set(["GET", "POST", "PUT", "DELETE"])

export interface ListenerOptions {
  readonly node: string
  readonly host: string
  readonly port: number
  readonly certificate: SimulatorCertificate
  readonly authFailureDelayMs: number
  /** False: PVE 8.0-8.3, whose error text is only in the status line. */
  readonly messageInBody: boolean
}

export interface Listener {
  readonly node: string
  readonly host: string
  readonly port: number
  /** TLS connections this listener has accepted (handshake completed) since it started. */
  readonly connections: () => number
  close(): Promise<void>
}

const sleep = (ms: number) =>
  ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve()

const decodeSegment = (segment: string) => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** Repeated keys become arrays (PVE does the same for `type: array` parameters). */
const collectPairs = (pairs: URLSearchParams) => {
  const out: Record<string, string | Array<string>> = {}
  for (const [key, value] of pairs) {
    const previous = out[key]
    out[key] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value]
  }
  return out
}

const readBody = (req: IncomingMessage): Promise<{ bytes: Buffer; tooLarge: boolean }> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let tooLarge = false
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) tooLarge = true
      else chunks.push(chunk)
    })
    req.on("end", () => resolve({ bytes: Buffer.concat(chunks), tooLarge }))
    req.on("error", reject)
  })

type ParsedBody = { readonly params: Record<string, unknown> } | { readonly error: PveError }

const parseBody = (method: string, contentType: string | undefined, bytes: Buffer): ParsedBody => {
  if (bytes.length === 0) return { params: {} }
  if (method === "GET" || method === "DELETE") {
    return { error: new PveError(501, `Unexpected content for method '${method}'`) }
  }
  const mediaType = (contentType ?? "").split(";")[0]!.trim().toLowerCase()
  const text = bytes.toString("utf8")
  if (mediaType === "application/x-www-form-urlencoded")
    return { params: collectPairs(new URLSearchParams(text)) }
  if (mediaType === "application/json") {
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        return { params: parsed as Record<string, unknown> }
      }
    } catch {
      // answered below like any other body PVE cannot read
    }
    return { error: parameterError({ body: "malformed JSON object" }) }
  }
  return { error: new PveError(506, `upload 'Content-Type '${contentType ?? ""}' not implemented`) }
}

const secretsMatch = (given: string, expected: string) => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** PVE's token header: `PVEAPIToken=USER@REALM!TOKENID=SECRET`, split on the last `=`. */
const authenticate = (cluster: ClusterState, header: string | undefined): Token => {
  const value = header === undefined ? undefined : /(?:^|\s)PVEAPIToken(?:=| )([^;]*)/.exec(header)?.[1]
  if (value === undefined) throw new PveError(401, "No ticket")
  const decoded = decodeSegment(value.trim())
  const separator = decoded.lastIndexOf("=")
  const token = separator > 0 ? cluster.tokenFor(decoded.slice(0, separator)) : undefined
  if (!token || !secretsMatch(decoded.slice(separator + 1), token.secret)) {
    throw new PveError(401, "authentication failure")
  }
  return token
}

/** Node rejects control characters in a status line; PVE's reasons are plain text anyway. */
const reasonPhrase = (message: string) => (message.split("\n")[0] ?? "").replace(/[^\x20-\x7e]/g, "?")

const COMMON_HEADERS = {
  "Content-Type": "application/json;charset=UTF-8",
  Server: "pve-api-daemon/3.0",
  "Cache-Control": "max-age=0",
  Pragma: "no-cache",
}

const send = (res: ServerResponse, status: number, reason: string | undefined, body: string) => {
  if (res.headersSent || res.destroyed) return
  res.writeHead(status, reason, {
    ...COMMON_HEADERS,
    Expires: new Date().toUTCString(),
    "Content-Length": Buffer.byteLength(body),
    // pveproxy closes the connection after every error answer.
    ...(status >= 400 ? { Connection: "close" } : {}),
  })
  res.end(body)
}

const sendReply = (res: ServerResponse, result: Reply) => {
  send(res, 200, undefined, JSON.stringify(result.total === undefined ? { data: result.data } : result))
}

const sendError = (res: ServerResponse, error: PveError, messageInBody: boolean) => {
  // 401 answers carry no body at all; before PVE 8.4 the text was only in the status line.
  const body =
    error.status === 401
      ? ""
      : JSON.stringify({
          data: null,
          ...(messageInBody
            ? { message: error.message.endsWith("\n") ? error.message : `${error.message}\n` }
            : {}),
          ...(error.errors ? { errors: error.errors } : {}),
        })
  send(res, error.status, reasonPhrase(error.message), body)
}

interface Request {
  readonly method: string
  readonly segments: ReadonlyArray<string>
  readonly query: RawParams
  readonly body: ParsedBody
  readonly token: Token
}

/** Everything after authentication: routing, permissions, proxying, faults, validation, handler. */
const dispatch = (cluster: ClusterState, endpointNode: string, request: Request): Reply => {
  const { method, segments, token } = request
  const path = `/${segments.join("/")}`
  if (!METHODS.has(method)) throw new PveError(501, `method '${method}' not available`)
  const httpMethod = method as HttpMethod
  const resolved = resolvePath(segments)
  const facts = resolved?.methods[httpMethod]
  if (!resolved || !facts) throw notImplemented(method, path)
  const route = routes.get(`${method} ${resolved.template}`)
  if (!route) throw notImplemented(method, path, true)
  if ("error" in request.body) throw request.body.error

  const raw: Record<string, unknown> = { ...request.query, ...request.body.params }
  delete raw._dc // ExtJS cache buster, dropped by pveproxy
  const conflicts: Record<string, string> = {}
  for (const [name, value] of Object.entries(resolved.pathParams)) {
    if (raw[name] !== undefined && String(raw[name]) !== value) {
      conflicts[name] = "duplicate parameter (already defined in URI) with conflicting values!"
    }
    raw[name] = value
  }
  if (Object.keys(conflicts).length > 0) throw parameterError(conflicts)

  const permission = route.permission?.(raw)
  if (permission && !cluster.access.allowed(token.tokenId, permission.path, permission.privilege))
    throw permissionDenied(permission)

  // Calls for another node are proxied there by pveproxy; that is where 595/596 come from.
  const targetNode = resolved.pathParams.node
  if (targetNode !== undefined) {
    cluster.requireNode(targetNode)
    if (!cluster.isOnline(targetNode)) throw new PveError(595, "Connection refused")
  }
  const touched =
    targetNode === undefined || targetNode === endpointNode ? [endpointNode] : [endpointNode, targetNode]
  const fault = cluster.takeFault(touched, (f) => f.kind === "error" || f.kind === "596")
  if (fault?.kind === "error") throw new PveError(fault.status, fault.message)
  const proxyTimeout = fault?.kind === "596"
  // A proxy timeout does not stop the call on the target: a write still happens there.
  if (proxyTimeout && method === "GET") throw new PveError(596, "Connection timed out")

  const run = (): Reply => {
    const validation = validateParameters(facts, raw)
    if (!validation.ok) throw parameterError(validation.errors)
    if (method !== "GET" && !route.quorumExempt && !cluster.isQuorate()) {
      throw serverError("cluster not ready - no quorum?")
    }
    const vmid = validation.params.vmid
    if (
      method !== "GET" &&
      vmid !== undefined &&
      cluster.takeFault(touched, (f) => f.kind === "lock-timeout")
    ) {
      const lockFile = resolved.template.includes("/lxc/")
        ? `/run/lock/lxc/pve-config-${vmid}.lock`
        : `/var/lock/qemu-server/lock-${vmid}.conf`
      throw serverError(`can't lock file '${lockFile}' - got timeout`)
    }
    return route.handle({ cluster, params: validation.params, token, endpointNode })
  }

  if (!proxyTimeout) return run()
  try {
    run()
  } catch {
    // the client never learns the outcome, which is the point of a 596
  }
  throw new PveError(596, "Connection timed out")
}

const handleRequest = async (
  cluster: ClusterState,
  options: ListenerOptions,
  req: IncomingMessage,
  res: ServerResponse,
) => {
  const method = req.method ?? "GET"
  const url = req.url ?? "/"
  const queryStart = url.indexOf("?")
  // Split by hand: URL parsing would resolve "." and ".." segments, which PVE takes literally.
  const allSegments = (queryStart < 0 ? url : url.slice(0, queryStart))
    .split("/")
    .filter((segment) => segment !== "")
    .map(decodeSegment)
  const isApi = API_PREFIX.every((part, index) => allSegments[index] === part)
  const segments = allSegments.slice(API_PREFIX.length)
  const query = collectPairs(new URLSearchParams(queryStart < 0 ? "" : url.slice(queryStart + 1)))
  const { bytes, tooLarge } = await readBody(req)
  const body: ParsedBody =
    req.headers["transfer-encoding"] !== undefined
      ? { error: new PveError(501, "chunked transfer encoding not supported") }
      : tooLarge
        ? { error: new PveError(501, "for data too large") }
        : parseBody(method, req.headers["content-type"], bytes)

  const entry = cluster.recordRequest({
    method,
    path: `/${segments.join("/")}`,
    query,
    body: "params" in body ? body.params : {},
    endpointNode: options.node,
    headerNames: Object.keys(req.headers),
  })
  const pathNode = segments[0] === "nodes" ? segments[1] : undefined
  const touched =
    pathNode !== undefined && cluster.hasNode(pathNode) ? [options.node, pathNode] : [options.node]

  let status = 200
  try {
    await sleep(cluster.delayFor(touched))
    let token: Token
    try {
      token = authenticate(cluster, req.headers.authorization)
    } catch (error) {
      await sleep(options.authFailureDelayMs)
      throw error
    }
    if (!isApi) throw notImplemented(method, `/${allSegments.join("/")}`)
    sendReply(res, dispatch(cluster, options.node, { method, segments, query, body, token }))
  } catch (error) {
    const pveError =
      error instanceof PveError
        ? error
        : serverError(`simulator failure: ${error instanceof Error ? error.message : String(error)}`)
    status = pveError.status
    sendError(res, pveError, options.messageInBody)
  }
  entry.status = status
}

export const startListener = (cluster: ClusterState, options: ListenerOptions): Promise<Listener> => {
  const sockets = new Set<Socket>()
  let connections = 0
  const server: Server = createServer(
    { key: options.certificate.keyPem, cert: options.certificate.certPem },
    (req, res) => {
      handleRequest(cluster, options, req, res).catch(() => res.destroy())
    },
  )
  // pveproxy's keep-alive limits: 100 requests per connection, 5 s idle.
  server.keepAliveTimeout = 5_000
  server.maxRequestsPerSocket = 100
  server.on("connection", (socket: Socket) => {
    // A node that is down answers nothing: the connection is dropped before the TLS handshake.
    if (!cluster.isOnline(options.node)) {
      socket.destroy()
      return
    }
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  server.on("secureConnection", () => {
    connections++
  })
  cluster.onNodeDown((node) => {
    if (node !== options.node) return
    for (const socket of sockets) socket.destroy()
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port, options.host, () => {
      server.off("error", reject)
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : options.port
      resolve({
        node: options.node,
        host: options.host,
        port,
        connections: () => connections,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            for (const socket of sockets) socket.destroy()
          }),
      })
    })
  })
}

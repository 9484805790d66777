import { request as httpsRequest } from "node:https"
import type { TLSSocket } from "node:tls"
import type { RunningSimulator } from "../../src/simulator/index.js"

export interface ApiResponse {
  readonly status: number
  readonly reason: string
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly text: string
  /** Parsed body, or undefined when the body is empty. */
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect PVE's loosely shaped answers ad hoc
  readonly json: any
  readonly peerFingerprint: string
}

export interface ApiRequest {
  readonly method?: string
  /** Path below /api2/json, e.g. "/nodes/pve1/qemu" (query string allowed). */
  readonly path: string
  /** Authorization header value; default: the simulator's full token. Null: no header. */
  readonly auth?: string | null
  readonly form?: Readonly<Record<string, string | number>>
  readonly json?: unknown
  readonly rawBody?: { readonly contentType: string; readonly text: string }
  /** Which endpoint (node) to send to; default the first. */
  readonly node?: string
}

export const tokenHeader = (tokenId: string, secret: string) => `PVEAPIToken=${tokenId}=${secret}`

/** One HTTPS request to the simulator, trusting its certificate as CA, without connection reuse. */
export const api = (sim: RunningSimulator, req: ApiRequest): Promise<ApiResponse> => {
  const endpoint =
    req.node === undefined ? sim.endpoints[0]! : sim.endpoints.find((e) => e.node === req.node)!
  let body: string | undefined
  let contentType: string | undefined
  if (req.form) {
    body = new URLSearchParams(
      Object.entries(req.form).map(([k, v]): [string, string] => [k, String(v)]),
    ).toString()
    contentType = "application/x-www-form-urlencoded"
  } else if (req.json !== undefined) {
    body = JSON.stringify(req.json)
    contentType = "application/json"
  } else if (req.rawBody) {
    body = req.rawBody.text
    contentType = req.rawBody.contentType
  }
  const auth = req.auth === undefined ? tokenHeader(sim.tokenId, sim.tokenSecret) : req.auth
  return new Promise((resolve, reject) => {
    const outgoing = httpsRequest(
      {
        host: endpoint.host,
        port: endpoint.port,
        method: req.method ?? "GET",
        path: `/api2/json${req.path}`,
        ca: sim.caPem,
        agent: false,
        headers: {
          ...(auth === null ? {} : { Authorization: auth }),
          ...(contentType ? { "Content-Type": contentType } : {}),
          ...(body === undefined ? {} : { "Content-Length": Buffer.byteLength(body) }),
        },
      },
      (res) => {
        const chunks: Array<Buffer> = []
        const peerFingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          resolve({
            status: res.statusCode ?? 0,
            reason: res.statusMessage ?? "",
            headers: res.headers,
            text,
            json: text === "" ? undefined : JSON.parse(text),
            peerFingerprint,
          })
        })
      },
    )
    outgoing.on("error", reject)
    outgoing.end(body)
  })
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export const eventually = async <A>(check: () => Promise<A | undefined>, timeoutMs = 5_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error("condition not reached in time")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

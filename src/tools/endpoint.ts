/**
 * A PVE endpoint as a value: method and path template, written once. A tool lists the endpoints
 * it uses (for `tools --json`, the docs and the contract test against the PVE schema) and sends
 * its requests through the same values, so a path never appears twice. The placeholders of the
 * template are typed: `call` needs a value for each one.
 */
import * as Effect from "effect/Effect"
import {
  type ApiEnvelope,
  type ApiError,
  type HttpMethod,
  type ParamValue,
  ProxmoxApi,
} from "../proxmox/api.js"

/** The placeholder names of a path template: `"/nodes/{node}/qemu/{vmid}"` -> `"node" | "vmid"`. */
export type PathParamNames<Path extends string> = Path extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PathParamNames<Rest>
  : never

export type PathValues<Path extends string> = { readonly [K in PathParamNames<Path>]: string | number }

export type Params = Readonly<Record<string, ParamValue>>

export interface Endpoint<Path extends string = string> {
  readonly method: HttpMethod
  /** PVE path template without `/api2/json`. */
  readonly path: Path
  /** Sends the request and returns PVE's `data`. */
  readonly call: (path: PathValues<Path>, params?: Params) => Effect.Effect<unknown, ApiError, ProxmoxApi>
  /** `call` for the framework, which fills the placeholders from validated input by name. */
  readonly send: (
    path: Readonly<Record<string, string | number>>,
    params?: Params,
  ) => Effect.Effect<unknown, ApiError, ProxmoxApi>
  /** Like `call`, keeping the envelope's `total` (paged lists). */
  readonly callEnvelope: (
    path: PathValues<Path>,
    params?: Params,
  ) => Effect.Effect<ApiEnvelope, ApiError, ProxmoxApi>
}

const make =
  (method: HttpMethod) =>
  <const Path extends string>(path: Path): Endpoint<Path> => {
    const request = (pathParams: Readonly<Record<string, string | number>>, params?: Params) => ({
      method,
      path,
      pathParams,
      ...(params === undefined ? {} : { params }),
    })
    return {
      method,
      path,
      call: (pathParams, params) =>
        Effect.flatMap(ProxmoxApi, (api) => api.request(request(pathParams, params))),
      send: (pathParams, params) =>
        Effect.flatMap(ProxmoxApi, (api) => api.request(request(pathParams, params))),
      callEnvelope: (pathParams, params) =>
        Effect.flatMap(ProxmoxApi, (api) => api.requestEnvelope(request(pathParams, params))),
    }
  }

export const get = make("GET")
export const post = make("POST")
export const put = make("PUT")
export const del = make("DELETE")

/** The placeholder names of a template, at run time. */
export const placeholders = (path: string): ReadonlyArray<string> =>
  [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!)

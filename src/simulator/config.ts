/**
 * The connection settings for a running simulator: one endpoint per node, the certificate
 * pinned by fingerprint, as an operator would configure `PROXMOX_NODES` and
 * `PROXMOX_TLS_FINGERPRINTS`. Used by `demo`, the embedding example and the tests.
 */
import * as Redacted from "effect/Redacted"
import type { ProxmoxConfig, ProxmoxEndpoint } from "../config/proxmox.js"
import type { RunningSimulator } from "./types.js"

export const simulatorConfig = (
  sim: RunningSimulator,
  overrides: Partial<ProxmoxConfig> & { readonly endpoint?: Partial<ProxmoxEndpoint> } = {},
): ProxmoxConfig => {
  const { endpoint, ...rest } = overrides
  return {
    endpoints: sim.endpoints.map((e) => ({
      name: e.node,
      node: e.node,
      host: e.host,
      port: e.port,
      tokenId: sim.tokenId,
      tokenSecret: Redacted.make(sim.tokenSecret),
      fingerprint: sim.fingerprint,
      ...endpoint,
    })),
    tls: { verify: true },
    requestTimeoutMs: 35_000,
    ...rest,
  }
}

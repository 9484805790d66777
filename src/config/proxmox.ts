/**
 * Proxmox connection settings, in either seed's form (SPEC section 3):
 * NANDI: PROXMOX_HOST/PORT + PROXMOX_USER/REALM/TOKEN_NAME/TOKEN_SECRET;
 * Sutian: PROXMOX_NODES + PROXMOX_TOKEN_ID/TOKEN_SECRET + PROXMOX_NODE_TOKENS.
 */
import * as fs from "node:fs"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { NODE_NAME_PATTERN } from "../domain/ids.js"
import { boundedInt, flag, invalid, optionalSecret, optionalString } from "./values.js"

export interface ProxmoxEndpoint {
  /** Node name from PROXMOX_NODES, or the host for the PROXMOX_HOST form. Used for pins and logs. */
  readonly name: string
  /** Set when the endpoint is known to be that cluster node (PROXMOX_NODES). */
  readonly node?: string
  readonly host: string
  readonly port: number
  readonly tokenId: string
  readonly tokenSecret: Redacted.Redacted<string>
  /** SHA-256 certificate fingerprint to pin (upper-case hex with colons). */
  readonly fingerprint?: string
}

export interface TlsSettings {
  /** False only when the operator disabled verification explicitly (lab use). */
  readonly verify: boolean
  /** PEM contents of PROXMOX_CA_FILE. */
  readonly ca?: string
}

export interface ProxmoxConfig {
  readonly endpoints: ReadonlyArray<ProxmoxEndpoint>
  readonly tls: TlsSettings
  readonly requestTimeoutMs: number
}

export const TOKEN_ID_PATTERN = /^[^\s@!:=]+@[^\s@!:=]+![A-Za-z][A-Za-z0-9._-]*$/

/**
 * A token id as it may be shown in an error: people paste `user@realm!name=SECRET` (the header
 * form), so anything after an `=` or `:` is cut off and never printed.
 */
const showTokenId = (value: string): string => {
  const cut = value.search(/[=:]/)
  return cut < 0 ? value : `${value.slice(0, cut)}=…`
}

const checkTokenId = (variable: string, value: string): Either.Either<string, ConfigError.ConfigError> =>
  TOKEN_ID_PATTERN.test(value)
    ? Either.right(value)
    : Either.left(invalid(variable, `expected user@realm!tokenname, got '${showTokenId(value)}'`))

/**
 * What the usual tools print before the hex digits: openssl's `sha256 Fingerprint=`, PVE's
 * `pvenode cert info` (`fingerprint : `), `SHA256:`; any case.
 */
const FINGERPRINT_PREFIX = /^(?:(?:sha-?256)\s*(?:fingerprint)?|fingerprint)\s*[=:]\s*/i

/**
 * Parses a SHA-256 fingerprint as people paste it (prefixes above; hex pairs separated by colons,
 * spaces or nothing; any case) into the upper-case colon form Node reports.
 */
export const normalizeFingerprint = (
  variable: string,
  raw: string,
): Either.Either<string, ConfigError.ConfigError> => {
  const hex = raw
    .trim()
    .replace(FINGERPRINT_PREFIX, "")
    .replace(/[:\s-]/g, "")
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    return Either.left(
      invalid(
        variable,
        `'${raw}' is not a SHA-256 fingerprint (64 hex digits, colons optional; e.g. the output of ` +
          "openssl x509 -noout -fingerprint -sha256)",
      ),
    )
  }
  return Either.right(hex.toUpperCase().match(/../g)!.join(":"))
}

/** `name=FINGERPRINT`, or a bare fingerprint for every endpoint (`*`), in any pasted form. */
const splitPin = (part: string): { readonly name: string; readonly value: string } => {
  const eq = part.indexOf("=")
  if (eq <= 0 || FINGERPRINT_PREFIX.test(part)) return { name: "*", value: part }
  const name = part.slice(0, eq).trim()
  // Endpoint names are node names or, with PROXMOX_HOST, host names and addresses.
  return /^[A-Za-z0-9.:[\]-]+$/.test(name) ? { name, value: part.slice(eq + 1) } : { name: "*", value: part }
}

interface HostPort {
  readonly name: string
  readonly host: string
  readonly port: number
}

/**
 * `PROXMOX_HOST`: a host name or address, or the URL people copy from the browser
 * (`https://pve.lan:8006/`), whose port then wins over `PROXMOX_PORT` (a URL without a port means
 * `PROXMOX_PORT`, 8006 by default, as PVE listens there). Credentials in the URL are
 * refused without being shown: the token goes in PROXMOX_TOKEN_ID / PROXMOX_TOKEN_SECRET.
 */
export const parseHost = (
  raw: string,
  defaultPort: number,
): Either.Either<{ readonly host: string; readonly port: number }, ConfigError.ConfigError> => {
  const text = raw.trim()
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL
    try {
      url = new URL(text)
    } catch {
      return Either.left(invalid("PROXMOX_HOST", "is neither a host name nor an https:// URL"))
    }
    if (url.username !== "" || url.password !== "") {
      return Either.left(
        invalid(
          "PROXMOX_HOST",
          "must not contain a user name or password; give the API token in PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET",
        ),
      )
    }
    if (url.protocol !== "https:") {
      return Either.left(invalid("PROXMOX_HOST", `Proxmox VE's API is https only, not ${url.protocol}`))
    }
    if (!/^\/?(api2\/json\/?)?$/.test(url.pathname) || url.search !== "" || url.hash !== "") {
      return Either.left(invalid("PROXMOX_HOST", `give the host (and port) only, e.g. https://${url.host}`))
    }
    return Either.right({
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port === "" ? defaultPort : Number(url.port),
    })
  }
  const host = text.replace(/^\[|\]$/g, "")
  if (host === "" || /[\s/@]/.test(host))
    return Either.left(invalid("PROXMOX_HOST", `'${raw}' is not a host name or address`))
  return Either.right({ host, port: defaultPort })
}

/** `name:host:port,...`; IPv6 hosts in brackets (`pve1:[fd00::1]:8006`). */
export const parseNodeList = (
  variable: string,
  raw: string,
): Either.Either<ReadonlyArray<HostPort>, ConfigError.ConfigError> => {
  const entries: Array<HostPort> = []
  for (const part of raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")) {
    const match = /^([^:]+):(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(part)
    if (!match) return Either.left(invalid(variable, `entry '${part}' is not name:host:port`))
    const [, name, hostPart, portText] = match as unknown as [string, string, string, string | undefined]
    if (!NODE_NAME_PATTERN.test(name))
      return Either.left(invalid(variable, `'${name}' is not a valid node name`))
    const port = portText === undefined ? 8006 : Number(portText)
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return Either.left(invalid(variable, `entry '${part}' has an invalid port`))
    }
    if (entries.some((e) => e.name === name))
      return Either.left(invalid(variable, `node '${name}' is listed twice`))
    entries.push({ name, host: hostPart.replace(/^\[|\]$/g, ""), port })
  }
  if (entries.length === 0) return Either.left(invalid(variable, "no endpoint given"))
  return Either.right(entries)
}

interface NodeToken {
  readonly tokenId: string
  readonly tokenSecret: string
}

/** `name=user@realm!token:secret,...` (also `name:user@realm!token:secret`). */
export const parseNodeTokens = (
  variable: string,
  raw: string,
): Either.Either<ReadonlyMap<string, NodeToken>, ConfigError.ConfigError> => {
  const tokens = new Map<string, NodeToken>()
  for (const part of raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")) {
    // The name ends at the first '=' or ':'; a token id never contains either.
    const match = /^([A-Za-z0-9-]+)[=:]([^:]+):(.+)$/.exec(part)
    if (!match)
      return Either.left(
        invalid(variable, `entry for '${part.split(/[=:]/)[0]}' is not name=user@realm!token:secret`),
      )
    const [, name, tokenId, secret] = match as unknown as [string, string, string, string]
    if (!TOKEN_ID_PATTERN.test(tokenId)) {
      return Either.left(
        invalid(
          variable,
          `entry for '${name}' has token id '${showTokenId(tokenId)}', expected user@realm!tokenname`,
        ),
      )
    }
    tokens.set(name, { tokenId, tokenSecret: secret })
  }
  return Either.right(tokens)
}

const fingerprintsConfig = optionalString("PROXMOX_TLS_FINGERPRINTS").pipe(
  Config.mapOrFail((raw): Either.Either<ReadonlyMap<string, string>, ConfigError.ConfigError> => {
    const pins = new Map<string, string>()
    if (raw === undefined) return Either.right(pins)
    for (const part of raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")) {
      const { name, value } = splitPin(part)
      const fp = normalizeFingerprint("PROXMOX_TLS_FINGERPRINTS", value)
      if (Either.isLeft(fp)) return Either.left(fp.left)
      pins.set(name, fp.right)
    }
    return Either.right(pins)
  }),
)

const tlsConfig = Config.all({
  insecure: flag("PROXMOX_ALLOW_INSECURE_TLS", false),
  verifyTls: flag("VERIFY_TLS", true),
  caFile: optionalString("PROXMOX_CA_FILE"),
}).pipe(
  Config.mapOrFail(({ caFile, insecure, verifyTls }) => {
    let ca: string | undefined
    if (caFile !== undefined) {
      try {
        ca = fs.readFileSync(caFile, "utf8")
      } catch (error) {
        return Either.left(invalid("PROXMOX_CA_FILE", `cannot read '${caFile}': ${(error as Error).message}`))
      }
      if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
        return Either.left(invalid("PROXMOX_CA_FILE", `'${caFile}' holds no PEM certificate`))
      }
    }
    return Either.right<TlsSettings>({ verify: !insecure && verifyTls, ...(ca === undefined ? {} : { ca }) })
  }),
)

/** The token as a whole (Sutian) or assembled from NANDI's parts. */
const defaultTokenConfig = Config.all({
  tokenId: optionalString("PROXMOX_TOKEN_ID"),
  user: optionalString("PROXMOX_USER"),
  realm: optionalString("PROXMOX_REALM"),
  tokenName: optionalString("PROXMOX_TOKEN_NAME"),
  secret: optionalSecret("PROXMOX_TOKEN_SECRET"),
}).pipe(
  Config.mapOrFail(
    ({
      realm,
      secret,
      tokenId,
      tokenName,
      user,
    }): Either.Either<
      { readonly tokenId: string | undefined; readonly secret: Redacted.Redacted<string> | undefined },
      ConfigError.ConfigError
    > => {
      const secretValue =
        secret._tag === "Some" && Redacted.value(secret.value).trim() !== "" ? secret.value : undefined
      if (tokenId !== undefined) {
        if (user !== undefined || tokenName !== undefined) {
          return Either.left(
            invalid(
              "PROXMOX_TOKEN_ID",
              "set either PROXMOX_TOKEN_ID or PROXMOX_USER/PROXMOX_TOKEN_NAME, not both",
            ),
          )
        }
        return Either.map(checkTokenId("PROXMOX_TOKEN_ID", tokenId), (id) => ({
          tokenId: id as string | undefined,
          secret: secretValue,
        }))
      }
      if (user === undefined && tokenName === undefined)
        return Either.right({ tokenId: undefined, secret: secretValue })
      if (user === undefined)
        return Either.left(invalid("PROXMOX_USER", "is required with PROXMOX_TOKEN_NAME"))
      if (tokenName === undefined)
        return Either.left(invalid("PROXMOX_TOKEN_NAME", "is required with PROXMOX_USER"))
      const fullUser = user.includes("@") ? user : realm === undefined ? undefined : `${user}@${realm}`
      if (fullUser === undefined)
        return Either.left(
          invalid("PROXMOX_REALM", "is required (e.g. pam or pve) when PROXMOX_USER has no @realm"),
        )
      if (user.includes("@") && realm !== undefined && !user.endsWith(`@${realm}`)) {
        return Either.left(
          invalid("PROXMOX_REALM", `'${realm}' contradicts the realm in PROXMOX_USER '${user}'`),
        )
      }
      return Either.map(checkTokenId("PROXMOX_TOKEN_NAME", `${fullUser}!${tokenName}`), (id) => ({
        tokenId: id as string | undefined,
        secret: secretValue,
      }))
    },
  ),
)

export const proxmoxConfig: Config.Config<ProxmoxConfig> = Config.all({
  host: optionalString("PROXMOX_HOST"),
  port: boundedInt("PROXMOX_PORT", 8006, 1, 65535),
  nodes: optionalString("PROXMOX_NODES"),
  nodeTokens: optionalString("PROXMOX_NODE_TOKENS"),
  token: defaultTokenConfig,
  tls: tlsConfig,
  pins: fingerprintsConfig,
  requestTimeoutMs: boundedInt("PROXMOX_REQUEST_TIMEOUT_MS", 35_000, 100, 600_000),
}).pipe(
  Config.mapOrFail(
    ({
      host,
      nodeTokens,
      nodes,
      pins,
      port,
      requestTimeoutMs,
      tls,
      token,
    }): Either.Either<ProxmoxConfig, ConfigError.ConfigError> => {
      if (host !== undefined && nodes !== undefined) {
        return Either.left(invalid("PROXMOX_NODES", "set either PROXMOX_HOST or PROXMOX_NODES, not both"))
      }
      if (host === undefined && nodes === undefined) {
        return Either.left(invalid("PROXMOX_HOST", "is required (or PROXMOX_NODES for several endpoints)"))
      }
      let perNode: ReadonlyMap<string, NodeToken> = new Map()
      if (nodeTokens !== undefined) {
        if (nodes === undefined) return Either.left(invalid("PROXMOX_NODE_TOKENS", "needs PROXMOX_NODES"))
        const parsed = parseNodeTokens("PROXMOX_NODE_TOKENS", nodeTokens)
        if (Either.isLeft(parsed)) return Either.left(parsed.left)
        perNode = parsed.right
      }
      let hosts: ReadonlyArray<HostPort & { readonly node?: string }>
      if (nodes !== undefined) {
        const parsed = parseNodeList("PROXMOX_NODES", nodes)
        if (Either.isLeft(parsed)) return Either.left(parsed.left)
        hosts = parsed.right.map((h) => ({ ...h, node: h.name }))
        const unknown = [...perNode.keys()].find((name) => !hosts.some((h) => h.name === name))
        if (unknown !== undefined) {
          return Either.left(invalid("PROXMOX_NODE_TOKENS", `node '${unknown}' is not in PROXMOX_NODES`))
        }
      } else {
        const parsed = parseHost(host!, port)
        if (Either.isLeft(parsed)) return Either.left(parsed.left)
        hosts = [{ name: parsed.right.host, ...parsed.right }]
      }
      for (const name of pins.keys()) {
        if (name !== "*" && !hosts.some((h) => h.name === name)) {
          return Either.left(
            invalid(
              "PROXMOX_TLS_FINGERPRINTS",
              `'${name}' names no configured endpoint (${hosts.map((h) => h.name).join(", ")})`,
            ),
          )
        }
      }
      const endpoints: Array<ProxmoxEndpoint> = []
      for (const h of hosts) {
        const own = perNode.get(h.name)
        const tokenId = own?.tokenId ?? token.tokenId
        const secret = own === undefined ? token.secret : Redacted.make(own.tokenSecret)
        if (tokenId === undefined) {
          return Either.left(
            invalid(
              "PROXMOX_TOKEN_ID",
              `no API token configured for '${h.name}': set PROXMOX_TOKEN_ID=user@realm!tokenname ` +
                `(or PROXMOX_USER, PROXMOX_REALM and PROXMOX_TOKEN_NAME${nodes === undefined ? "" : ", or PROXMOX_NODE_TOKENS"}) and PROXMOX_TOKEN_SECRET`,
            ),
          )
        }
        if (secret === undefined) {
          return Either.left(invalid("PROXMOX_TOKEN_SECRET", `is required (no secret for '${h.name}')`))
        }
        const fingerprint = pins.get(h.name) ?? pins.get("*")
        endpoints.push({
          name: h.name,
          ...(h.node === undefined ? {} : { node: h.node }),
          host: h.host,
          port: h.port,
          tokenId,
          tokenSecret: secret,
          ...(fingerprint === undefined ? {} : { fingerprint }),
        })
      }
      return Either.right({ endpoints, tls, requestTimeoutMs })
    },
  ),
)

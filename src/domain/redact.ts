/**
 * The one redaction module, used for tool results, stderr logs and audit records (SPEC sections 3
 * and 8). Two mechanisms, both always on:
 *
 * - by key: a value whose key names a secret (`password`, `cipassword`, `privkey`, `ticket`,
 *   `authorization`, `refresh_token`, ...) is replaced whatever it is; so is the `value` of a PVE
 *   token-creation result (`{"full-tokenid", "value"}`), the one place PVE hands out a new secret;
 * - by value: inside every string, JWTs, `PVEAPIToken=` secrets, `Bearer` tokens, PVE tickets,
 *   PEM private key blocks, URL credentials, `password=...`-style pairs and every registered
 *   known secret (e.g. the configured token secret) are replaced.
 *
 * `redactSecrets` is the default redactor (no known secrets); `makeRedactor({knownSecrets})`
 * builds one that also removes the deployment's own secrets.
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { setMember } from "./json.js"

export const REDACTED = "[REDACTED]"

const normalizeKey = (key: string) => key.toLowerCase().replace(/[-_.\s]/g, "")

const SECRET_NAMES = new Set([
  "password",
  "passwd",
  "pwd",
  "passphrase",
  "cipassword",
  "secret",
  "privkey",
  "privatekey",
  "ticket",
  "csrf",
  "csrftoken",
  "xcsrftoken",
  "csrfpreventiontoken",
  "authorization",
  "proxyauthorization",
  "cookie",
  "setcookie",
  "pveauthcookie",
  "token",
  "jwt",
  "bearer",
  "accesstoken",
  "refreshtoken",
  "idtoken",
  "sessiontoken",
  "apitoken",
  "apikey",
  "xapikey",
  "tokensecret",
  "tokenvalue",
  "encryptionkey",
  "keyring",
])

const SECRET_SUFFIXES = ["password", "passwd", "passphrase", "secret", "privatekey", "privkey"]

const secretKeyByName = (key: string): boolean => {
  const name = normalizeKey(key)
  return SECRET_NAMES.has(name) || SECRET_SUFFIXES.some((suffix) => name.endsWith(suffix))
}

/**
 * Keys already judged: results repeat the same few hundred PVE keys in every object, so each is
 * normalized once. Bounded, because keys can come from anywhere (a guest's config, a client).
 */
const judgedKeys = new Map<string, boolean>()
const MAX_JUDGED_KEYS = 4096

/** Keys whose values are secrets (PVE guest config, users, tokens, HTTP headers, auth bodies). */
export const isSecretKey = (key: string): boolean => {
  const known = judgedKeys.get(key)
  if (known !== undefined) return known
  const secret = secretKeyByName(key)
  if (judgedKeys.size < MAX_JUDGED_KEYS) judgedKeys.set(key, secret)
  return secret
}

/** `POST /access/users/{userid}/token/{tokenid}` answers `{"full-tokenid", info, value}`. */
const isNewTokenResult = (record: Record<string, unknown>) =>
  typeof record["full-tokenid"] === "string" && "value" in record

// Patterns over string values. Order matters: specific shapes first, generic `key=value` last.
// Repetitions that could start at many positions are bounded, so no text makes them quadratic.
const PEM_PRIVATE_KEY =
  /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g
const JWT = /eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g
const PVE_TICKET = /PVE:[^\s:]+:[0-9A-Fa-f]{8}::[A-Za-z0-9+/=]+/g
const PVE_API_TOKEN = /(PVEAPIToken(?:\s*[=:]\s*|\s+))([^\s"',;]+)/gi
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/-]+=*/gi
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]{0,30}:\/\/[^\s/:@]{1,256}:)[^\s/@]{1,256}@/gi
const KEY_VALUE =
  /\b([\w-]{0,40}?(?:password|passwd|passphrase|secret|token|ticket|authorization|api[_-]?key|cookie|privkey))(["']?\s*[:=]\s*["']?)((?:(?:Basic|Bearer|Digest|Negotiate)\s+)?[^\s"'&,;}]+)/gi

/**
 * `secret: is not a parameter`: after `key:` in a sentence comes a word of the sentence, not a
 * value. Only these words, and only after a colon; `key=word` is always a value.
 */
const PROSE_WORDS = new Set([
  "is",
  "are",
  "was",
  "were",
  "be",
  "must",
  "should",
  "may",
  "can",
  "cannot",
  "not",
  "has",
  "have",
  "expected",
  "required",
  "missing",
  "invalid",
  "unknown",
  "too",
  "a",
  "an",
  "the",
  "no",
])
const isProse = (separator: string, value: string) =>
  !separator.includes("=") && PROSE_WORDS.has(value.toLowerCase())

/**
 * Every pattern needs one of these (the key words of KEY_VALUE, `://` of URL credentials, `PVE:`
 * of a ticket, ...); most strings (ids, names, paths, fingerprints, times) have none and skip
 * them all.
 */
const MAY_HOLD_PATTERN =
  /eyJ|-----BEGIN|bearer\s|pveapitoken|:\/\/|PVE:|pass|secret|token|ticket|authorization|api[_-]?key|cookie|privkey/i

const patternRedactions = (text: string): string =>
  !MAY_HOLD_PATTERN.test(text)
    ? text
    : text
        .replace(PEM_PRIVATE_KEY, REDACTED)
        .replace(JWT, REDACTED)
        .replace(PVE_TICKET, REDACTED)
        .replace(PVE_API_TOKEN, (_match, prefix: string, credential: string) => {
          // `user@realm!name=secret`: the token id is useful and not secret; the part after `=` is.
          const separator = credential.indexOf("=", credential.indexOf("!"))
          return credential.includes("!") && separator > 0
            ? `${prefix}${credential.slice(0, separator + 1)}${REDACTED}`
            : `${prefix}${REDACTED}`
        })
        .replace(BEARER, `$1${REDACTED}`)
        .replace(URL_CREDENTIALS, `$1${REDACTED}@`)
        .replace(KEY_VALUE, (match, key: string, separator: string, value: string) =>
          value === REDACTED || value.endsWith(REDACTED) || isProse(separator, value)
            ? match
            : `${key}${separator}${REDACTED}`,
        )

/** Known secrets shorter than this are not searched for in text: they would erase ordinary words. */
const MIN_KNOWN_SECRET_LENGTH = 4

export type SecretInput = string | Redacted.Redacted<string> | Redacted.Redacted<unknown> | undefined | null

export interface RedactorOptions {
  /** Exact secret strings to remove wherever they appear (configured token secrets, passwords). */
  readonly knownSecrets?: Iterable<SecretInput>
  /** Which object keys hold secrets; `isSecretKey` unless given. */
  readonly secretKey?: (key: string) => boolean
}

/**
 * Redacts any JSON-like value: a copy with secrets replaced by `REDACTED`. Plain objects and
 * arrays are walked; objects with `toJSON` (Date, Redacted) are redacted as they would serialize.
 */
export interface RedactorService {
  (value: unknown): unknown
  /** Redacts free text (a message, a command line, an HTTP header). */
  readonly text: (text: string) => string
  /** Redacts one JSON log line by value and by key; a line that is not JSON is redacted as text. */
  readonly line: (line: string) => string
  /** Adds a secret learned at run time (e.g. a token created by a tool call). */
  readonly register: (secret: SecretInput) => void
}

const unwrap = (secret: SecretInput): string | undefined => {
  if (secret === undefined || secret === null) return undefined
  if (typeof secret === "string") return secret
  const value = Redacted.value(secret)
  return typeof value === "string" ? value : undefined
}

/** The first character that is not white space (no trimmed copy of the string). */
const firstNonSpace = (text: string): string | undefined => {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code !== 32 && code !== 9 && code !== 10 && code !== 13) return text[i]
  }
  return undefined
}

const MAX_DEPTH = 64
const MAX_EMBEDDED_JSON = 1024 * 1024

export const makeRedactor = (options: RedactorOptions = {}): RedactorService => {
  const secretKey = options.secretKey ?? isSecretKey
  // Longest first, so a secret that contains another is removed whole.
  let known: Array<string> = []
  const register = (secret: SecretInput) => {
    const value = unwrap(secret)
    if (value === undefined || value.length < MIN_KNOWN_SECRET_LENGTH) return
    const forms = [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]
    const added = forms.filter((form) => form.length > 0 && !known.includes(form))
    if (added.length > 0) known = [...known, ...added].sort((a, b) => b.length - a.length)
  }
  for (const secret of options.knownSecrets ?? []) register(secret)

  const text = (input: string): string => {
    if (input.length < MIN_KNOWN_SECRET_LENGTH) return input
    let output = input
    for (const secret of known) {
      if (output.includes(secret)) output = output.split(secret).join(REDACTED)
    }
    return patternRedactions(output)
  }

  /** What a walk carries: the objects being walked (to cut cycles), and whether it changed anything. */
  interface Walk {
    readonly ancestors: Array<object>
    changed: boolean
  }

  /**
   * A string holding a JSON document (an error body, a serialized result) is redacted by key
   * too. When the document needs nothing, its text still goes through the text rules (which
   * catch what parsing hides, e.g. the first of two members with the same name).
   */
  const stringValue = (input: string, depth: number, state: Walk): string => {
    const first = firstNonSpace(input)
    if ((first === "{" || first === "[") && input.length <= MAX_EMBEDDED_JSON) {
      let parsed: unknown
      try {
        parsed = JSON.parse(input)
      } catch {
        return text(input)
      }
      const inner: Walk = { ancestors: state.ancestors, changed: false }
      const redacted = walk(parsed, depth + 1, inner)
      return inner.changed ? JSON.stringify(redacted) : text(input)
    }
    return text(input)
  }

  /**
   * A copy of `value` with secrets replaced, as JSON would see it: plain objects and arrays are
   * rebuilt from their members, each read once, so the copy holds exactly what was checked
   * (an accessor asked again could answer differently). A value that contains itself is cut at
   * the repeat.
   */
  const walk = (value: unknown, depth: number, state: Walk): unknown => {
    if (typeof value === "string") {
      const redacted = stringValue(value, depth, state)
      if (redacted !== value) state.changed = true
      return redacted
    }
    if (typeof value !== "object" || value === null) return value
    if (depth > MAX_DEPTH) {
      state.changed = true
      return REDACTED
    }
    const ancestors = state.ancestors
    if (ancestors.includes(value)) {
      state.changed = true
      return "[Circular]"
    }
    ancestors.push(value)
    try {
      if (Array.isArray(value)) {
        const items: Array<unknown> = value.slice()
        for (let i = 0; i < items.length; i++) items[i] = walk(items[i], depth + 1, state)
        return items
      }
      if (value instanceof Error) {
        return walk({ ...value, name: value.name, message: value.message }, depth + 1, state)
      }
      const toJSON = (value as { toJSON?: unknown }).toJSON
      if (typeof toJSON === "function") return walk(toJSON.call(value), depth + 1, state)
      const record = value as Record<string, unknown>
      const tokenResult = isNewTokenResult(record)
      const copy: Record<string, unknown> = {}
      for (const key of Object.keys(record)) {
        const inner = record[key]
        let redacted: unknown
        if (secretKey(key) || (tokenResult && key === "value")) {
          redacted = REDACTED
          if (inner !== REDACTED) state.changed = true
        } else {
          redacted = walk(inner, depth + 1, state)
        }
        // `__proto__` must stay a member, as JSON.parse makes it.
        setMember(copy, key, redacted)
      }
      return copy
    } finally {
      ancestors.pop()
    }
  }

  /** A fresh walk's state. */
  const begin = (): Walk => ({ ancestors: [], changed: false })

  const line = (input: string): string => {
    const trimmed = input.trimStart()
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
      let parsed: unknown
      try {
        parsed = JSON.parse(input)
      } catch {
        return text(input)
      }
      const trailing = input.slice(input.trimEnd().length)
      return JSON.stringify(walk(parsed, 0, begin())) + trailing
    }
    return text(input)
  }

  return Object.assign((value: unknown) => walk(value, 0, begin()), { text, line, register })
}

const defaultRedactor = makeRedactor()

/** The default redactor: by key and by pattern, no known secrets. */
export const redactSecrets = (value: unknown, secretKey: (key: string) => boolean = isSecretKey): unknown =>
  secretKey === isSecretKey ? defaultRedactor(value) : makeRedactor({ secretKey })(value)

/** Pattern-based redaction of free text with the default redactor. */
export const redactText = (text: string): string => defaultRedactor.text(text)

/**
 * The one redactor of a server, shared by the audit log, stderr and tool results: it knows the
 * configured secrets and those learned at run time.
 */
export class Redactor extends Context.Tag("proxmox-mcp/Redactor")<Redactor, RedactorService>() {
  static readonly layer = (options: RedactorOptions = {}): Layer.Layer<Redactor> =>
    Layer.sync(Redactor, () => makeRedactor(options))
  /** Key and pattern rules only, no known secrets. */
  static readonly default: Layer.Layer<Redactor> = Layer.succeed(Redactor, defaultRedactor)
  /** A redactor that knows the secrets a configuration holds (e.g. the Proxmox token secrets). */
  static readonly layerConfig = <A>(
    config: Config.Config<A>,
    secretsOf: (value: A) => Iterable<SecretInput>,
  ): Layer.Layer<Redactor, ConfigError.ConfigError> =>
    Layer.effect(
      Redactor,
      Effect.map(config, (value) => makeRedactor({ knownSecrets: secretsOf(value) })),
    )
}

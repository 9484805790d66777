/**
 * The result envelope of SPEC section 5: `{ok: true, data, meta}` or `{ok: false, error, meta}`,
 * redacted, and cut to `MCP_MAX_RESULT_BYTES` when a list is too large.
 */
import type { Failure } from "../domain/errors.js"
import type { RedactorService } from "../domain/redact.js"
import type { ToolOutput } from "./tool.js"

export interface ResultMeta {
  readonly durationMs: number
  readonly node?: string
  readonly upid?: string
  readonly warnings?: ReadonlyArray<string>
  readonly truncated?: boolean
}

export type Envelope =
  | { readonly ok: true; readonly data: unknown; readonly meta: ResultMeta }
  | { readonly ok: false; readonly error: Failure; readonly meta: ResultMeta }

/**
 * Float noise off: non-integer numbers keep 4 decimal places (`cpu` 0.0123456789 -> 0.0123).
 * Integers (bytes, seconds, ids) are never touched, and a large average keeps its integer part.
 * Returns the same value when there is nothing to round, so most results are not copied.
 */
export const roundFloats = (value: unknown): unknown => {
  if (typeof value === "number") {
    if (Number.isInteger(value) || !Number.isFinite(value) || Math.abs(value) >= 1e11) return value
    return Math.round(value * 1e4) / 1e4
  }
  if (typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) {
    let copy: Array<unknown> | undefined
    for (let i = 0; i < value.length; i++) {
      const rounded = roundFloats(value[i])
      if (rounded === value[i]) continue
      copy ??= [...value]
      copy[i] = rounded
    }
    return copy ?? value
  }
  let copy: Record<string, unknown> | undefined
  for (const [key, inner] of Object.entries(value)) {
    const rounded = roundFloats(inner)
    if (rounded === inner) continue
    copy ??= { ...value }
    copy[key] = rounded
  }
  return copy ?? value
}

const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? "")

/** The JSON text of the envelopes `success` built: a transport sends it without serializing again. */
const texts = new WeakMap<Envelope, string>()

/** `JSON.stringify(envelope)`, computed once for the envelopes of `success`. */
export const text = (envelope: Envelope): string => texts.get(envelope) ?? JSON.stringify(envelope)

/**
 * The longest prefix of a list whose JSON fits in `maxBytes` (binary search), with the JSON of
 * what is kept (undefined when the data has none).
 */
const cutToSize = (
  data: unknown,
  maxBytes: number,
): { data: unknown; json: string | undefined; kept?: number; of?: number } => {
  const json: string | undefined = JSON.stringify(data)
  if (!Array.isArray(data) || json === undefined || Buffer.byteLength(json) <= maxBytes) return { data, json }
  let low = 0
  let high = data.length
  while (low < high) {
    const mid = Math.ceil((low + high) / 2)
    if (size(data.slice(0, mid)) <= maxBytes) low = mid
    else high = mid - 1
  }
  const kept = data.slice(0, low)
  return { data: kept, json: JSON.stringify(kept), kept: low, of: data.length }
}

/** The secrets a tool hands out, put back into its redacted result object. */
const reveal = (data: unknown, revealed: Readonly<Record<string, string>> | undefined): unknown =>
  revealed === undefined || typeof data !== "object" || data === null || Array.isArray(data)
    ? data
    : { ...data, ...revealed }

export const success = (
  output: ToolOutput<unknown>,
  durationMs: number,
  redact: RedactorService,
  maxResultBytes: number,
): Envelope => {
  const { data, json, kept, of } = cutToSize(
    roundFloats(reveal(redact(output.data), output.revealed)),
    maxResultBytes,
  )
  const truncated = kept !== undefined
  const warnings = [
    ...(output.warnings ?? []),
    ...(truncated
      ? [
          `Result cut to ${kept} of ${of} entries (MCP_MAX_RESULT_BYTES); narrow the query with limit/offset or a filter.`,
        ]
      : []),
  ]
  const meta: ResultMeta = {
    durationMs,
    ...(output.node === undefined ? {} : { node: output.node }),
    ...(output.upid === undefined ? {} : { upid: output.upid }),
    ...(warnings.length === 0 ? {} : { warnings }),
    ...(truncated ? { truncated: true } : {}),
  }
  const envelope: Envelope = { ok: true, data, meta }
  // Exactly what JSON.stringify(envelope) gives (members in this order), from the data's JSON
  // that the size check made anyway.
  if (json !== undefined) texts.set(envelope, `{"ok":true,"data":${json},"meta":${JSON.stringify(meta)}}`)
  return envelope
}

export const failure = (error: Failure, meta: ResultMeta, redact: RedactorService): Envelope => {
  const redacted = redact(error)
  // The redactor returns a copy of the same shape; anything else is never sent unredacted.
  return {
    ok: false,
    error: isFailure(redacted)
      ? redacted
      : { code: "INTERNAL_ERROR", message: "internal error; see the server log" },
    meta,
  }
}

const isFailure = (value: unknown): value is Failure =>
  typeof value === "object" && value !== null && "code" in value && "message" in value

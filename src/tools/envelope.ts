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

const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? "")

/** The longest prefix of a list whose JSON fits in `maxBytes` (binary search). */
const cutToSize = (data: unknown, maxBytes: number): { data: unknown; kept?: number; of?: number } => {
  if (!Array.isArray(data) || size(data) <= maxBytes) return { data }
  let low = 0
  let high = data.length
  while (low < high) {
    const mid = Math.ceil((low + high) / 2)
    if (size(data.slice(0, mid)) <= maxBytes) low = mid
    else high = mid - 1
  }
  return { data: data.slice(0, low), kept: low, of: data.length }
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
  const { data, kept, of } = cutToSize(reveal(redact(output.data), output.revealed), maxResultBytes)
  const truncated = kept !== undefined
  const warnings = [
    ...(output.warnings ?? []),
    ...(truncated
      ? [
          `Result cut to ${kept} of ${of} entries (MCP_MAX_RESULT_BYTES); narrow the query with limit/offset or a filter.`,
        ]
      : []),
  ]
  return {
    ok: true,
    data,
    meta: {
      durationMs,
      ...(output.node === undefined ? {} : { node: output.node }),
      ...(output.upid === undefined ? {} : { upid: output.upid }),
      ...(warnings.length === 0 ? {} : { warnings }),
      ...(truncated ? { truncated: true } : {}),
    },
  }
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

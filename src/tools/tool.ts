/**
 * The tool framework. A tool is one value that carries its public metadata, its input fields,
 * its targets and its program, typed end to end: `Tool<Name, Fields, A, E, R>` succeeds with
 * `ToolOutput<A>`, fails with `E` (every error a call of it can end with, policy refusals
 * included) and needs `R`. Everything public about a tool (listing, JSON Schema, annotations,
 * `_meta`, policy, the `tools` CLI, docs) is derived from it.
 *
 * Three constructors:
 * - `request`: a tool that is one PVE request, declared by its endpoint: the node is found the
 *   way the path says (a guest's vmid, a task's UPID, or `node`), the other placeholders come
 *   from the fields of the same name, the remaining fields are sent as parameters.
 * - `make`: any other program; its requests go through `Endpoint` values too.
 * - `task`: a program that starts a Proxmox task; the framework adds `wait`/`timeoutSeconds`,
 *   follows the task when asked and can read the state after it (`after`).
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import {
  type AuditFailed,
  type ConfirmationDeclined,
  type ConfirmationRequired,
  type Forbidden,
  type GuestNotFound,
  InvalidInput,
  type ProtectedGuest,
  ProxmoxError,
  type PublicError,
  type TaskFailed,
  type TaskResult,
  type TaskWaitFailed,
  type TaskWaitTimeout,
  type UnknownNode,
} from "../domain/errors.js"
import {
  type Category,
  type GuestType,
  IntegerInput,
  type Module,
  type Tier,
  UPID_PATTERN,
  upidNode,
} from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import type { EndpointRef, ToolInfo } from "../domain/tool.js"
import { type ApiError, fresh, type ProxmoxApi } from "../proxmox/api.js"
import { NodeRegistry } from "../proxmox/registry.js"
import type { Tasks } from "../proxmox/tasks.js"
import type { ToolCall } from "./call.js"
import { pagingFields } from "./common.js"
import { type Endpoint, type Params, placeholders } from "./endpoint.js"
import { followToEnd } from "./follow.js"

/** What a program returns; `node`, `upid` and `warnings` go to the result's `meta`. */
export interface ToolOutput<A> {
  readonly data: A
  readonly node?: string
  readonly upid?: string
  readonly warnings?: ReadonlyArray<string>
  /**
   * Secrets the tool exists to hand out (a new API token's value): put into `data` after the
   * result is redacted, for the caller only. The audit and the logs never see results.
   */
  readonly revealed?: Readonly<Record<string, string>>
}

/** A task the tool started (SPEC 12: `data: {upid, node}` without `wait`). */
export interface TaskStarted {
  readonly upid: string
  readonly node: string
}

/** The inputs the framework owns rather than the program: task following and confirmation. */
export interface ControlInput {
  readonly wait?: boolean | undefined
  readonly timeoutSeconds?: number | undefined
  readonly confirm?: boolean | undefined
}

/** A tool's decoded input: exactly what its struct schema produces. */
export type Input<Fields extends Schema.Struct.Fields> = Schema.Schema.Type<Schema.Struct<Fields>>

export interface Decoded<Fields extends Schema.Struct.Fields> {
  readonly input: Input<Fields>
  readonly control: ControlInput
}

/** Reads one field of a decoded input by name (for the framework, which fills paths by name). */
export const fieldOf = (input: object, name: string): unknown =>
  name in input ? Reflect.get(input, name) : undefined

/**
 * What any call can fail with besides its program: bad input, a refusal, a target that does not
 * exist, the reads that resolve targets, the audit. Confirmation errors only for tools that
 * confirm, protection only for state-changing ones.
 */
export type CallError<T extends Tier, C extends boolean> =
  | InvalidInput
  | Forbidden
  | AuditFailed
  | UnknownNode
  | GuestNotFound
  | ApiError
  | (T extends "read-only" ? never : ProtectedGuest)
  | (true extends C ? ConfirmationRequired | ConfirmationDeclined : never)

export type TaskError = TaskFailed | TaskWaitTimeout | TaskWaitFailed

/** Every error a tool fails with maps itself to the public failure (code, message, hint, ...). */
export interface Tool<Name extends string, Fields extends Schema.Struct.Fields, A, E extends PublicError, R>
  extends ToolInfo {
  readonly name: Name
  /** The program's own input fields; `exposedFields` adds the framework's. */
  readonly input: Fields
  /** Strict decoding of a call's arguments (built once per tool). */
  readonly decode: (
    args: unknown,
  ) => Effect.Effect<Decoded<Fields>, InvalidInput, Schema.Struct.Context<Fields>>
  /** What the call acts on, from validated input: the policy resolves and checks each one. */
  readonly targets: (input: Input<Fields>) => ReadonlyArray<TargetRef>
  readonly run: (decoded: Decoded<Fields>) => Effect.Effect<ToolOutput<A>, E, R>
}

export declare namespace Tool {
  // biome-ignore lint/suspicious/noExplicitAny: the existential tool of a heterogeneous catalog
  export type Any = Tool<string, any, any, PublicError, any>
  export type Success<T> = T extends Tool<string, infer _F, infer A, infer _E, infer _R> ? A : never
  export type Error<T> = T extends Tool<string, infer _F, infer _A, infer E, infer _R> ? E : never
  export type Requirements<T> = T extends Tool<string, infer _F, infer _A, infer _E, infer R> ? R : never
  export type Input<T> =
    T extends Tool<string, infer F, infer _A, infer _E, infer _R>
      ? Schema.Struct.Encoded<F> & ControlInput
      : never
}

// ---------------------------------------------------------------------------------------------
// Framework fields

export const DEFAULT_WAIT_SECONDS = 300

/** How long to wait for a task; `lead` starts the description ("Give up waiting"). */
export const waitTimeoutField = (lead: string) =>
  Schema.optional(
    IntegerInput({
      minimum: 1,
      maximum: 3600,
      description: `${lead} (default ${DEFAULT_WAIT_SECONDS})`,
    }),
  )

/** Fields every task-starting tool accepts. */
export const taskFields = {
  wait: Schema.optional(
    Schema.Boolean.annotations({
      description: "Wait for the task to end (default: return its UPID)",
    }),
  ),
  timeoutSeconds: waitTimeoutField("Max seconds to wait"),
}

export const confirmField = {
  confirm: Schema.optional(
    Schema.Boolean.annotations({
      description: "Confirm this change",
    }),
  ),
}

const decodeControl = Schema.decodeUnknownEither(Schema.Struct({ ...taskFields, ...confirmField }), {
  onExcessProperty: "error",
  errors: "all",
})

/** The input fields as exposed: the program's fields plus the framework's. */
export const exposedFields = (
  tool: ToolInfo & { readonly input: Schema.Struct.Fields },
): Schema.Struct.Fields => ({
  ...tool.input,
  ...(tool.startsTask ? taskFields : {}),
  ...(tool.confirm ? confirmField : {}),
})

// ---------------------------------------------------------------------------------------------
// Decoding

/** Schema failures as `field: problem` lines. */
const issuesOf = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    // Optional fields report their `undefined` alternative too; that line says nothing useful.
    .filter((issue) => !issue.message.startsWith("Expected undefined"))
    .map((issue) => ({
      field: issue.path.join("."),
      message: issue._tag === "Unexpected" ? "is not a parameter of this tool" : issue.message,
    }))

const invalidInput = (errors: ReadonlyArray<ParseResult.ParseError>): InvalidInput => {
  const issues = errors.flatMap(issuesOf)
  const first = issues[0]
  const lines = issues.map((i) => (i.field === "" ? i.message : `${i.field}: ${i.message}`))
  return new InvalidInput({
    message: `Invalid input: ${lines.join("; ") || errors.map((e) => e.message).join("; ")}`,
    ...(first?.field ? { field: first.field } : {}),
    issues: lines,
  })
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * A strict decoder for one tool: its own fields with the tool's schema, the framework's fields
 * that apply to it with theirs; any other key is "not a parameter of this tool".
 */
const makeDecoder = <Fields extends Schema.Struct.Fields>(info: ToolInfo, fields: Fields) => {
  // Compiled at the tool's first call, then kept: most tools of a session are never called, and
  // compiling 160 parsers at start costs start-up time and memory the server keeps.
  let compiled:
    | ((
        input: unknown,
      ) => Effect.Effect<Input<Fields>, ParseResult.ParseError, Schema.Struct.Context<Fields>>)
    | undefined
  const decodeOwn = (input: unknown) => {
    compiled ??= Schema.decodeUnknown(Schema.Struct(fields), { onExcessProperty: "error", errors: "all" })
    return compiled(input)
  }
  const controlKeys = new Set([
    ...(info.startsTask ? ["wait", "timeoutSeconds"] : []),
    ...(info.confirm ? ["confirm"] : []),
  ])
  // Effect reads `Struct({})` as "any object": a tool without input checks the keys itself.
  const noFields = Object.keys(fields).length === 0
  return (args: unknown): Effect.Effect<Decoded<Fields>, InvalidInput, Schema.Struct.Context<Fields>> => {
    const raw = args ?? {}
    const unknown = noFields && isRecord(raw) ? Object.keys(raw).filter((key) => !controlKeys.has(key)) : []
    if (unknown.length > 0) {
      const lines = unknown.map((key) => `${key}: is not a parameter of this tool`)
      return Effect.fail(
        new InvalidInput({
          message: `Invalid input: ${lines.join("; ")}`,
          field: unknown[0]!,
          issues: lines,
        }),
      )
    }
    if (!isRecord(raw) || controlKeys.size === 0) {
      return Effect.mapBoth(decodeOwn(raw), {
        onFailure: (error) => invalidInput([error]),
        onSuccess: (input) => ({ input, control: {} }),
      })
    }
    const own: Record<string, unknown> = {}
    const control: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(raw)) (controlKeys.has(key) ? control : own)[key] = value
    const controlResult = decodeControl(control)
    return decodeOwn(own).pipe(
      Effect.either,
      Effect.flatMap((ownResult) =>
        Either.isRight(ownResult) && Either.isRight(controlResult)
          ? Effect.succeed({ input: ownResult.right, control: controlResult.right })
          : Effect.fail(
              invalidInput([
                ...(Either.isLeft(ownResult) ? [ownResult.left] : []),
                ...(Either.isLeft(controlResult) ? [controlResult.left] : []),
              ]),
            ),
      ),
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Declarations

/** The metadata a declaration gives; flags follow the tier unless overridden. */
export interface Declaration<Name extends string, T extends Tier, C extends boolean> {
  readonly name: Name
  readonly title: string
  readonly description: string
  readonly category: Category
  readonly tier: T
  /** Default core. */
  readonly module?: Module
  /** Default: true for state-changing tiers, false for read-only. */
  readonly destructive?: boolean
  /** Default: true for read-only, false otherwise. */
  readonly idempotent?: boolean
  /** Default false (read-only tools never confirm). */
  readonly confirm?: C
  readonly impact?: string
  readonly deprecated?: boolean
  readonly ssh?: { readonly command: string }
}

const infoOf = (
  declaration: Declaration<string, Tier, boolean>,
  endpoints: ReadonlyArray<EndpointRef>,
  startsTask: boolean,
): ToolInfo => {
  const readOnly = declaration.tier === "read-only"
  // A read-only tool gets no write-ahead audit record, no protection check and no confirmation:
  // it may only read. A declaration that says otherwise fails when its module loads.
  const write = endpoints.find((endpoint) => endpoint.method !== "GET")
  if (readOnly && write !== undefined)
    throw new Error(`${declaration.name}: a read-only tool cannot ${write.method} ${write.path}`)
  return {
    name: declaration.name,
    title: declaration.title,
    description: declaration.description,
    category: declaration.category,
    tier: declaration.tier,
    module: declaration.module ?? "core",
    destructive: declaration.destructive ?? !readOnly,
    idempotent: declaration.idempotent ?? readOnly,
    confirm: declaration.confirm ?? false,
    startsTask,
    ...(declaration.impact === undefined ? {} : { impact: declaration.impact }),
    ...(declaration.deprecated === undefined ? {} : { deprecated: declaration.deprecated }),
    endpoints: endpoints.map(({ method, path }) => ({ method, path })),
    ssh: declaration.ssh ?? null,
  }
}

export interface Spec<
  Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  E,
  R,
  T extends Tier,
  C extends boolean,
> extends Declaration<Name, T, C> {
  readonly input: Fields
  /** Every endpoint the program may call (the same values it calls them through). */
  readonly endpoints: ReadonlyArray<Endpoint>
  readonly targets: (input: Input<Fields>) => ReadonlyArray<TargetRef>
  readonly run: (input: Input<Fields>) => Effect.Effect<ToolOutput<A>, E, R>
}

/** A tool with its own program. */
export const make = <
  const Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  E extends PublicError,
  R,
  T extends Tier,
  C extends boolean = false,
>(
  spec: Spec<Name, Fields, A, E, R, T, C>,
): Tool<Name, Fields, A, E | CallError<T, C>, R> => {
  const info = infoOf(spec, spec.endpoints, false)
  return {
    ...info,
    name: spec.name,
    input: spec.input,
    decode: makeDecoder(info, spec.input),
    targets: spec.targets,
    run: ({ input }) => spec.run(input),
  }
}

export interface TaskSpec<
  Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  E,
  R,
  T extends Tier,
  C extends boolean,
> extends Declaration<Name, T, C> {
  readonly input: Fields
  readonly endpoints: ReadonlyArray<Endpoint>
  readonly targets: (input: Input<Fields>) => ReadonlyArray<TargetRef>
  /** Starts the task (`data: TaskStarted`, `upid` set), or answers without one (`upid` unset). */
  readonly run: (input: Input<Fields>) => Effect.Effect<ToolOutput<A>, E, R>
}

export interface TaskSpecWithAfter<
  Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  E extends PublicError,
  R,
  B extends object,
  E2,
  R2,
  T extends Tier,
  C extends boolean,
> extends TaskSpec<Name, Fields, A, E, R, T, C> {
  /** With `wait`, after the task ended: more fields for the result (e.g. the guest's status). */
  readonly after: (input: Input<Fields>, task: TaskResult) => Effect.Effect<B, E2, R2>
}

/**
 * The UPID a task-starting request answered with. Anything else is PROXMOX_INVALID_RESPONSE:
 * the task may have started, so the caller is told, not handed a made-up id.
 */
export const startedUpid = (answer: unknown, endpoint: EndpointRef, node: string) =>
  typeof answer === "string" && UPID_PATTERN.test(answer)
    ? Effect.succeed(answer)
    : Effect.fail(
        new ProxmoxError({
          code: "PROXMOX_INVALID_RESPONSE",
          message: `Proxmox answered ${endpoint.method} ${endpoint.path} without a task UPID`,
          method: endpoint.method,
          path: endpoint.path,
          endpoint: node,
        }),
      )

/** With `wait: true`: the task's end, plus what `after` read. */
export type TaskOutcome<B extends object = {}> = TaskResult & B

type TaskTool<
  Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  E extends PublicError,
  R,
  T extends Tier,
  C extends boolean,
> = Tool<Name, Fields, A, E | TaskError | CallError<T, C>, R | Tasks | ToolCall>

/** A tool whose program starts a Proxmox task; `wait: true` follows it to its end. */
export function task<
  const Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  E extends PublicError,
  R,
  B extends object,
  E2,
  R2,
  T extends Tier,
  C extends boolean = false,
>(
  spec: TaskSpecWithAfter<Name, Fields, A, E, R, B, E2, R2, T, C>,
): TaskTool<Name, Fields, A | TaskOutcome<B>, E, R | R2, T, C>
export function task<
  const Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  E extends PublicError,
  R,
  T extends Tier,
  C extends boolean = false,
>(spec: TaskSpec<Name, Fields, A, E, R, T, C>): TaskTool<Name, Fields, A | TaskOutcome, E, R, T, C>
export function task<
  const Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  E extends PublicError,
  R,
  T extends Tier,
  C extends boolean,
>(
  spec: TaskSpec<Name, Fields, A, E, R, T, C> & {
    readonly after?: (input: Input<Fields>, task: TaskResult) => Effect.Effect<object, E, R>
  },
): TaskTool<Name, Fields, A | TaskOutcome, E, R, T, C> {
  const info = infoOf(spec, spec.endpoints, true)
  const after = spec.after
  return {
    ...info,
    name: spec.name,
    input: spec.input,
    decode: makeDecoder(info, spec.input),
    targets: spec.targets,
    run: ({ input, control }) =>
      Effect.flatMap(spec.run(input), (output) => {
        const upid = output.upid
        if (control.wait !== true || upid === undefined)
          return Effect.succeed<ToolOutput<A | TaskOutcome>>(output)
        return Effect.gen(function* () {
          const result = yield* followToEnd(upid, control.timeoutSeconds ?? DEFAULT_WAIT_SECONDS)
          if (after === undefined) return { ...output, data: result, upid: result.upid, node: result.node }
          // The task succeeded: a failed read after it is a warning, never the call's failure.
          // The task's own fields come last, so `status` is always the task's (SPEC 12).
          // Its own requests: a read already in flight may have been answered before the task ended.
          const extra = yield* Effect.either(fresh(after(input, result)))
          if (extra._tag === "Right")
            return { ...output, data: { ...extra.right, ...result }, upid: result.upid, node: result.node }
          return {
            ...output,
            data: result,
            upid: result.upid,
            node: result.node,
            warnings: [
              ...(output.warnings ?? []),
              "The task ended, but the state after it could not be read.",
            ],
          }
        })
      }),
  }
}

// ---------------------------------------------------------------------------------------------
// One-request tools

/** How a request tool finds the node of its path. */
type Addressing =
  | { readonly _tag: "Guest"; readonly type: GuestType }
  | { readonly _tag: "Task" }
  | { readonly _tag: "Node" }
  | { readonly _tag: "None" }

const addressingOf = (path: string): Addressing => {
  const guest = /^\/nodes\/\{node\}\/(qemu|lxc)\/\{vmid\}/.exec(path)
  if (guest !== null) return { _tag: "Guest", type: guest[1] === "lxc" ? "lxc" : "qemu" }
  if (path.startsWith("/nodes/{node}/tasks/{upid}")) return { _tag: "Task" }
  if (path.startsWith("/nodes/{node}")) return { _tag: "Node" }
  return { _tag: "None" }
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)
const int = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined)

/** The targets a path implies: the guest, task, storage or node it addresses, else the cluster. */
const pathTargets = (path: string, addressing: Addressing) => (input: object) => {
  const field = (name: string) => fieldOf(input, name)
  const node = text(field("node"))
  switch (addressing._tag) {
    case "Guest":
      return [TargetRef.Guest({ vmid: int(field("vmid")) ?? 0, type: addressing.type, node })]
    case "Task":
      return [TargetRef.Task({ upid: text(field("upid")) ?? "" })]
    case "Node":
      return path.startsWith("/nodes/{node}/storage/{storage}")
        ? [TargetRef.Storage({ storage: text(field("storage")) ?? "", node })]
        : [TargetRef.Node({ node: node ?? "" })]
    case "None":
      if (path.startsWith("/access")) {
        // The object's own path, e.g. /access/users/alice@pve (values are validated fields).
        const concrete = path.replace(/\{([^}]+)\}/g, (_, name: string) => String(field(name) ?? ""))
        return [TargetRef.Access({ path: concrete })]
      }
      if (path.startsWith("/storage/{storage}"))
        return [TargetRef.Storage({ storage: text(field("storage")) ?? "" })]
      if (path.startsWith("/pools/{poolid}")) return [TargetRef.Pool({ pool: text(field("poolid")) ?? "" })]
      return [TargetRef.Cluster()]
  }
}

/**
 * The node a task runs on is named in its UPID; a `node` argument must agree with it, and the
 * node must exist (UNKNOWN_NODE otherwise, like every node-addressed tool).
 */
export const taskNode = (input: { readonly node?: string | undefined; readonly upid: string }) => {
  const node = upidNode(input.upid) ?? ""
  return input.node !== undefined && input.node !== node
    ? Effect.fail(
        new InvalidInput({
          message: `node '${input.node}' does not match the UPID's node '${node}'`,
          field: "node",
        }),
      )
    : Effect.flatMap(NodeRegistry, (registry) => registry.requireNode(node))
}

/** Runs `use` on the node the path addresses (see `NodeRegistry.onGuestNode` for guests). */
const onNode = <A, E, R>(
  addressing: Addressing,
  input: object,
  use: (node: string | undefined) => Effect.Effect<A, E, R>,
) => {
  const node = text(fieldOf(input, "node"))
  switch (addressing._tag) {
    case "Guest":
      return Effect.flatMap(NodeRegistry, (registry) =>
        registry.onGuestNode({ node, vmid: int(fieldOf(input, "vmid")) ?? 0 }, addressing.type, use),
      )
    case "Task":
      return Effect.flatMap(taskNode({ node, upid: text(fieldOf(input, "upid")) ?? "" }), use)
    case "Node":
      return Effect.flatMap(
        Effect.flatMap(NodeRegistry, (registry) => registry.requireNode(node ?? "")),
        use,
      )
    case "None":
      return use(undefined)
  }
}

export interface RequestSpec<
  Name extends string,
  Path extends string,
  Fields extends Schema.Struct.Fields,
  T extends Tier,
  C extends boolean,
> extends Declaration<Name, T, C> {
  readonly endpoint: Endpoint<Path>
  readonly input: Fields
  /**
   * The request's parameters. Default: every field that is neither a path placeholder nor one
   * of the `pagingFields` (those page the result here).
   */
  readonly params?: (input: Input<Fields>) => Params
  /** Default: what the path addresses (guest, task, storage, node, pool or the cluster). */
  readonly targets?: (input: Input<Fields>) => ReadonlyArray<TargetRef>
}

/** A request tool that shapes PVE's `data` into its result (sorting, paging). */
export interface ShapedRequestSpec<
  Name extends string,
  Path extends string,
  Fields extends Schema.Struct.Fields,
  A,
  T extends Tier,
  C extends boolean,
> extends RequestSpec<Name, Path, Fields, T, C> {
  readonly result: (data: unknown, input: Input<Fields>) => A
}

/** The fields of a decoded input as request parameters, leaving out `exclude`. */
export const paramsOf = (input: object, exclude: ReadonlySet<string>): Params =>
  Object.fromEntries(
    Object.entries(input).filter(
      (entry): entry is [string, string | number | boolean] =>
        !exclude.has(entry[0]) && ["string", "number", "boolean"].includes(typeof entry[1]),
    ),
  )

const pathValue = (value: unknown): string | number | undefined =>
  typeof value === "string" || typeof value === "number" ? value : undefined

export type RequestTool<
  Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  T extends Tier,
  C extends boolean,
> = Tool<Name, Fields, A, ApiError | CallError<T, C>, ProxmoxApi | NodeRegistry>

/**
 * A tool that is one PVE request, declared by its endpoint. Its result is PVE's `data` as sent
 * (`unknown`), or what `result` makes of it.
 */
export function request<
  const Name extends string,
  const Path extends string,
  Fields extends Schema.Struct.Fields,
  A,
  T extends Tier = "read-only",
  C extends boolean = false,
>(spec: ShapedRequestSpec<Name, Path, Fields, A, T, C>): RequestTool<Name, Fields, A, T, C>
export function request<
  const Name extends string,
  const Path extends string,
  Fields extends Schema.Struct.Fields,
  T extends Tier = "read-only",
  C extends boolean = false,
>(spec: RequestSpec<Name, Path, Fields, T, C>): RequestTool<Name, Fields, unknown, T, C>
export function request<
  const Name extends string,
  const Path extends string,
  Fields extends Schema.Struct.Fields,
  T extends Tier,
  C extends boolean,
>(
  spec: RequestSpec<Name, Path, Fields, T, C> & {
    readonly result?: (data: unknown, input: Input<Fields>) => unknown
  },
): RequestTool<Name, Fields, unknown, T, C> {
  const endpoint = spec.endpoint
  const addressing = addressingOf(endpoint.path)
  const names = placeholders(endpoint.path)
  const info = infoOf(spec, [endpoint], false)
  const localFields: ReadonlySet<unknown> = new Set(Object.values(pagingFields))
  for (const name of names) {
    // A declaration bug, caught when the module loads: every placeholder is a validated field.
    if (name !== "node" && !(name in spec.input))
      throw new Error(`${spec.name}: {${name}} of ${endpoint.path} is no input field`)
  }
  const notSent = new Set([
    ...names,
    ...Object.keys(spec.input).filter((key) => localFields.has(spec.input[key])),
  ])
  const defaultParams = (input: object): Params => paramsOf(input, notSent)
  const shape = spec.result
  return {
    ...info,
    name: spec.name,
    input: spec.input,
    decode: makeDecoder(info, spec.input),
    targets: spec.targets ?? pathTargets(endpoint.path, addressing),
    run: ({ input }) =>
      onNode(addressing, input, (node) => {
        const values: Record<string, string | number> = {}
        for (const name of names) {
          const value = name === "node" ? node : pathValue(fieldOf(input, name))
          if (value !== undefined) values[name] = value
        }
        return Effect.map(
          endpoint.send(values, spec.params === undefined ? defaultParams(input) : spec.params(input)),
          (data): ToolOutput<unknown> => ({
            data: shape === undefined ? data : shape(data, input),
            ...(node === undefined ? {} : { node }),
            ...(addressing._tag === "Task" ? { upid: text(fieldOf(input, "upid")) ?? "" } : {}),
          }),
        )
      }),
  }
}

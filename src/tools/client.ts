/**
 * The typed call API for embedders: call a tool value directly and get its result type, or its
 * tagged errors to `catchTag`. The call goes through the same pipeline as a transport's
 * (validation, targets, policy, audit); the caller is the `ToolCall` in context, or the local
 * principal when there is none.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type { PublicError } from "../domain/errors.js"
import { LOCAL_PRINCIPAL } from "../domain/principal.js"
import { localCall, ToolCall } from "./call.js"
import { execute, type InvokeServices, type PipelineError } from "./invoke.js"
import type { ControlInput, Tool, ToolOutput } from "./tool.js"

/** Runs `tool` with `input` (as a client would send it) and returns its whole output. */
export const callToolOutput = <
  Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  E extends PublicError,
  R,
>(
  tool: Tool<Name, Fields, A, E, R>,
  input: Schema.Struct.Encoded<Fields> & ControlInput,
): Effect.Effect<
  ToolOutput<A>,
  E | PipelineError,
  Exclude<R | InvokeServices | Schema.Struct.Context<Fields>, ToolCall>
> =>
  Effect.flatMap(Effect.serviceOption(ToolCall), (call) =>
    execute({ name: tool.name, tool }, input).pipe(
      Effect.provideService(
        ToolCall,
        Option.getOrElse(call, () => localCall(LOCAL_PRINCIPAL)),
      ),
    ),
  )

/** Runs `tool` with `input` and returns its data. */
export const callTool = <
  Name extends string,
  Fields extends Schema.Struct.Fields,
  A,
  E extends PublicError,
  R,
>(
  tool: Tool<Name, Fields, A, E, R>,
  input: Schema.Struct.Encoded<Fields> & ControlInput,
) => Effect.map(callToolOutput(tool, input), (output) => output.data)

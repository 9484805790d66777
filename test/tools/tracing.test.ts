/**
 * Spans only for a tracer that reads them, and never a trace header to Proxmox: a call with an
 * installed tracer makes its spans (tool, Proxmox request) and still sends no `traceparent`/`b3`;
 * with Effect's built-in tracer (which exports nothing) a call makes no span at all.
 */
import { Effect, type ManagedRuntime, Option, Tracer } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { LOCAL_PRINCIPAL } from "../../src/domain/principal.js"
import { TargetRef } from "../../src/domain/target.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { ToolCall } from "../../src/tools/call.js"
import { execute } from "../../src/tools/invoke.js"
import * as Tool from "../../src/tools/tool.js"
import { callTool, configFor, runtimeFor, startTestCluster, type TestRuntime } from "../support/cluster.js"

let sim: RunningSimulator
let runtime: TestRuntime

beforeAll(async () => {
  sim = await startTestCluster()
  runtime = runtimeFor(configFor(sim))
})
afterAll(async () => {
  await runtime.dispose()
  await sim.close()
})
beforeEach(() => sim.cluster.clearRequests())

const TRACE_HEADERS = ["traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid"]

/** A tracer of our own (as an OpenTelemetry layer would install one) that notes span names. */
const recordingTracer = (names: Array<string>) => {
  const builtin = Effect.runSync(Effect.tracer)
  return Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      names.push(name)
      return builtin.span(name, parent, context, links, startTime, kind, options)
    },
    context: builtin.context,
  })
}

describe("tracing", () => {
  it("with a tracer installed: spans for the call and its request, no trace header to Proxmox", async () => {
    const names: Array<string> = []
    const envelope = await runtime.runPromise(
      callTool(runtime, "pve_list_nodes").program.pipe(Effect.withTracer(recordingTracer(names))),
    )
    expect(envelope.ok).toBe(true)
    expect(names).toEqual(expect.arrayContaining(["tool.invoke", "ProxmoxApi.request"]))
    const sent = sim.cluster.requests.filter((r) => r.path === "/nodes")
    expect(sent).toHaveLength(1)
    expect(sent[0]!.headerNames).toContain("authorization")
    for (const header of TRACE_HEADERS) expect(sent[0]!.headerNames).not.toContain(header)
  })

  it("a call runs in a span only under an installed tracer, not under the built-in one", async () => {
    // A tool whose program reports whether it runs inside a span.
    const probe = Tool.make({
      name: "pve_trace_probe",
      title: "Trace probe",
      description: "Reports whether a call runs inside a span.",
      category: "cluster",
      tier: "read-only",
      input: {},
      endpoints: [],
      targets: () => [TargetRef.Cluster()],
      run: () => Effect.map(Effect.option(Effect.currentSpan), (span) => ({ data: Option.isSome(span) })),
    })
    const entry = { name: probe.name, tool: probe }
    const call = ToolCall.of({
      principal: LOCAL_PRINCIPAL,
      cancelStopsTask: () => false,
      progress: () => Effect.void,
    })
    const traced = <A, E>(
      program: Effect.Effect<A, E, ToolCall | ManagedRuntime.ManagedRuntime.Context<TestRuntime>>,
    ) => runtime.runPromise(Effect.provideService(program, ToolCall, call))
    expect(await traced(Effect.map(execute(entry, {}), (output) => output.data))).toBe(false)
    const names: Array<string> = []
    expect(
      await traced(
        Effect.map(execute(entry, {}), (output) => output.data).pipe(
          Effect.withTracer(recordingTracer(names)),
        ),
      ),
    ).toBe(true)
    expect(names).toContain("tool.execute")
  })
})

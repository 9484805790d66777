/**
 * Cluster-wide reads that ask every node: at most `FAN_OUT_CONCURRENCY` nodes at once, each read
 * tried once (`singleTry`), and a node that fails is a warning next to the others' answers, not
 * the call's failure. So one dead node costs its one failed request, never the back-offs of its
 * retries, and the answer comes when the slowest healthy node's does.
 */
import * as Effect from "effect/Effect"
import { singleTry } from "../proxmox/api.js"

/**
 * How many nodes a fan-out asks at once: wider than the clusters corosync supports well (about 32
 * nodes), so a real cluster is asked in one wave and the answer comes with its slowest node; never
 * unbounded. With a single endpoint (PROXMOX_HOST) its 8 connections bound it further: list the
 * nodes in PROXMOX_NODES for a fan-out at full width.
 */
export const FAN_OUT_CONCURRENCY = 64

export interface FanOut<A, E> {
  /** The nodes that answered, in the order asked. */
  readonly answers: ReadonlyArray<{ readonly node: string; readonly value: A }>
  readonly failures: ReadonlyArray<{ readonly node: string; readonly error: E }>
  /** One line per failed node, for the result's `meta.warnings`. */
  readonly warnings: ReadonlyArray<string>
}

/** Runs `read` for each node (bounded, single tries) and splits answers from failures. */
export const perNode = <A, E extends { readonly message: string }, R>(
  nodes: ReadonlyArray<string>,
  read: (node: string) => Effect.Effect<A, E, R>,
  concurrency: number = FAN_OUT_CONCURRENCY,
): Effect.Effect<FanOut<A, E>, never, R> =>
  Effect.map(
    Effect.forEach(nodes, (node) => Effect.either(singleTry(read(node))), { concurrency }),
    (results) => {
      const answers: Array<{ node: string; value: A }> = []
      const failures: Array<{ node: string; error: E }> = []
      results.forEach((result, i) => {
        const node = nodes[i]!
        if (result._tag === "Right") answers.push({ node, value: result.right })
        else failures.push({ node, error: result.left })
      })
      return {
        answers,
        failures,
        warnings: failures.map(({ node, error }) => `node ${node} did not answer: ${error.message}`),
      }
    },
  )

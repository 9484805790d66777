/** QEMU and LXC metrics (rrddata) per timeframe: NANDI's names, with the timeframe they say. */
import * as Schema from "effect/Schema"
import type { GuestType } from "../domain/ids.js"
import { optionalGuestNode, vmidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

const TIMEFRAMES = ["hour", "day", "week", "month", "year"] as const
type Timeframe = (typeof TIMEFRAMES)[number]

const RESOLUTION: Readonly<Record<Timeframe, string>> = {
  hour: "one point a minute",
  day: "one point per 30 minutes",
  week: "one point per 3 hours",
  month: "one point per 12 hours",
  year: "one point a week",
}

const metricsTool = <const Name extends string>(type: GuestType, timeframe: Timeframe, name: Name) =>
  Tool.request({
    name,
    title: `Get ${type === "qemu" ? "VM" : "container"} metrics (${timeframe})`,
    description: `A ${type === "qemu" ? "VM" : "container"}'s CPU, memory, disk and network history over the last ${timeframe} (${RESOLUTION[timeframe]}); cf MAX for peaks.`,
    category: "monitoring",
    tier: "read-only",
    endpoint: Endpoint.get(`/nodes/{node}/${type}/{vmid}/rrddata`),
    input: {
      node: optionalGuestNode,
      vmid: vmidField,
      cf: Schema.optional(
        Schema.Literal("AVERAGE", "MAX").annotations({ description: "AVERAGE (default) or MAX" }),
      ),
    },
    params: (input) => ({ timeframe, cf: input.cf ?? "AVERAGE" }),
  })

export const guestMetricsTools = (["qemu", "lxc"] as const).flatMap((type) =>
  TIMEFRAMES.map((timeframe) => metricsTool(type, timeframe, `pve_get_${type}_metrics_${timeframe}`)),
)

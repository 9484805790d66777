/**
 * Monitoring: RRD metrics of nodes and guests (NANDI's 15 `*_metrics_{timeframe}` tools, one
 * builder), node facts (DNS, time, syslog, services) and the QEMU guest agent's read-only
 * queries. `pve_get_node_version` lives with the node tools.
 */
import * as Schema from "effect/Schema"
import type { GuestType } from "../domain/ids.js"
import { IntegerInput } from "../domain/ids.js"
import { asArray, nodeField, optionalGuestNode, page, pagingFields, vmidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

export type Timeframe = "hour" | "day" | "week" | "month" | "year"
export type MetricsSubject = "node" | GuestType

const RESOLUTION: Readonly<Record<Timeframe, string>> = {
  hour: "last hour, per minute",
  day: "last day, per 30 min",
  week: "last week, per 3 h",
  month: "last month, per 12 h",
  year: "last year, per week",
}

const cfField = Schema.optional(
  Schema.Literal("AVERAGE", "MAX").annotations({
    description: "AVERAGE (default) or MAX",
  }),
)

const subjectNoun: Readonly<Record<MetricsSubject, string>> = {
  node: "a node",
  qemu: "a VM",
  lxc: "a container",
}

/**
 * One metrics tool: `GET .../rrddata` with the timeframe its name says (never an input) and
 * `cf` (AVERAGE unless MAX is asked for).
 */
export const metricsTool = <const S extends MetricsSubject, const T extends Timeframe>(
  subject: S,
  timeframe: T,
) => {
  const name = `pve_get_${subject}_metrics_${timeframe}` as const
  const declaration = {
    name,
    title: `Get ${subject === "node" ? "node" : subject === "qemu" ? "VM" : "container"} metrics (${timeframe})`,
    description: `RRD series of ${subjectNoun[subject]}, ${RESOLUTION[timeframe]}: CPU, memory, ${subject === "node" ? "load, I/O wait, network" : "network, disk I/O"}.`,
    category: "monitoring",
    tier: "read-only",
  } as const
  if (subject === "node") {
    return Tool.request({
      ...declaration,
      endpoint: Endpoint.get("/nodes/{node}/rrddata"),
      input: { node: nodeField, cf: cfField },
      params: (input) => ({ timeframe, cf: input.cf ?? "AVERAGE" }),
    })
  }
  return Tool.request({
    ...declaration,
    endpoint: Endpoint.get(`/nodes/{node}/${subject as GuestType}/{vmid}/rrddata`),
    input: { node: optionalGuestNode, vmid: vmidField, cf: cfField },
    params: (input) => ({ timeframe, cf: input.cf ?? "AVERAGE" }),
  })
}

/** A QEMU guest agent query: read-only, answered by the agent inside the VM. */
const agentTool = <const Name extends string>(
  name: Name,
  command: "info" | "network-get-interfaces" | "get-osinfo" | "get-fsinfo",
  title: string,
  description: string,
) =>
  Tool.request({
    name,
    title,
    description: `${description} Needs the agent running in the VM.`,
    category: "monitoring",
    tier: "read-only",
    endpoint: Endpoint.get(`/nodes/{node}/qemu/{vmid}/agent/${command}`),
    input: { node: optionalGuestNode, vmid: vmidField },
  })

const journalTime = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$/, {
    message: () => "a time as YYYY-MM-DD[ HH:MM[:SS]]",
  }),
)

export const metricsTools = [
  metricsTool("node", "hour"),
  metricsTool("qemu", "hour"),
  metricsTool("lxc", "hour"),
  metricsTool("node", "day"),
  metricsTool("qemu", "day"),
  metricsTool("lxc", "day"),
  metricsTool("node", "week"),
  metricsTool("qemu", "week"),
  metricsTool("lxc", "week"),
  metricsTool("node", "month"),
  metricsTool("qemu", "month"),
  metricsTool("lxc", "month"),
  metricsTool("node", "year"),
  metricsTool("qemu", "year"),
  metricsTool("lxc", "year"),
  Tool.request({
    name: "pve_get_node_dns",
    title: "Get node DNS settings",
    description: "One node's DNS search domain and name servers (dns1..dns3).",
    category: "monitoring",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/dns"),
    input: { node: nodeField },
  }),
  Tool.request({
    name: "pve_get_node_time",
    title: "Get node time",
    description: "One node's clock (time, localtime) and timezone: spot clock skew.",
    category: "monitoring",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/time"),
    input: { node: nodeField },
  }),
  Tool.request({
    name: "pve_get_node_syslog",
    title: "Get node syslog",
    description: "One node's system log lines (n, t), oldest first; narrow with service, since and until.",
    category: "monitoring",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/syslog"),
    input: {
      node: nodeField,
      limit: Schema.optional(
        IntegerInput({ minimum: 1, maximum: 50_000, description: "Max lines (default 100)" }),
      ),
      start: Schema.optional(
        IntegerInput({ minimum: 0, maximum: 10_000_000, description: "First line (0-based)" }),
      ),
      service: Schema.optional(
        Schema.String.pipe(
          Schema.maxLength(128),
          Schema.pattern(/^[A-Za-z0-9@._:-]+$/, { message: () => "a systemd unit name" }),
        ).annotations({ description: "Only this systemd unit (e.g. pveproxy)" }),
      ),
      since: Schema.optional(
        journalTime.annotations({ description: "From this time (YYYY-MM-DD HH:MM:SS)" }),
      ),
      until: Schema.optional(
        journalTime.annotations({ description: "Up to this time (YYYY-MM-DD HH:MM:SS)" }),
      ),
    },
    params: ({ node: _node, ...params }) => ({ ...params, limit: params.limit ?? 100 }),
  }),
  Tool.request({
    name: "pve_list_node_services",
    title: "List node services",
    description: "One node's PVE services (pveproxy, corosync, ...) and their state.",
    category: "monitoring",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/services"),
    input: { node: nodeField, ...pagingFields },
    result: (data, input) => page(asArray(data), input),
  }),
  agentTool(
    "pve_get_qemu_agent_info",
    "info",
    "Get QEMU guest agent info",
    "The guest agent's version and commands.",
  ),
  agentTool(
    "pve_get_qemu_agent_network",
    "network-get-interfaces",
    "Get VM network interfaces (agent)",
    "The VM's interfaces as the guest sees them: names, MACs, IPs.",
  ),
  agentTool(
    "pve_get_qemu_agent_osinfo",
    "get-osinfo",
    "Get VM operating system (agent)",
    "The VM's OS: name, version, kernel.",
  ),
  agentTool(
    "pve_get_qemu_agent_fsinfo",
    "get-fsinfo",
    "Get VM file systems (agent)",
    "The VM's file systems: mount point, type, total and used bytes.",
  ),
]

/**
 * NANDI's prompts: canned instructions that walk a model through a task with this server's tools.
 * A prompt is listed (and can be fetched) only when every tool it needs is exposed to the caller,
 * so it never tells a model to call a tool it cannot see. Arguments are validated like tool
 * inputs; the text is built from validated values only.
 */
import { NODE_NAME_PATTERN, STORAGE_ID_PATTERN, VMID_MAX, VMID_MIN } from "../domain/ids.js"

export interface PromptArgument {
  readonly name: string
  readonly description: string
  readonly required: boolean
  /** Undefined when valid, else what is wrong. */
  readonly check: (value: string) => string | undefined
}

export interface PromptDeclaration {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly arguments: ReadonlyArray<PromptArgument>
  /** Tools the text tells the model to call: all must be exposed for the prompt to be. */
  readonly tools: ReadonlyArray<string>
  /** The user message, from validated arguments; it may name optional tools only when `exposed`. */
  readonly text: (
    args: Readonly<Record<string, string | undefined>>,
    exposed: (tool: string) => boolean,
  ) => string
}

const vmidCheck = (value: string) =>
  /^\d+$/.test(value) && Number(value) >= VMID_MIN && Number(value) <= VMID_MAX
    ? undefined
    : `must be a guest id (${VMID_MIN}..${VMID_MAX})`
const nodeCheck = (value: string) =>
  NODE_NAME_PATTERN.test(value) && value.length <= 63 ? undefined : "must be a node name"
const storageCheck = (value: string) => (STORAGE_ID_PATTERN.test(value) ? undefined : "must be a storage id")
const daysCheck = (value: string) =>
  /^\d{1,3}$/.test(value) && Number(value) >= 1 ? undefined : "must be a number of days (1..999)"

export const prompts: ReadonlyArray<PromptDeclaration> = [
  {
    name: "cluster-health",
    title: "Cluster health check",
    description:
      "Check quorum, nodes, guests, HA and recent failures of the Proxmox cluster, and report problems.",
    arguments: [],
    tools: ["pve_get_cluster_status", "pve_list_nodes", "pve_list_cluster_resources"],
    text: (_args, exposed) => {
      const optional: ReadonlyArray<readonly [string, string]> = [
        ["pve_get_cluster_ha_status", "HA manager state and each node's LRM"],
        ["pve_list_tasks", "each node's recent failed tasks (errors: true)"],
        ["pve_get_cluster_log", "the cluster log for recent errors"],
        ["pve_list_node_storage", "storage usage per node (flag anything above 85 %)"],
        ["pve_get_ceph_status", "Ceph health, where installed"],
      ]
      const steps = [
        "pve_get_cluster_status: is the cluster quorate, is every node online?",
        "pve_list_nodes: CPU, memory and disk use per node; flag anything above 85 %.",
        "pve_list_cluster_resources: guests that are stopped, locked or unknown.",
        ...optional.filter(([tool]) => exposed(tool)).map(([tool, what]) => `${tool}: ${what}.`),
      ]
      return [
        "Check the health of the Proxmox VE cluster. Read only; change nothing.",
        ...steps.map((step, index) => `${index + 1}. ${step}`),
        "Then summarize: overall state (healthy, degraded or failing), each problem with the node or guest it concerns, and what to look at next.",
      ].join("\n")
    },
  },
  {
    name: "guest-inventory",
    title: "Guest inventory",
    description:
      "Inventory of the cluster's VMs and containers: where they run, state, size, tags, templates.",
    arguments: [{ name: "node", description: "Only this node", required: false, check: nodeCheck }],
    tools: ["pve_list_cluster_resources", "pve_get_qemu_config", "pve_get_lxc_config"],
    text: ({ node }) =>
      [
        `Build an inventory of the guests ${node === undefined ? "of the whole cluster" : `on node ${node}`}.`,
        "1. Call pve_list_cluster_resources with type: vm" +
          (node === undefined ? "." : ` and keep the entries whose node is ${node}.`),
        "2. Make one table: vmid, name, type (qemu VM / lxc container), node, status, cores (maxcpu), memory (maxmem), disk (maxdisk), tags; list templates (template: 1) separately.",
        "3. For guests whose role is unclear, read pve_get_qemu_config or pve_get_lxc_config (OS type, onboot, description).",
        "4. Point out: stopped guests that start at boot (onboot: 1), locked guests (lock), guests in status unknown (their node may be down), and guests without tags.",
        "Only read: change nothing.",
      ].join("\n"),
  },
  {
    name: "backup-audit",
    title: "Backup audit",
    description: "Checks that every guest is covered by a backup job and has a recent backup.",
    arguments: [
      {
        name: "storage",
        description: "Backup storage to check (default: those of the jobs)",
        required: false,
        check: storageCheck,
      },
      {
        name: "days",
        description: "A backup older than this many days is stale (default 7)",
        required: false,
        check: daysCheck,
      },
    ],
    tools: ["pve_list_cluster_resources", "pve_list_backup_jobs", "pve_list_backups"],
    text: ({ storage, days }) =>
      [
        `Audit the cluster's backups; a backup older than ${days ?? "7"} days is stale.`,
        "1. pve_list_cluster_resources with type: vm: every guest (skip templates unless they matter).",
        "2. pve_list_backup_jobs: for each job note enabled, schedule, storage, mode, retention (prune-backups), and which guests it covers (vmid list, all, exclude, node).",
        `3. pve_list_backups on ${storage === undefined ? "each storage the jobs write to (with a node that sees it)" : `storage ${storage}`}: the newest backup per vmid (ctime).`,
        "4. Report: guests in no enabled job; guests whose newest backup is stale or missing; disabled jobs; jobs without retention.",
        "5. Suggest fixes (pve_create_backup_job, pve_run_backup) but run nothing without the operator's go-ahead.",
      ].join("\n"),
  },
  {
    name: "troubleshoot-guest",
    title: "Troubleshoot a guest",
    description:
      "Step-by-step diagnosis of one VM or container that misbehaves (won't start, slow, unreachable).",
    arguments: [
      { name: "vmid", description: "The guest's id", required: true, check: vmidCheck },
      {
        name: "symptom",
        description: "What is wrong, in a few words",
        required: false,
        check: (v) => (v.length <= 200 ? undefined : "at most 200 characters"),
      },
    ],
    tools: [
      "pve_list_cluster_resources",
      "pve_get_qemu_status",
      "pve_get_lxc_status",
      "pve_list_tasks",
      "pve_get_task_log",
    ],
    text: ({ vmid, symptom }) =>
      [
        `Diagnose guest ${vmid}${symptom === undefined ? "" : ` (reported: ${symptom.replace(/[\r\n]+/g, " ")})`}.`,
        `1. pve_list_cluster_resources with type: vm: find vmid ${vmid}, its type (qemu or lxc), node, status and lock.`,
        "2. pve_get_qemu_status or pve_get_lxc_status: state, uptime, CPU, memory, disk and network counters, HA state.",
        `3. pve_list_tasks on its node with vmid: ${vmid} (and errors: true): recent failed tasks; read the failing one with pve_get_task_log.`,
        "4. If the tools are available: its config (pve_get_qemu_config / pve_get_lxc_config), the guest agent (pve_get_qemu_agent_info), recent metrics (pve_get_qemu_metrics_hour / pve_get_lxc_metrics_hour), snapshots, and the node's status.",
        "5. State the most likely cause with the evidence, and the next step. Do not start, stop or change anything without the operator's go-ahead.",
      ].join("\n"),
  },
]

/** The prompt's arguments validated: the values, or the first problem. */
export const promptArguments = (
  prompt: PromptDeclaration,
  given: Readonly<Record<string, string>> | undefined,
): { readonly values: Readonly<Record<string, string | undefined>> } | { readonly problem: string } => {
  const values: Record<string, string | undefined> = {}
  const known = new Set(prompt.arguments.map((a) => a.name))
  const unknown = Object.keys(given ?? {}).find((name) => !known.has(name))
  if (unknown !== undefined) return { problem: `${unknown}: is not an argument of ${prompt.name}` }
  for (const argument of prompt.arguments) {
    const value = given?.[argument.name]
    if (value === undefined || value === "") {
      if (argument.required) return { problem: `${argument.name}: is required` }
      continue
    }
    const problem = argument.check(value)
    if (problem !== undefined) return { problem: `${argument.name}: ${problem}` }
    values[argument.name] = value
  }
  return { values }
}

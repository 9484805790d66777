/**
 * Cluster-wide reads beyond status and resources: the cluster log, datacenter options,
 * replication jobs, HA state and groups, guests without a backup job, and Ceph where installed.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { IntegerInput } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { asArray, page, pagingFields } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

const cephStatus = Endpoint.get("/cluster/ceph/status")

/** What PVE answers on a cluster without Ceph (`PVE::Ceph::Tools::check_ceph_inited`). */
const NO_CEPH = /binary not installed|not initialized|ceph\.conf/i

export const clusterAdminTools = [
  Tool.request({
    name: "pve_get_cluster_log",
    title: "Get cluster log",
    description: "Recent cluster-wide log entries, newest first (time, node, user, tag, msg, pri).",
    category: "cluster",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/log"),
    input: {
      max: Schema.optional(
        IntegerInput({ minimum: 1, maximum: 10_000, description: "Max entries (default 50)" }),
      ),
    },
    params: (input) => ({ max: input.max ?? 50 }),
  }),
  Tool.request({
    name: "pve_get_cluster_options",
    title: "Get datacenter options",
    description: "Datacenter options (keyboard, migration, HA shutdown policy, MAC prefix, ...).",
    category: "cluster",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/options"),
    input: {},
  }),
  Tool.request({
    name: "pve_list_cluster_replication",
    title: "List replication jobs",
    description: "Storage replication jobs (id, guest, target node, schedule, rate, disable).",
    category: "cluster",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/replication"),
    input: pagingFields,
    result: (data, input) => page(asArray(data), input),
  }),
  Tool.request({
    name: "pve_get_cluster_ha_status",
    title: "Get HA status",
    description: "HA manager state: quorum, master, each node's LRM and each HA resource's state.",
    category: "cluster",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/ha/status/current"),
    input: {},
  }),
  Tool.request({
    name: "pve_list_cluster_backup_info",
    title: "List guests without backup",
    description: "Guests that no backup job covers (vmid, name, type): gaps in the backup plan.",
    category: "cluster",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/backup-info/not-backed-up"),
    input: pagingFields,
    result: (data, input) => page(asArray(data), input),
  }),
  Tool.request({
    name: "pve_list_ha_groups",
    title: "List HA groups",
    description: "HA groups (group, nodes with priorities, restricted, nofailback).",
    category: "cluster",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/ha/groups"),
    input: pagingFields,
    result: (data, input) => page(asArray(data), input),
  }),
  Tool.make({
    name: "pve_get_ceph_status",
    title: "Get Ceph status",
    description: "Ceph health, monitors, OSDs, PGs; {installed: false} without Ceph.",
    category: "cluster",
    tier: "read-only",
    input: {},
    endpoints: [cephStatus],
    targets: () => [TargetRef.Cluster()],
    run: () =>
      cephStatus.call({}).pipe(
        Effect.map((data) => ({
          data: { installed: true, ...(typeof data === "object" && data !== null ? data : {}) },
        })),
        Effect.catchIf(
          (error) => error._tag === "ProxmoxError" && error.status === 500 && NO_CEPH.test(error.message),
          () => Effect.succeed({ data: { installed: false } }),
        ),
      ),
  }),
]

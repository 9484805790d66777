/** Backups: vzdump runs, backup files, restores and scheduled backup jobs. */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { InvalidInput } from "../domain/errors.js"
import { type GuestType, JobId, StorageId } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { NodeRegistry } from "../proxmox/registry.js"
import { asArray, nodeField, page, pagingFields, sortBy, vmidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import {
  freeText,
  noun,
  optionalBoolean,
  parseVmidList,
  startOnNode,
  storageField,
  text,
  vmidListField,
  volumeIdField,
} from "./fields.js"
import * as Tool from "./tool.js"

const backupJobs = Endpoint.get("/cluster/backup")
const storageContent = Endpoint.get("/nodes/{node}/storage/{storage}/content")
const vzdump = Endpoint.post("/nodes/{node}/vzdump")
const createJob = Endpoint.post("/cluster/backup")

const modeField = Schema.optional(
  Schema.Literal("snapshot", "suspend", "stop").annotations({
    description: "snapshot (default), suspend or stop",
  }),
)
const compressField = Schema.optional(
  Schema.Literal("zstd", "gzip", "lzo", "0").annotations({
    description: "Compression (default zstd)",
  }),
)
const notesField = freeText("Backup notes; {{guestname}}, {{vmid}} are filled in", 1024)
const pruneField = Schema.optional(
  text(
    /^(keep-all=[01]|keep-(last|hourly|daily|weekly|monthly|yearly)=\d{1,5})(,(keep-all=[01]|keep-(last|hourly|daily|weekly|monthly|yearly)=\d{1,5}))*$/,
    "retention",
    "Retention, e.g. keep-daily=7",
    512,
  ),
)

/** Newest first: what an audit of backups wants to see at the top. */
const newestFirst = (rows: ReadonlyArray<Readonly<Record<string, unknown>>>) =>
  [...rows].sort((a, b) => Number(b.ctime ?? 0) - Number(a.ctime ?? 0))

export const backupTools = [
  Tool.request({
    name: "pve_list_backup_jobs",
    title: "List backup jobs",
    description: "Scheduled backup jobs (id, schedule, storage, guests or all, mode, enabled, retention).",
    category: "backup",
    tier: "read-only",
    endpoint: backupJobs,
    input: pagingFields,
    result: (data, input) => page(sortBy("id")(asArray(data)), input),
  }),
  Tool.request({
    name: "pve_get_backup_job",
    title: "Get backup job",
    description: "One scheduled backup job's settings by id (from pve_list_backup_jobs).",
    category: "backup",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/backup/{id}"),
    input: { id: JobId },
  }),
  Tool.request({
    name: "pve_list_backups",
    title: "List backup files",
    description: "Backup archives on one storage, newest first (volid, vmid, size, ctime, notes).",
    category: "backup",
    tier: "read-only",
    endpoint: storageContent,
    input: {
      node: nodeField,
      storage: StorageId,
      vmid: Schema.optional(vmidField.annotations({ description: "Only this guest's backups" })),
      ...pagingFields,
    },
    // NANDI listed every volume here; this lists backups only, as the name says.
    params: (input) => ({ content: "backup", vmid: input.vmid }),
    result: (data, input) => page(newestFirst(asArray(data)), input),
  }),
  Tool.task({
    name: "pve_run_backup",
    title: "Back up guests now",
    description: "Backs up guests of one node now (vzdump): vmid list or all, to a storage (default local).",
    category: "backup",
    tier: "read-execute",
    destructive: false,
    input: {
      node: nodeField,
      vmid: Schema.optional(vmidListField("Guest ids, e.g. 100,101")),
      all: optionalBoolean("Every guest of the node, instead of vmid"),
      exclude: Schema.optional(vmidListField("With all: ids to skip")),
      storage: Schema.optional(storageField("Target storage (default local)")),
      mode: modeField,
      compress: compressField,
      "notes-template": notesField,
    },
    endpoints: [vzdump],
    // Every guest it names, or with `all` every guest of the node: protected guests block it.
    targets: (input) =>
      input.all === true
        ? [TargetRef.AllGuests({ node: input.node })]
        : [
            TargetRef.Node({ node: input.node }),
            ...parseVmidList(input.vmid).map((vmid) => TargetRef.Guest({ vmid })),
          ],
    run: ({ node, ...input }) =>
      input.all === true || input.vmid !== undefined
        ? input.all === true && input.vmid !== undefined
          ? Effect.fail(new InvalidInput({ message: "Give vmid or all: true, not both", field: "all" }))
          : startOnNode(node, vzdump, { ...input, compress: input.compress ?? "zstd" })
        : Effect.fail(
            new InvalidInput({ message: "Give vmid (one id or a list) or all: true", field: "vmid" }),
          ),
  }),
  Tool.make({
    name: "pve_create_backup_job",
    title: "Create backup job",
    description: "Schedules a backup job for a vmid list or all guests.",
    category: "backup",
    tier: "full",
    destructive: false,
    input: {
      id: Schema.optional(JobId.annotations({ description: "Job id (default: generated)" })),
      vmid: Schema.optional(vmidListField("Guest ids, e.g. 100,101")),
      all: optionalBoolean("Every guest, instead of vmid"),
      node: Schema.optional(nodeField.annotations({ description: "Only guests on this node" })),
      storage: storageField("Target storage"),
      schedule: text(
        /^[a-zA-Z0-9 :*/.,~-]{1,128}$/,
        "calendar event",
        "Calendar event: 'daily', '02:30', 'sat 03:00'",
        128,
      ),
      mode: modeField,
      enabled: optionalBoolean("Enabled (default true)"),
      "prune-backups": pruneField,
    },
    endpoints: [createJob],
    targets: (input) => [
      ...(input.node === undefined ? [TargetRef.Cluster()] : [TargetRef.Node({ node: input.node })]),
      ...parseVmidList(input.vmid).map((vmid) => TargetRef.Guest({ vmid })),
    ],
    run: (input) =>
      Effect.gen(function* () {
        if ((input.all === true) === (input.vmid !== undefined))
          return yield* new InvalidInput({ message: "Give either vmid (a list) or all: true", field: "vmid" })
        if (input.node !== undefined)
          yield* Effect.flatMap(NodeRegistry, (r) => r.requireNode(input.node ?? ""))
        yield* createJob.call({}, input)
        return { data: { created: true, ...(input.id === undefined ? {} : { id: input.id }) } }
      }),
  }),
  Tool.request({
    name: "pve_delete_backup_job",
    title: "Delete backup job",
    description: "Removes a scheduled backup job (existing backup files stay).",
    category: "backup",
    tier: "full",
    confirm: true,
    impact: "The job no longer runs: the guests it covered are not backed up on schedule any more.",
    endpoint: Endpoint.del("/cluster/backup/{id}"),
    input: { id: JobId },
    targets: () => [TargetRef.Cluster()],
  }),
]

const restoreTool = <const Name extends string>(type: GuestType, name: Name) => {
  const create = Endpoint.post(`/nodes/{node}/${type}`)
  return Tool.task({
    name,
    title: `Restore ${noun(type)} backup`,
    description: `Restores a ${noun(type)} backup (pve_list_backups) to vmid; force overwrites a stopped ${noun(type)}.`,
    category: "backup",
    tier: "full",
    confirm: true,
    impact: `A ${noun(type)} is created from the backup; with force an existing ${noun(type)} with that id is overwritten and its current disks are lost.`,
    input: {
      node: nodeField,
      vmid: vmidField.annotations({ description: "Id to restore to" }),
      archive: volumeIdField("Backup volid"),
      storage: Schema.optional(storageField("Disk storage (default: as backed up)")),
      force: optionalBoolean("Overwrite an existing guest with this id"),
      start: optionalBoolean("Start it after"),
    },
    endpoints: [create],
    // The vmid it writes to: when a guest has it, that guest (and its protection) is the target.
    targets: (input) => [TargetRef.NewGuest({ vmid: input.vmid, type, node: input.node })],
    run: ({ node, archive, ...params }) =>
      // qemu-server takes `archive`; pve-container takes the archive as `ostemplate` with restore=1.
      startOnNode(
        node,
        create,
        type === "qemu" ? { ...params, archive } : { ...params, ostemplate: archive, restore: true },
      ),
  })
}

export const restoreTools = [
  restoreTool("qemu", "pve_restore_qemu_backup"),
  restoreTool("lxc", "pve_restore_lxc_backup"),
]

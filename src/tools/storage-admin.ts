/** Storage definitions (create, read, update, delete) and storage content (list, delete, download). */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ProxmoxError } from "../domain/errors.js"
import { StorageId } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { NodeRegistry } from "../proxmox/registry.js"
import { asArray, nodeField, page, pagingFields, sortBy, vmidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import { optionalBoolean, requireSomething, startOnNode, text, volumeIdField } from "./fields.js"
import * as Tool from "./tool.js"

const CONTENT_TYPES = ["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"] as const
const contentListField = (description: string) =>
  text(
    /^(images|rootdir|vztmpl|iso|backup|snippets|import|none)(,(images|rootdir|vztmpl|iso|backup|snippets|import))*$/,
    "content list",
    description,
    100,
  )
const nodesListField = Schema.optional(
  text(
    /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(,[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/,
    "node list",
    "Only on these nodes (comma separated; default all)",
    1024,
  ),
)
const absolutePath = (description: string) =>
  text(/^\/(?!.*(^|\/)\.\.?(\/|$))[a-zA-Z0-9_./-]*$/, "absolute path", description, 255)

const storageList = Endpoint.get("/storage")
const createStorage = Endpoint.post("/storage")
const updateStorage = Endpoint.put("/storage/{storage}")
const deleteVolume = Endpoint.del("/nodes/{node}/storage/{storage}/content/{volume}")
const downloadUrl = Endpoint.post("/nodes/{node}/storage/{storage}/download-url")

export const storageAdminTools = [
  Tool.make({
    name: "pve_get_storage_config",
    title: "Get storage definition",
    description: "One storage's definition (type, content types, path or server, nodes, shared, retention).",
    category: "storage",
    tier: "read-only",
    input: { storage: StorageId },
    endpoints: [storageList],
    targets: (input) => [TargetRef.Storage({ storage: input.storage })],
    // GET /storage/{storage} needs Datastore.Allocate; the list shows the same entry to a token
    // with Datastore.Audit, so a read-only token can read it.
    run: (input) =>
      Effect.flatMap(storageList.call({}), (data) => {
        const found = asArray(data).find((entry) => entry.storage === input.storage)
        return found === undefined
          ? Effect.fail(
              new ProxmoxError({
                code: "PROXMOX_NOT_FOUND",
                message: `storage '${input.storage}' does not exist`,
                method: storageList.method,
                path: storageList.path,
                endpoint: "cluster",
              }),
            )
          : Effect.succeed({ data: found })
      }),
  }),
  Tool.request({
    name: "pve_list_storage_content",
    title: "List storage content",
    description:
      "Volumes on one storage as one node sees it (volid, content, format, size, vmid); content and vmid narrow it.",
    category: "storage",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/storage/{storage}/content"),
    input: {
      node: nodeField,
      storage: StorageId,
      content: Schema.optional(
        Schema.Literal(...CONTENT_TYPES).annotations({ description: "Only this content type" }),
      ),
      vmid: Schema.optional(vmidField.annotations({ description: "Only this guest's volumes" })),
      ...pagingFields,
    },
    result: (data, input) => page(sortBy("volid")(asArray(data)), input),
  }),
  Tool.make({
    name: "pve_create_storage",
    title: "Create storage",
    description: "Adds a storage: dir (path), nfs (server, export), lvmthin (vgname, thinpool), ...",
    category: "storage",
    tier: "full",
    destructive: false,
    input: {
      storage: StorageId.annotations({ description: "New storage id" }),
      type: Schema.Literal(
        "dir",
        "nfs",
        "cifs",
        "lvm",
        "lvmthin",
        "zfspool",
        "btrfs",
        "cephfs",
        "rbd",
        "pbs",
      ).annotations({ description: "Storage type" }),
      content: Schema.optional(contentListField("Content types, e.g. iso,backup")),
      path: Schema.optional(absolutePath("dir/btrfs: the directory")),
      server: Schema.optional(
        text(/^[a-zA-Z0-9.:[\]-]+$/, "server address", "nfs/cifs/pbs: server host or IP", 255),
      ),
      export: Schema.optional(absolutePath("nfs: the exported path")),
      vgname: Schema.optional(text(/^[a-zA-Z0-9_.+-]+$/, "volume group", "lvm/lvmthin: volume group", 128)),
      thinpool: Schema.optional(text(/^[a-zA-Z0-9_.+-]+$/, "thin pool", "lvmthin: thin pool", 128)),
      nodes: nodesListField,
    },
    endpoints: [createStorage],
    targets: (input) => [TargetRef.Storage({ storage: input.storage })],
    run: (input) =>
      Effect.map(createStorage.call({}, input), (data) => ({
        data: data ?? { storage: input.storage, type: input.type },
      })),
  }),
  Tool.make({
    name: "pve_update_storage",
    title: "Update storage",
    description:
      "Changes a storage's content types, nodes, retention, or disables/enables it (at least one).",
    category: "storage",
    tier: "full",
    confirm: true,
    impact:
      "What the storage may hold, or where it is used, changes; disabling it makes its volumes unavailable to guests.",
    input: {
      storage: StorageId,
      content: Schema.optional(contentListField("Content types, comma separated")),
      disable: optionalBoolean("true: disable, false: enable"),
      nodes: nodesListField,
      "prune-backups": Schema.optional(
        text(
          /^(keep-all=[01]|keep-(last|hourly|daily|weekly|monthly|yearly)=\d{1,5})(,(keep-all=[01]|keep-(last|hourly|daily|weekly|monthly|yearly)=\d{1,5}))*$/,
          "retention",
          "Retention, e.g. keep-daily=7",
          512,
        ),
      ),
    },
    endpoints: [updateStorage],
    targets: (input) => [TargetRef.Storage({ storage: input.storage })],
    run: ({ storage, ...changes }) =>
      Effect.gen(function* () {
        yield* requireSomething(changes, "setting")
        yield* updateStorage.call({ storage }, changes)
        return {
          data: {
            updated: true,
            storage,
            changed: Object.entries(changes)
              .filter(([, v]) => v !== undefined)
              .map(([k]) => k),
          },
        }
      }),
  }),
  Tool.request({
    name: "pve_delete_storage",
    title: "Delete storage",
    description:
      "Removes a storage definition (the data on it is not deleted, but guests can no longer use it).",
    category: "storage",
    tier: "full",
    confirm: true,
    impact: "Guests and backups on this storage become unusable through Proxmox until it is defined again.",
    endpoint: Endpoint.del("/storage/{storage}"),
    input: { storage: StorageId },
  }),
  Tool.task({
    name: "pve_delete_storage_content",
    title: "Delete a volume",
    description:
      "Deletes one volume (ISO, template, backup or unused disk) from a storage by volid; disks in use are refused by Proxmox.",
    category: "storage",
    tier: "full",
    confirm: true,
    impact: "The file or disk image is deleted for good.",
    input: {
      node: nodeField,
      storage: StorageId,
      volume: volumeIdField("Volume id, e.g. local:iso/old.iso (from pve_list_storage_content)"),
    },
    endpoints: [deleteVolume],
    targets: (input) => [TargetRef.Storage({ storage: input.storage, node: input.node })],
    run: (input) =>
      Effect.gen(function* () {
        const registry = yield* NodeRegistry
        const node = yield* registry.requireNode(input.node)
        const answer = yield* deleteVolume.call({ node, storage: input.storage, volume: input.volume })
        // Most storage types delete in a task (UPID); some answer at once (null).
        if (answer === null || answer === undefined) {
          const done: Tool.ToolOutput<{
            readonly deleted: string
            readonly node: string
            readonly upid?: string
          }> = {
            data: { deleted: input.volume, node },
            node,
          }
          return done
        }
        const upid = yield* Tool.startedUpid(answer, deleteVolume, node)
        return { data: { deleted: input.volume, node, upid }, node, upid }
      }),
  }),
  Tool.task({
    name: "pve_download_url_to_storage",
    title: "Download to storage",
    description: "Downloads an ISO, container template or import image from a URL onto a node's storage.",
    category: "storage",
    tier: "full",
    destructive: false,
    input: {
      node: nodeField,
      storage: StorageId,
      url: text(/^https?:\/\/[^\s]+$/, "http(s) URL", "Source URL", 2048),
      content: Schema.Literal("iso", "vztmpl", "import").annotations({
        description: "iso, vztmpl or import",
      }),
      filename: text(/^[a-zA-Z0-9_][a-zA-Z0-9_.+-]*$/, "file name", "File name on the storage", 255),
      checksum: Schema.optional(text(/^[0-9a-fA-F]{32,128}$/, "hex checksum", "Expected checksum", 128)),
      "checksum-algorithm": Schema.optional(
        Schema.Literal("md5", "sha1", "sha224", "sha256", "sha384", "sha512").annotations({
          description: "Algorithm of checksum",
        }),
      ),
    },
    endpoints: [downloadUrl],
    targets: (input) => [TargetRef.Storage({ storage: input.storage, node: input.node })],
    run: ({ node, storage, ...params }) => startOnNode(node, downloadUrl, params, { storage }),
  }),
]

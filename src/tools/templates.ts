/** Templates: VM templates, ISO images and container templates on storage, cloud-init. */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { StorageId } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { NodeRegistry } from "../proxmox/registry.js"
import { asArray, nodeField, optionalGuestNode, page, pagingFields, sortBy, vmidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import { requireSomething, text } from "./fields.js"
import * as Tool from "./tool.js"

const storageContent = Endpoint.get("/nodes/{node}/storage/{storage}/content")
const qemuConfig = Endpoint.put("/nodes/{node}/qemu/{vmid}/config")

/** A content list of one kind: NANDI sent no filter; these send `content` as their names say. */
const contentListTool = <const Name extends string>(
  name: Name,
  content: "iso" | "vztmpl",
  title: string,
  description: string,
) =>
  Tool.request({
    name,
    title,
    description,
    category: "templates",
    tier: "read-only",
    endpoint: storageContent,
    input: { node: nodeField, storage: StorageId, ...pagingFields },
    params: () => ({ content }),
    result: (data, input) => page(sortBy("volid")(asArray(data)), input),
  })

const ipconfigPattern =
  /^(ip=(dhcp|(\d{1,3}\.){3}\d{1,3}\/\d{1,2})(,gw=(\d{1,3}\.){3}\d{1,3})?|ip6=(auto|dhcp|[0-9a-fA-F:]+\/\d{1,3})(,gw6=[0-9a-fA-F:]+)?)(,(ip|ip6|gw|gw6)=[^,\s]+)*$/

/**
 * PVE's `sshkeys` is `urlencoded`: the keys are sent percent-encoded (spaces as %20, newlines as
 * %0A), which NANDI did not do. encodeURIComponent leaves a few characters PVE's decoder also
 * accepts raw.
 */
export const encodeSshKeys = (keys: string) => encodeURIComponent(keys.replace(/\r\n/g, "\n").trim())

export const templateTools = [
  Tool.request({
    name: "pve_get_qemu_cloudinit_dump",
    title: "Get VM cloud-init data",
    description:
      "The cloud-init data PVE generates for a VM: user (default), network or meta; secrets redacted.",
    category: "templates",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/qemu/{vmid}/cloudinit/dump"),
    input: {
      node: optionalGuestNode,
      vmid: vmidField,
      type: Schema.optional(
        Schema.Literal("user", "network", "meta").annotations({
          description: "user (default), network or meta",
        }),
      ),
    },
    params: (input) => ({ type: input.type ?? "user" }),
  }),
  Tool.request({
    name: "pve_list_qemu_templates",
    title: "List VM templates",
    description: "One node's VM templates (template: 1), to clone with pve_qemu_clone.",
    category: "templates",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/qemu"),
    input: { node: nodeField, ...pagingFields },
    // NANDI listed every VM; only templates are listed here.
    result: (data, input) =>
      page(sortBy("vmid")(asArray(data).filter((vm) => Number(vm.template ?? 0) === 1)), input),
  }),
  contentListTool(
    "pve_list_iso_images",
    "iso",
    "List ISO images",
    "ISO images on one storage (volid, size, ctime), for a VM's CD-ROM (pve_qemu_create iso).",
  ),
  contentListTool(
    "pve_list_storage_templates",
    "vztmpl",
    "List container templates",
    "Container templates on one storage (volid, size), the ostemplate of pve_lxc_create.",
  ),
  Tool.make({
    name: "pve_set_qemu_cloudinit",
    title: "Set VM cloud-init",
    description:
      "Sets a VM's cloud-init user, password, SSH keys, network or DNS (at least one); applies at next boot.",
    category: "templates",
    tier: "full",
    confirm: true,
    impact:
      "The VM's login and network settings change at its next boot; a wrong value can lock you out of it.",
    input: {
      node: optionalGuestNode,
      vmid: vmidField,
      ciuser: Schema.optional(text(/^[a-z_][a-z0-9_.-]{0,31}$/, "user name", "Default user to create", 32)),
      cipassword: Schema.optional(
        Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)).annotations({
          description: "That user's password",
        }),
      ),
      sshkeys: Schema.optional(
        Schema.String.pipe(
          Schema.maxLength(16_384),
          Schema.pattern(/^(ssh|ecdsa|sk-)[^\r]*$/, {
            message: () => "not OpenSSH public keys (one per line)",
          }),
        ).annotations({
          description: "SSH public keys, one per line",
        }),
      ),
      ipconfig0: Schema.optional(text(ipconfigPattern, "ipconfig", "ip=dhcp or ip=CIDR,gw=IP", 512)),
      nameserver: Schema.optional(
        text(/^[0-9a-fA-F.:]+( [0-9a-fA-F.:]+)*$/, "address list", "DNS servers, space separated", 255),
      ),
      searchdomain: Schema.optional(
        text(/^[a-zA-Z0-9.-]+( [a-zA-Z0-9.-]+)*$/, "domain list", "DNS search domains, space separated", 255),
      ),
    },
    endpoints: [qemuConfig],
    targets: (input) => [TargetRef.Guest({ vmid: input.vmid, type: "qemu", node: input.node })],
    run: ({ node: given, vmid, sshkeys, ...settings }) =>
      Effect.gen(function* () {
        const params = { ...settings, sshkeys: sshkeys === undefined ? undefined : encodeSshKeys(sshkeys) }
        yield* requireSomething(params, "cloud-init setting")
        const registry = yield* NodeRegistry
        return yield* registry.onGuestNode({ node: given, vmid }, "qemu", (node) =>
          Effect.map(qemuConfig.call({ node, vmid }, params), () => ({
            data: {
              updated: true,
              node,
              vmid,
              changed: Object.entries(params)
                .filter(([, value]) => value !== undefined)
                .map(([key]) => key),
            },
            node,
          })),
        )
      }),
  }),
]

/**
 * Where a tool deliberately differs from NANDI's tool of the same name: NANDI sent a request that
 * does not do what the name says, or that PVE rejects. `npm run docs` renders this list into
 * docs/tools.md; the catalog test compares every other NANDI row (tier, module, confirm,
 * destructive) with the declarations.
 */
export interface NandiDifference {
  readonly tool: string
  /** Metadata that differs from NANDI's row on purpose (the comparison test skips these). */
  readonly metadata?: ReadonlyArray<"category" | "tier" | "module" | "confirm" | "destructive">
  readonly why: string
}

export const nandiDifferences: ReadonlyArray<NandiDifference> = [
  {
    tool: "pve_list_backups",
    why: "NANDI listed every volume of the storage; this sends `content=backup`, so only backup archives are listed (newest first), and takes `vmid` to narrow to one guest.",
  },
  {
    tool: "pve_list_iso_images",
    why: "NANDI listed every volume of the storage; this sends `content=iso`.",
  },
  {
    tool: "pve_list_storage_templates",
    why: "NANDI listed every volume of the storage; this sends `content=vztmpl` (container templates).",
  },
  {
    tool: "pve_list_qemu_templates",
    why: "NANDI listed every VM of the node; this keeps only templates (`template: 1`).",
  },
  {
    tool: "pve_create_qemu_template",
    metadata: ["category"],
    why: "NANDI declared the template conversion twice (`pve_qemu_create_template`, category qemu, and this, category templates). This name is an alias of `pve_qemu_create_template` (SPEC 12), so it shares that tool's category `qemu` and its policy.",
  },
  {
    tool: "pve_restore_lxc_backup",
    why: "NANDI sent `archive` to `POST /nodes/{node}/lxc`, a parameter pve-container does not have (PVE answers 400). The archive is sent as `ostemplate` with `restore=1`, as PVE expects; the input is still called `archive`.",
  },
  {
    tool: "pve_exec_qemu_guest_command",
    why: "NANDI sent the whole command line as one `command` value, so the agent looked for a program named like the whole line. PVE's `command` is an array: the line is split like a shell splits words (quotes group, no expansion, no shell) and each word is sent as its own `command` value. The result names the pid; `pve_get_qemu_agent_exec_status` (new) reads the exit code and output.",
  },
  {
    tool: "pve_set_qemu_cloudinit",
    why: "PVE's `sshkeys` is URL-encoded (format `urlencoded`); NANDI sent the keys raw, which PVE rejects or mangles. The keys are sent percent-encoded.",
  },
  {
    tool: "pve_qemu_create",
    why: "NANDI sent only vmid, name, memory and cores: a VM without disk, network or OS type. This also sends a disk (`scsi0` = storage:size, default local-lvm:32), a virtio NIC on a bridge (default vmbr0), `ostype` (default l26), `scsihw`, the guest agent, and optionally an installer ISO (`ide2`) with a matching boot order. Memory is sent as PVE 8.1+'s property string.",
  },
  {
    tool: "pve_lxc_create",
    why: "NANDI sent no root disk, network or credentials. This sends `rootfs` (storage:size, default local-lvm:8), `net0` (eth0 on vmbr0, DHCP or a static CIDR with gateway), `unprivileged=1`, swap, and a root `password` and/or `ssh-public-keys` so the container can be logged into.",
  },
  {
    tool: "pve_run_backup",
    why: "`vmid` takes a list (`100,101`) or `all: true` backs up every guest of the node; compression defaults to zstd. The policy checks every guest it names, and with `all` every guest of the node, so one protected guest blocks the run.",
  },
  {
    tool: "pve_create_backup_job",
    why: "Takes `all: true` as an alternative to a vmid list; a protected guest in the list blocks the job, as for `pve_run_backup`.",
  },
  {
    tool: "pve_list_tasks",
    why: "Takes PVE's real filters (`typefilter`, `vmid`, `userfilter`, `statusfilter`, `errors`, `since`, `until`, `source`, `start`); NANDI sent only `limit`.",
  },
  {
    tool: "pve_qemu_resize_disk",
    why: "PVE 8+ answers a resize with a task UPID: the tool is declared as task-starting, so `wait`, progress and cancellation apply.",
  },
  {
    tool: "pve_lxc_resize_disk",
    why: "New (NANDI had no container resize): `PUT /nodes/{node}/lxc/{vmid}/resize`, a task.",
  },
  {
    tool: "pve_get_storage_config",
    why: "NANDI read `GET /storage/{storage}`, which PVE allows only with Datastore.Allocate; this reads the same entry from `GET /storage`, which a read-only (Datastore.Audit) token may list, and answers PROXMOX_NOT_FOUND for an unknown id.",
  },
  {
    tool: "pve_qemu_clone",
    why: "Also checked on `newid` (the id it creates; an existing guest there is judged as itself) and on the target node.",
  },
  {
    tool: "pve_restore_qemu_backup",
    why: "Checked on the vmid it writes to: restoring over a protected guest (by id or tag) is refused.",
  },
]

/** The list as a markdown section of docs/tools.md. */
export const renderDifferences = (): string =>
  [
    "## Where this differs from NANDI",
    "",
    "Same names, inputs and flags as NANDI proxmox-mcp, except where NANDI's request did not do what",
    "its name says or was one PVE does not accept:",
    "",
    ...nandiDifferences.map((d) => `- \`${d.tool}\`: ${d.why}`),
  ].join("\n")

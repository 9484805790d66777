/**
 * Sutian's dotted operation names and the tools each one stands for. Every name in Sutian's
 * documents is known here; a few stand for nothing this server offers (they deny nothing) but are
 * accepted so an existing Sutian configuration starts unchanged. SPEC section 12: `vm.*` is QEMU,
 * `backup.list` is backup jobs, `backup.status` is backup files on a storage.
 */
export const SUTIAN_OPERATIONS: Readonly<Record<string, ReadonlyArray<string>>> = {
  "vm.list": ["pve_list_qemu_vms", "listVMs"],
  "vm.status": ["pve_get_qemu_status"],
  "vm.config": ["pve_get_qemu_config"],
  "vm.snapshot": ["pve_list_qemu_snapshots"],
  "vm.start": ["pve_start_qemu_vm"],
  "vm.stop": ["pve_stop_qemu_vm"],
  "vm.shutdown": ["pve_shutdown_qemu_vm"],
  "vm.reboot": ["pve_reboot_qemu_vm"],
  "vm.reset": ["pve_reset_qemu_vm"],
  "vm.suspend": ["pve_suspend_qemu_vm"],
  "vm.resume": ["pve_resume_qemu_vm"],
  "vm.create": ["pve_qemu_create"],
  "vm.clone": ["pve_qemu_clone"],
  "vm.modify": ["pve_qemu_update_config", "pve_qemu_resize_disk", "pve_set_qemu_cloudinit"],
  "vm.migrate": ["pve_qemu_migrate"],
  "vm.delete": ["pve_qemu_delete"],
  "vm.destroy": ["pve_qemu_delete"],
  "node.list": ["pve_list_nodes"],
  "node.status": ["pve_get_node_status"],
  "node.stop": [],
  "node.reboot": [],
  "node.shutdown": [],
  "storage.list": ["pve_list_storage", "pve_list_node_storage"],
  "storage.status": ["pve_get_storage_status"],
  "storage.create": ["pve_create_storage"],
  "storage.modify": ["pve_update_storage"],
  "storage.delete": ["pve_delete_storage"],
  "backup.list": ["pve_list_backup_jobs"],
  "backup.status": ["pve_list_backups"],
  "cluster.resources": ["pve_list_cluster_resources"],
  "cluster.members": [],
  "cluster.status": ["pve_get_cluster_status"],
  "cluster.config": ["pve_get_cluster_options"],
  "user.list": ["pve_list_users"],
  "user.create": ["pve_create_user"],
  "user.modify": ["pve_update_user"],
  "user.delete": ["pve_delete_user"],
  "pool.list": ["pve_list_pools"],
  "pool.create": ["pve_create_pool"],
  "pool.modify": ["pve_update_pool"],
  "pool.delete": ["pve_delete_pool"],
  "vzdump.backup": ["pve_run_backup"],
  "vzdump.restore": ["pve_restore_qemu_backup", "pve_restore_lxc_backup"],
}

/** Sutian's operations that only an admin may run, whatever the role's other rights. */
export const ADMIN_ONLY_OPERATIONS: ReadonlyArray<string> = ["vm.create", "vm.clone", "vm.modify", "vm.reset"]

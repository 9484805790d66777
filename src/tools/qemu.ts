import {
  guestActionTool,
  guestConfigTool,
  guestListTool,
  guestStatusTool,
  legacyGuestListTool,
} from "./guests.js"

export const qemuTools = [
  guestListTool("qemu", "pve_list_qemu_vms"),
  guestStatusTool("qemu", "pve_get_qemu_status"),
  guestConfigTool("qemu", "pve_get_qemu_config"),
  legacyGuestListTool("qemu", "listVMs"),
  guestActionTool("qemu", "start", "pve_start_qemu_vm"),
  guestActionTool("qemu", "stop", "pve_stop_qemu_vm"),
  guestActionTool("qemu", "shutdown", "pve_shutdown_qemu_vm"),
  guestActionTool("qemu", "reboot", "pve_reboot_qemu_vm"),
  guestActionTool("qemu", "reset", "pve_reset_qemu_vm"),
  guestActionTool("qemu", "suspend", "pve_suspend_qemu_vm"),
  guestActionTool("qemu", "resume", "pve_resume_qemu_vm"),
]

import {
  guestActionTool,
  guestConfigTool,
  guestListTool,
  guestStatusTool,
  legacyGuestListTool,
} from "./guests.js"

export const lxcTools = [
  guestListTool("lxc", "pve_list_lxc_containers"),
  guestStatusTool("lxc", "pve_get_lxc_status"),
  guestConfigTool("lxc", "pve_get_lxc_config"),
  legacyGuestListTool("lxc", "listContainers"),
  guestActionTool("lxc", "start", "pve_start_lxc_container"),
  guestActionTool("lxc", "stop", "pve_stop_lxc_container"),
  guestActionTool("lxc", "shutdown", "pve_shutdown_lxc_container"),
  guestActionTool("lxc", "reboot", "pve_reboot_lxc_container"),
  guestActionTool("lxc", "suspend", "pve_suspend_lxc_container"),
  guestActionTool("lxc", "resume", "pve_resume_lxc_container"),
]

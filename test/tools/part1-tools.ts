/** The tools of catalog part 1 (issue 10) that live outside the foundation's modules. */
import { agentTools } from "../../src/tools/agent.js"
import { backupTools, restoreTools } from "../../src/tools/backup.js"
import { lxcAdminTools, qemuAdminTools } from "../../src/tools/guest-admin.js"
import { haTools, nodeExtraTools } from "../../src/tools/ha.js"
import { snapshotTools } from "../../src/tools/snapshots.js"
import { storageAdminTools } from "../../src/tools/storage-admin.js"
import { templateTools } from "../../src/tools/templates.js"

export const part1Tools = [
  ...qemuAdminTools,
  ...lxcAdminTools,
  ...snapshotTools,
  ...backupTools,
  ...restoreTools,
  ...templateTools,
  ...storageAdminTools,
  ...agentTools,
  ...haTools,
  ...nodeExtraTools,
]

export const part1Names: ReadonlySet<string> = new Set(part1Tools.map((tool) => tool.name))

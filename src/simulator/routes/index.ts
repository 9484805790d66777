// Every endpoint the simulator implements. A PVE endpoint missing here answers
// 501 "Method '...' not implemented (simulator)"; add a route to the area module to implement it.
import { routeTable } from "../router.js"
import { accessRoutes } from "./access.js"
import { backupRoutes } from "./backup.js"
import { clusterRoutes } from "./cluster.js"
import { clusterAdminRoutes } from "./cluster-admin.js"
import { firewallRoutes } from "./firewall.js"
import { guestAdminRoutes } from "./guest-admin.js"
import { guestExtraRoutes } from "./guest-extras.js"
import { lxcRoutes } from "./lxc.js"
import { monitoringRoutes } from "./monitoring.js"
import { networkRoutes } from "./network.js"
import { nodeRoutes } from "./nodes.js"
import { poolRoutes } from "./pools.js"
import { qemuRoutes } from "./qemu.js"
import { storageRoutes } from "./storage.js"
import { taskRoutes } from "./tasks.js"

export const routes = routeTable([
  ...clusterRoutes,
  ...nodeRoutes,
  ...qemuRoutes,
  ...lxcRoutes,
  ...taskRoutes,
  ...storageRoutes,
  ...accessRoutes,
  ...monitoringRoutes,
  ...networkRoutes,
  ...firewallRoutes,
  ...poolRoutes,
  ...clusterAdminRoutes,
  ...guestAdminRoutes,
  ...backupRoutes,
  ...guestExtraRoutes,
])

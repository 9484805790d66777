/** The tools of the catalog's second part, tested one by one in admin-tools.test.ts. */
import { accessTools } from "../../src/tools/access.js"
import { clusterAdminTools } from "../../src/tools/cluster-admin.js"
import { firewallTools } from "../../src/tools/firewall.js"
import { metricsTools } from "../../src/tools/metrics.js"
import { networkTools } from "../../src/tools/network.js"
import { poolTools } from "../../src/tools/pools.js"

export const partTwoTools = [
  ...metricsTools,
  ...networkTools,
  ...firewallTools,
  ...accessTools,
  ...poolTools,
  ...clusterAdminTools,
]

import { PVE_VERSION } from "../cluster.js"
import { nodePermission, type Route, reply, str } from "../router.js"

const KERNEL_RELEASE = "6.17.2-1-pve"
const KERNEL_VERSION = "#1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1 (2025-10-21T11:55Z)"
const GiB = 1024 ** 3

export const nodeRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/nodes",
    handle: ({ cluster }) =>
      reply(
        cluster.nodes.map((node) => {
          const common = {
            id: `node/${node}`,
            type: "node",
            node,
            level: "",
            ssl_fingerprint: cluster.sslFingerprint,
          }
          // An offline node has no current metrics, so PVE lists it without them.
          return cluster.isOnline(node)
            ? { ...common, status: "online", ...cluster.nodeMetrics(node) }
            : { ...common, status: "offline" }
        }),
      ),
  },
  {
    method: "GET",
    path: "/nodes/{node}/status",
    permission: nodePermission("Sys.Audit"),
    handle: ({ cluster, params }) => {
      const node = str(params, "node")
      const { hardware } = cluster.requireNode(node)
      const metrics = cluster.nodeMetrics(node)
      const load = (factor: number) => (metrics.cpu * hardware.cpus * factor).toFixed(2)
      return reply({
        uptime: metrics.uptime,
        idle: 0,
        wait: 0.0008,
        cpu: metrics.cpu,
        loadavg: [load(1), load(0.93), load(0.88)],
        cpuinfo: {
          model: hardware.cpuModel,
          sockets: hardware.sockets,
          cores: hardware.cpus / 2,
          cpus: hardware.cpus,
          mhz: "2800.000",
          hvm: "1",
          user_hz: 100,
          flags:
            "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm constant_tsc pni vmx sse4_1 sse4_2 x2apic aes xsave avx avx2",
        },
        memory: {
          total: metrics.maxmem,
          used: metrics.mem,
          free: metrics.maxmem - metrics.mem,
          available: metrics.maxmem - metrics.mem,
        },
        swap: { total: 8 * GiB, used: 0, free: 8 * GiB },
        ksm: { shared: 0 },
        rootfs: {
          total: metrics.maxdisk,
          used: metrics.disk,
          free: metrics.maxdisk - metrics.disk,
          avail: metrics.maxdisk - metrics.disk,
        },
        kversion: `Linux ${KERNEL_RELEASE} ${KERNEL_VERSION}`,
        "current-kernel": {
          sysname: "Linux",
          release: KERNEL_RELEASE,
          version: KERNEL_VERSION,
          machine: "x86_64",
        },
        "boot-info": { mode: "efi", secureboot: 0 },
        pveversion: `pve-manager/${PVE_VERSION.version}/${PVE_VERSION.repoid}`,
      })
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/version",
    handle: () => reply({ ...PVE_VERSION }),
  },
]

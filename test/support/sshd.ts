/**
 * A real OpenSSH server on loopback for the SSH tests: its own config, host key, authorized_keys
 * and PATH in a temporary directory (no system sshd service). The PATH starts with stand-ins
 * for the Proxmox commands (`pct`, `docker`, `pveversion`, `pvecm`, `systemctl`, `journalctl`,
 * `zpool`, `hostname`), each of which records the exact argv it received, so a test proves what
 * arrived on the host. `pct exec <ctid> -- argv...` runs argv for the container ids the server
 * was given and fails like pct for any other.
 *
 * `sshd` missing: outside CI the SSH tests skip saying so; with CI=true it is a failure.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const CANDIDATES = ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd", "/usr/bin/sshd"]

/** The sshd binary, or undefined when it is not installed. */
export const findSshd = (): string | undefined => CANDIDATES.find((candidate) => fs.existsSync(candidate))

const SSHD = findSshd()
if (SSHD === undefined && process.env.CI === "true")
  throw new Error(
    "sshd is not installed, and CI=true: the SSH tests must run in CI (.ci/run installs openssh-server)",
  )
if (SSHD === undefined)
  process.stderr.write("SSH tests skipped: sshd is not installed (apt-get install openssh-server)\n")

export const sshdAvailable = SSHD !== undefined

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const keygen = (file: string, type = "ed25519") =>
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "test", "-f", file], { stdio: "ignore" })

/** A user key pair shared by the servers of one test file. */
export const makeUserKey = (dir: string) => {
  const file = path.join(dir, "id_ed25519")
  keygen(file)
  return { path: file, publicKey: fs.readFileSync(`${file}.pub`, "utf8") }
}

/** A public key blob from an OpenSSH `.pub` line. */
export const keyBlob = (pubLine: string) => Buffer.from(pubLine.trim().split(/\s+/)[1] ?? "", "base64")

export interface SshdOptions {
  /** The node name `hostname` prints. */
  readonly node: string
  /** Container ids `pct exec` knows. */
  readonly containers: ReadonlyArray<number>
  readonly authorizedKey: string
}

export interface Sshd {
  readonly port: number
  readonly dir: string
  /** The host's public key line (`ssh-ed25519 AAAA...`). */
  readonly hostKey: string
  /** A known_hosts line for 127.0.0.1 on this port. */
  readonly knownHostsLine: string
  /** Every recorded invocation, oldest first: [command, ...argv]. */
  readonly calls: () => ReadonlyArray<ReadonlyArray<string>>
  readonly clearCalls: () => void
  /** sshd's own log so far (connections accepted, ...). */
  readonly log: () => string
  readonly stop: () => Promise<void>
}

const script = (dir: string, name: string, body: string) => {
  const file = path.join(dir, "bin", name)
  fs.writeFileSync(file, `#!/bin/sh\n. "${dir}/record.sh"\nrecord ${name} "$@"\n${body}\n`, { mode: 0o755 })
}

const writeStandIns = (dir: string, options: SshdOptions) => {
  fs.mkdirSync(path.join(dir, "bin"))
  fs.mkdirSync(path.join(dir, "calls"))
  fs.mkdirSync(path.join(dir, "home"))
  // One file per invocation, NUL-separated arguments: newlines and quotes survive as they are.
  fs.writeFileSync(
    path.join(dir, "record.sh"),
    `record() { f="${dir}/calls/$(date +%s%N)-$$"; printf '%s\\0' "$@" > "$f.tmp"; mv "$f.tmp" "$f"; }\n`,
  )
  script(
    dir,
    "pct",
    `[ "$1" = exec ] || { echo "pct stand-in: only exec is emulated" >&2; exit 255; }
ctid=$2
case " ${options.containers.join(" ")} " in
  *" $ctid "*) ;;
  *) echo "Configuration file 'nodes/${options.node}/lxc/$ctid.conf' does not exist" >&2; exit 2 ;;
esac
[ "$3" = "--" ] || { echo "pct stand-in: expected -- after the ctid" >&2; exit 255; }
shift 3
# A container's login shell would read its profile; the stand-in runs on this host, so not ours.
if [ "$1" = bash ] && [ "$2" = -lc ]; then exec bash --noprofile --norc -c "$3"; fi
exec "$@"`,
  )
  script(
    dir,
    "docker",
    `case "$1" in
  ps) if [ "$2" = --format ]; then echo "web Up 2 hours"; echo "db Up 3 days"; else
      echo "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS   NAMES"
      echo "0123456789ab   nginx     \\"nginx\\"   2 hours   Up 2 hours        web"; fi ;;
  logs) n=$3; name=$4; i=1; while [ "$i" -le "$n" ]; do echo "$name log line $i"; i=$((i+1)); done ;;
  *) echo "docker stand-in: unknown command $1" >&2; exit 125 ;;
esac`,
  )
  script(dir, "hostname", `echo ${options.node}`)
  script(
    dir,
    "pveversion",
    `cat <<'EOT'
proxmox-ve: 8.2.0 (running kernel: 6.8.4-2-pve)
pve-manager: 8.2.2 (running version: 8.2.2/9355359cd7afbae4)
proxmox-kernel-helper: 8.1.0
ceph-fuse: 17.2.7-pve3
corosync: 3.1.7-pve3
libpve-common-perl: 8.2.1
qemu-server: 8.2.1
EOT`,
  )
  script(
    dir,
    "pvecm",
    `cat <<'EOT'
Cluster information
-------------------
Name:             lab
Config Version:   3
Transport:        knet
Secure auth:      on

Quorum information
------------------
Date:             Fri Nov 27 02:00:00 2026
Quorum provider:  corosync_votequorum
Nodes:            3
Node ID:          0x00000001
Ring ID:          1.2c
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2
Flags:            Quorate

Membership information
----------------------
    Nodeid      Votes Name
0x00000001          1 192.168.100.11 (local)
0x00000002          1 192.168.100.12
0x00000003          1 192.168.100.13
EOT`,
  )
  script(
    dir,
    "systemctl",
    `[ "$1" = show ] || exit 1
shift 2
for unit in "$@"; do
  state=active; sub=running
  [ "$unit" = pve-ha-crm.service ] && { state=inactive; sub=dead; }
  printf 'Id=%s\\nLoadState=loaded\\nActiveState=%s\\nSubState=%s\\nUnitFileState=enabled\\n\\n' "$unit" "$state" "$sub"
done`,
  )
  script(
    dir,
    "journalctl",
    `if [ "$2" = spiceproxy.service ]; then echo "Failed to add match 'spiceproxy.service': stand-in failure" >&2; exit 1; fi
n=$4; i=1; while [ "$i" -le "$n" ]; do echo "2026-11-27T02:00:0$((i % 10))+0000 ${options.node} $2[123]: line $i"; i=$((i+1)); done`,
  )
  script(
    dir,
    "zpool",
    `cat <<'EOT'
  pool: rpool
 state: ONLINE
  scan: scrub repaired 0B in 00:01:02 with 0 errors on Sun Nov  8 00:25:03 2026
config:

	NAME        STATE     READ WRITE CKSUM
	rpool       ONLINE       0     0     0
	  mirror-0  ONLINE       0     0     0
	    sda3    ONLINE       0     0     0
	    sdb3    ONLINE       0     0     0

errors: No known data errors
EOT`,
  )
}

/** Starts sshd on a free loopback port; resolves once it accepts connections. */
export const startSshd = async (options: SshdOptions): Promise<Sshd> => {
  if (SSHD === undefined) throw new Error("sshd is not installed")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "proxmox-mcp-sshd-"))
  fs.chmodSync(dir, 0o755)
  keygen(path.join(dir, "host_ed25519"))
  const hostKey = fs.readFileSync(path.join(dir, "host_ed25519.pub"), "utf8").trim()
  fs.writeFileSync(path.join(dir, "authorized_keys"), options.authorizedKey, { mode: 0o600 })
  writeStandIns(dir, options)
  // Root's sessions run in sshd's privileged monitor, which needs this directory.
  if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 })
  const port = await freePort()
  const user = os.userInfo().username
  fs.writeFileSync(
    path.join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${dir}/host_ed25519`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      `AllowUsers ${user}`,
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "UsePAM no",
      "AllowTcpForwarding yes",
      "LogLevel VERBOSE",
      // HOME points the login shell at an empty home (no rc files), PATH at the stand-ins.
      `SetEnv HOME=${dir}/home PATH=${dir}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      "",
    ].join("\n"),
  )
  const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", path.join(dir, "sshd_config")], {
    stdio: ["ignore", "ignore", "pipe"],
  })
  let log = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString()
  })
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (log.includes("Server listening")) return resolve()
      if (child.exitCode !== null) return reject(new Error(`sshd exited: ${log}`))
      setTimeout(check, 20)
    }
    check()
  })
  const callsDir = path.join(dir, "calls")
  return {
    port,
    dir,
    hostKey,
    knownHostsLine: `[127.0.0.1]:${port} ${hostKey}\n`,
    calls: () =>
      fs
        .readdirSync(callsDir)
        .filter((name) => !name.endsWith(".tmp"))
        .sort()
        .map((name) => {
          const text = fs.readFileSync(path.join(callsDir, name), "utf8")
          return text.slice(0, -1).split("\0")
        }),
    log: () => log,
    clearCalls: () => {
      for (const name of fs.readdirSync(callsDir)) fs.rmSync(path.join(callsDir, name))
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
        child.kill("SIGTERM")
        await exited
      }
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The QEMU guest agent: running a command inside the VM. (Its reads are in metrics.ts.) */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { InvalidInput } from "../domain/errors.js"
import { IntegerInput } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { NodeRegistry } from "../proxmox/registry.js"
import { optionalGuestNode, vmidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

const guestInput = { node: optionalGuestNode, vmid: vmidField }

/**
 * Splits a command line into argv the way a POSIX shell would for plain words and quotes (no
 * expansion, no operators): PVE's agent exec takes the program and each argument as separate
 * `command` values, and runs no shell. NANDI sent the whole line as one value, which the agent
 * then looked up as one program name.
 */
export const splitCommand = (line: string): ReadonlyArray<string> | undefined => {
  const args: Array<string> = []
  let current = ""
  let inWord = false
  let quote: "'" | '"' | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote === "'") {
      if (c === "'") quote = undefined
      else current += c
    } else if (quote === '"') {
      if (c === '"') quote = undefined
      else if (c === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) current += line[++i]
      else current += c
    } else if (c === "'" || c === '"') {
      quote = c
      inWord = true
    } else if (c === "\\" && i + 1 < line.length) {
      current += line[++i]
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) args.push(current)
      current = ""
      inWord = false
    } else {
      current += c
      inWord = true
    }
  }
  if (quote !== undefined) return undefined
  if (inWord) args.push(current)
  return args
}

const exec = Endpoint.post("/nodes/{node}/qemu/{vmid}/agent/exec")
const execStatus = Endpoint.get("/nodes/{node}/qemu/{vmid}/agent/exec-status")

export const agentTools = [
  Tool.make({
    name: "pve_exec_qemu_guest_command",
    title: "Run a command in a VM (agent)",
    description:
      "Starts a command inside a VM through the guest agent (no shell: 'sh -c \"...\"' for pipes) and returns its pid; read its exit code and output with pve_get_qemu_agent_exec_status.",
    category: "qemu",
    tier: "full",
    confirm: true,
    impact:
      "The command runs inside the VM with the guest agent's privileges (usually root) and can change anything in it.",
    input: {
      ...guestInput,
      command: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(8192)).annotations({
        description:
          'Program and arguments, split like a shell (quotes group words), e.g. "cat /etc/os-release"',
      }),
      "input-data": Schema.optional(
        Schema.String.pipe(Schema.maxLength(65_536)).annotations({
          description: "Data for the command's stdin",
        }),
      ),
    },
    endpoints: [exec],
    targets: (input) => [TargetRef.Guest({ vmid: input.vmid, type: "qemu", node: input.node })],
    run: (input) =>
      Effect.gen(function* () {
        const argv = splitCommand(input.command)
        if (argv === undefined || argv.length === 0)
          return yield* new InvalidInput({
            message: "command: unbalanced quotes or no program",
            field: "command",
          })
        const registry = yield* NodeRegistry
        return yield* registry.onGuestNode(input, "qemu", (node) =>
          Effect.map(
            exec.call({ node, vmid: input.vmid }, { command: argv, "input-data": input["input-data"] }),
            (data) => ({
              data: {
                ...(typeof data === "object" && data !== null ? data : { pid: data }),
                node,
                vmid: input.vmid,
                argv,
              },
              node,
            }),
          ),
        )
      }),
  }),
  Tool.request({
    name: "pve_get_qemu_agent_exec_status",
    title: "Get agent command status",
    description:
      "The state of a command started with pve_exec_qemu_guest_command: exited, exitcode, out-data, err-data.",
    category: "qemu",
    // Reading a command's output needs what running it needs (VM.GuestAgent.Unrestricted).
    tier: "full",
    destructive: false,
    idempotent: true,
    endpoint: execStatus,
    input: {
      ...guestInput,
      pid: IntegerInput({ minimum: 0, maximum: 4_294_967_295, description: "The pid the exec answered" }),
    },
  }),
]

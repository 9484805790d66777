#!/usr/bin/env node
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import { cli } from "../cli/main.js"

NodeRuntime.runMain(cli(process.argv.slice(2)), {
  disableErrorReporting: true,
  // Logs are JSON lines on stderr (the layers install that logger); stdout is the protocol.
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) return onExit(typeof exit.value === "number" ? exit.value : 0)
    if (Cause.isInterruptedOnly(exit.cause)) return onExit(0)
    process.stderr.write(`proxmox-mcp: ${Cause.pretty(exit.cause)}\n`)
    onExit(1)
  },
})

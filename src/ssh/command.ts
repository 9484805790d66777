/**
 * Remote commands are argv arrays, never shell strings built from input. SSH carries one string,
 * which the remote user's shell parses, so every argument goes through the one quoting function
 * below: inside single quotes a POSIX shell interprets nothing, and a single quote itself is
 * written as `'\''`. The result is one word per argument whatever it contains (`;`, `$(...)`,
 * backticks, quotes, newlines, a leading `-`).
 */

/** Arguments that need no quoting: shown as they are, for readable audit records. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/

/** One argument as one POSIX shell word. */
export const quote = (arg: string): string =>
  arg !== "" && PLAIN.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`

/** The command line for an argv: each argument quoted, joined by spaces. */
export const commandLine = (argv: ReadonlyArray<string>): string => {
  if (argv.length === 0) throw new Error("commandLine: empty argv")
  return argv.map(quote).join(" ")
}

/** `pct exec <ctid> -- <argv...>`: runs argv inside an LXC container, on the container's node. */
export const pctExec = (ctid: number, argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  // Only validated ids reach here (VmId schema); this guards the builder itself.
  if (!Number.isSafeInteger(ctid) || ctid < 100) throw new Error(`pctExec: invalid ctid ${ctid}`)
  return ["pct", "exec", String(ctid), "--", ...argv]
}

/** Docker's container name format (and ids, which are hex): never starts with `-`. */
export const CONTAINER_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/

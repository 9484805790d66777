import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  FirewallPos,
  IfaceName,
  JobId,
  NodeName,
  PoolId,
  SnapshotName,
  StorageId,
  TokenName,
  Upid,
  UserId,
  VmId,
} from "../../src/domain/ids.js"

const accepts = (schema: Schema.Schema<unknown, unknown>, value: unknown) =>
  Either.isRight(Schema.decodeUnknownEither(schema)(value))

// Values that would change a URL path if they got into one.
const HOSTILE = ["", ".", "..", "a/b", "../x", "x/..", "%2F", "a%2Fb", "a\nb", " a", "a b", "a?b", "a#b"]

describe.each([
  ["NodeName", NodeName, ["pve1", "node-2", "a"]],
  ["StorageId", StorageId, ["local", "local-lvm", "backup_nfs.1"]],
  ["SnapshotName", SnapshotName, ["before-upgrade", "s1", "Daily_2024"]],
  ["PoolId", PoolId, ["prod", "team-a", "pool_1"]],
  ["UserId", UserId, ["alice@pve", "root@pam", "svc.mcp@ldap-corp"]],
  ["TokenName", TokenName, ["mcp", "ci-token", "t.1"]],
  ["IfaceName", IfaceName, ["vmbr0", "bond0", "eno1.100", "enp3s0f1"]],
  ["JobId", JobId, ["backup-5e1a2b3c-0d4f"]],
  [
    "Upid",
    Upid,
    [
      "UPID:pve1:000CFC5C:03E8D0C3:6194806C:qmstart:100:root@pam!mcp:",
      "UPID:n:00000001:00000002:00000003:aptupdate::root@pam:",
    ],
  ],
] as const)("%s", (_, schema, good) => {
  it.each(good)("accepts %j", (value) =>
    expect(accepts(schema as Schema.Schema<unknown, unknown>, value)).toBe(true),
  )
  it.each(HOSTILE)("refuses %j", (value) =>
    expect(accepts(schema as Schema.Schema<unknown, unknown>, value)).toBe(false),
  )
})

describe("integers", () => {
  it("VmId: 100..999999999, numeric strings accepted", () => {
    expect(accepts(VmId as Schema.Schema<unknown, unknown>, 100)).toBe(true)
    expect(accepts(VmId as Schema.Schema<unknown, unknown>, "999999999")).toBe(true)
    for (const bad of [99, 1_000_000_000, 100.5, "10a", "1e3", "..", null]) {
      expect(accepts(VmId as Schema.Schema<unknown, unknown>, bad)).toBe(false)
    }
  })
  it("FirewallPos: 0 and up", () => {
    expect(accepts(FirewallPos as Schema.Schema<unknown, unknown>, 0)).toBe(true)
    expect(accepts(FirewallPos as Schema.Schema<unknown, unknown>, -1)).toBe(false)
  })
})

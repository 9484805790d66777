/**
 * The simulated cluster's access control: PVE's permission evaluation over users, groups,
 * roles, ACLs and tokens (what `/access/permissions` answers and every route checks).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AccessModel } from "../../src/simulator/access-model.js"
import { type RunningSimulator, startSimulator } from "../../src/simulator/index.js"
import { api, tokenHeader } from "./helpers.js"

const model = () => {
  const access = new AccessModel()
  access.groups.set("ops", {})
  access.addUser({ userid: "u@pve", enable: true, expire: 0, groups: new Set(["ops"]) })
  return access
}
const grant = (
  access: AccessModel,
  path: string,
  roles: ReadonlyArray<string>,
  who: { users?: ReadonlyArray<string>; groups?: ReadonlyArray<string>; tokens?: ReadonlyArray<string> },
  propagate = true,
) =>
  access.updateAcl({
    path,
    roles,
    users: who.users ?? [],
    groups: who.groups ?? [],
    tokens: who.tokens ?? [],
    propagate,
    remove: false,
  })

describe("permission evaluation", () => {
  it("inherits down the tree; a deeper entry replaces what was inherited", () => {
    const access = model()
    grant(access, "/vms", ["PVEVMUser"], { users: ["u@pve"] })
    expect(access.allowed("u@pve", "/vms/100", "VM.PowerMgmt")).toBe(true)
    expect(access.allowed("u@pve", "/nodes/pve1", "VM.PowerMgmt")).toBe(false)
    grant(access, "/vms/100", ["PVEAuditor"], { users: ["u@pve"] })
    expect(access.allowed("u@pve", "/vms/100", "VM.PowerMgmt")).toBe(false)
    expect(access.allowed("u@pve", "/vms/100", "VM.Audit")).toBe(true)
  })

  it("propagate: false applies to the path only", () => {
    const access = model()
    grant(access, "/vms", ["PVEAuditor"], { users: ["u@pve"] }, false)
    expect(access.allowed("u@pve", "/vms", "VM.Audit")).toBe(true)
    expect(access.allowed("u@pve", "/vms/100", "VM.Audit")).toBe(false)
  })

  it("a user's own entry wins over its group's on the same path; NoAccess removes everything", () => {
    const access = model()
    grant(access, "/", ["Administrator"], { groups: ["ops"] })
    expect(access.allowed("u@pve", "/storage/local", "Datastore.Allocate")).toBe(true)
    grant(access, "/", ["PVEAuditor"], { users: ["u@pve"] })
    expect(access.allowed("u@pve", "/storage/local", "Datastore.Allocate")).toBe(false)
    grant(access, "/storage", ["NoAccess"], { users: ["u@pve"] })
    expect(access.privileges("u@pve", "/storage/local").size).toBe(0)
  })

  it("a privilege-separated token holds what both it and its user are granted", () => {
    const access = model()
    access.addToken({ userid: "u@pve", tokenid: "sep", privsep: true, expire: 0 })
    access.addToken({ userid: "u@pve", tokenid: "full", privsep: false, expire: 0 })
    grant(access, "/", ["PVEVMUser"], { users: ["u@pve"] })
    expect(access.allowed("u@pve!full", "/vms/1", "VM.PowerMgmt")).toBe(true)
    expect(access.allowed("u@pve!sep", "/vms/1", "VM.Audit")).toBe(false)
    grant(access, "/", ["Administrator"], { tokens: ["u@pve!sep"] })
    expect(access.allowed("u@pve!sep", "/vms/1", "VM.PowerMgmt")).toBe(true)
    // Not more than the user has.
    expect(access.allowed("u@pve!sep", "/vms/1", "VM.Allocate")).toBe(false)
  })

  it("root@pam holds everything; a disabled user or an expired token nothing", () => {
    const access = model()
    expect(access.allowed("root@pam", "/any/where", "Permissions.Modify")).toBe(true)
    grant(access, "/", ["Administrator"], { users: ["u@pve"] })
    access.addToken({ userid: "u@pve", tokenid: "old", privsep: false, expire: 1 })
    expect(access.activeToken("u@pve!old")).toBeUndefined()
    const user = access.users.get("u@pve")
    if (user) user.enable = false
    expect(access.allowed("u@pve", "/", "Sys.Audit")).toBe(false)
  })
})

describe("over HTTPS", () => {
  let sim: RunningSimulator
  beforeAll(async () => {
    sim = await startSimulator({ perNodeEndpoints: false, taskDurationMs: 50 })
  })
  afterAll(async () => {
    await sim.close()
  })
  const readOnly = () => tokenHeader(sim.readOnlyToken.tokenId, sim.readOnlyToken.tokenSecret)

  it("the auditor's token may read users but not create one (403 naming path and privilege)", async () => {
    expect((await api(sim, { path: "/access/users", auth: readOnly() })).status).toBe(200)
    const refused = await api(sim, {
      method: "POST",
      path: "/access/users",
      auth: readOnly(),
      form: { userid: "x@pve" },
    })
    expect(refused).toMatchObject({
      status: 403,
      reason: "Permission check failed (/access/realm/pve, Realm.AllocateUser)",
    })
    // Its own tokens, yes; somebody else's, no.
    expect((await api(sim, { path: "/access/users/auditor@pve/token", auth: readOnly() })).status).toBe(200)
    expect((await api(sim, { path: "/access/users/root@pam/token", auth: readOnly() })).status).toBe(403)
  })

  it("a token created through the API authenticates, with what its ACLs grant", async () => {
    await api(sim, { method: "POST", path: "/access/users", form: { userid: "ci@pve" } })
    const created = await api(sim, { method: "POST", path: "/access/users/ci@pve/token/run" })
    const header = tokenHeader("ci@pve!run", created.json.data.value)
    // privsep defaults to on: no ACL yet, so no privilege on the node.
    expect((await api(sim, { path: "/nodes/pve1/status", auth: header })).status).toBe(403)
    await api(sim, {
      method: "PUT",
      path: "/access/acl",
      form: { path: "/nodes", roles: "PVEAuditor", users: "ci@pve", tokens: "ci@pve!run" },
    })
    expect((await api(sim, { path: "/nodes/pve1/status", auth: header })).status).toBe(200)
    const permissions = await api(sim, { path: "/access/permissions?path=/nodes/pve1", auth: header })
    expect(permissions.json.data["/nodes/pve1"]).toHaveProperty("Sys.Audit", 1)
    expect(permissions.json.data["/nodes/pve1"]).not.toHaveProperty("Sys.Modify")
  })
})

// The simulator's wire behaviour: TLS, auth, envelope, status codes and PVE's error texts.
import { X509Certificate } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningSimulator, startSimulator } from "../../src/simulator/index.js"
import { api, tokenHeader } from "./helpers.js"

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startSimulator({ taskDurationMs: 100 })
})
afterAll(() => sim.close())

describe("TLS", () => {
  it("serves a certificate that verifies against caPem and matches the fingerprint", async () => {
    const res = await api(sim, { path: "/version" })
    expect(res.status).toBe(200)
    expect(res.peerFingerprint).toBe(sim.fingerprint)
    expect(sim.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    const cert = new X509Certificate(sim.caPem)
    expect(cert.subject).toBe("CN=proxmox-mcp-simulator")
    expect(cert.subjectAltName).toContain("IP Address:127.0.0.1")
    expect(cert.subjectAltName).toContain("DNS:localhost")
  })

  it("publishes the same fingerprint as every node's ssl_fingerprint", async () => {
    const res = await api(sim, { path: "/nodes" })
    expect(res.json.data.map((node: { ssl_fingerprint: string }) => node.ssl_fingerprint)).toEqual([
      sim.fingerprint,
      sim.fingerprint,
      sim.fingerprint,
    ])
  })

  it("answers PVE's headers and envelope", async () => {
    const res = await api(sim, { path: "/version" })
    expect(res.headers["content-type"]).toBe("application/json;charset=UTF-8")
    expect(res.headers.server).toBe("pve-api-daemon/3.0")
    expect(res.json).toEqual({
      data: { version: expect.any(String), release: "9.1", repoid: expect.any(String) },
    })
  })
})

describe("authentication", () => {
  it("answers 401 No ticket with an empty body without a token", async () => {
    const res = await api(sim, { path: "/version", auth: null })
    expect(res).toMatchObject({ status: 401, reason: "No ticket", text: "" })
    expect(res.headers.connection).toBe("close")
  })

  it("answers 401 authentication failure with an empty body for a wrong secret or token", async () => {
    for (const auth of [
      tokenHeader(sim.tokenId, "00000000-0000-0000-0000-000000000000"),
      tokenHeader("root@pam!other", sim.tokenSecret),
      "PVEAPIToken=garbage",
    ]) {
      const res = await api(sim, { path: "/version", auth })
      expect(res).toMatchObject({ status: 401, reason: "authentication failure", text: "" })
    }
  })

  it("accepts both tokens", async () => {
    const ro = sim.readOnlyToken
    expect((await api(sim, { path: "/version", auth: tokenHeader(ro.tokenId, ro.tokenSecret) })).status).toBe(
      200,
    )
  })

  it("delays 401 answers when configured", async () => {
    const slow = await startSimulator({ authFailureDelayMs: 200, perNodeEndpoints: false, seed: "empty" })
    try {
      const started = Date.now()
      expect((await api(slow, { path: "/version", auth: null })).status).toBe(401)
      expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    } finally {
      await slow.close()
    }
  })
})

describe("parameter verification (400)", () => {
  const expect400 = async (path: string, errors: Record<string, string>) => {
    const res = await api(sim, { path })
    expect(res.status).toBe(400)
    expect(res.reason).toBe("Parameter verification failed.")
    expect(res.json).toEqual({ data: null, message: "Parameter verification failed.\n", errors })
    expect(res.headers.connection).toBe("close")
  }

  it("rejects an unknown parameter", () =>
    expect400("/nodes/pve1/qemu?foo=1", {
      foo: "property is not defined in schema and the schema does not allow additional properties",
    }))

  it("rejects a mistyped integer, also in a path segment", async () => {
    await expect400("/nodes/pve1/qemu/abc/status/current", {
      vmid: "type check ('integer') failed - got 'abc'",
    })
    await expect400("/nodes/pve1/tasks?limit=x", { limit: "type check ('integer') failed - got 'x'" })
  })

  it("rejects a value outside the enumeration", () =>
    expect400("/cluster/resources?type=bogus", {
      type: "value 'bogus' does not have a value in the enumeration 'vm, storage, node, sdn'",
    }))

  it("checks ranges, booleans, patterns and named formats", async () => {
    await expect400("/cluster/nextid?vmid=5", { vmid: "value must have a minimum value of 100" })
    await expect400("/nodes/pve1/qemu?full=yes", { full: "type check ('boolean') failed - got 'yes'" })
    await expect400("/access/permissions?userid=nobody", { userid: "value does not match the regex pattern" })
    await expect400("/nodes/pve1/storage?storage=b%40d", {
      storage: "invalid format - storage ID 'b@d' contains illegal characters\n",
    })
  })

  it("reports a taken vmid on /cluster/nextid like PVE", () =>
    expect400("/cluster/nextid?vmid=100", { vmid: "VM 100 already exists" }))

  it("rejects a query value that conflicts with the path", () =>
    expect400("/nodes/pve1/qemu?node=pve2", {
      node: "duplicate parameter (already defined in URI) with conflicting values!",
    }))
})

describe("request bodies", () => {
  it("accepts form and JSON bodies (booleans as 1/0 or true/false)", async () => {
    // skiplock reaches the handler, which refuses it for tokens as PVE does.
    const form = await api(sim, {
      method: "POST",
      path: "/nodes/pve1/qemu/102/status/start",
      form: { skiplock: 1 },
    })
    const json = await api(sim, {
      method: "POST",
      path: "/nodes/pve1/qemu/102/status/start",
      json: { skiplock: true },
    })
    for (const res of [form, json]) {
      expect(res.status).toBe(400)
      expect(res.json.errors).toEqual({ skiplock: "Only root may use this option." })
    }
  })

  it("answers 501 for a body on GET and 506 for other content types", async () => {
    const onGet = await api(sim, {
      path: "/version",
      rawBody: { contentType: "application/json", text: "{}" },
    })
    expect(onGet).toMatchObject({ status: 501, reason: "Unexpected content for method 'GET'" })
    const text = await api(sim, {
      method: "POST",
      path: "/nodes/pve1/qemu/102/status/start",
      rawBody: { contentType: "text/plain", text: "hello" },
    })
    expect(text.status).toBe(506)
  })
})

describe("unknown paths (501)", () => {
  it("answers 501 for a path PVE does not have", async () => {
    const res = await api(sim, { path: "/nodes/pve1/foo" })
    expect(res).toMatchObject({ status: 501, reason: "Method 'GET /nodes/pve1/foo' not implemented" })
    expect(res.json).toEqual({ data: null, message: "Method 'GET /nodes/pve1/foo' not implemented\n" })
  })

  it("answers 501 for a method the path does not have", async () => {
    const res = await api(sim, { method: "DELETE", path: "/version" })
    expect(res).toMatchObject({ status: 501, reason: "Method 'DELETE /version' not implemented" })
  })

  it("marks PVE endpoints the simulator does not implement", async () => {
    const res = await api(sim, { path: "/nodes/pve1/hardware/pci?verbose=1" })
    expect(res).toMatchObject({
      status: 501,
      reason: "Method 'GET /nodes/pve1/hardware/pci' not implemented (simulator)",
    })
  })

  it("takes dot segments literally instead of resolving them", async () => {
    sim.cluster.clearRequests()
    const res = await api(sim, { path: "/nodes/pve1/qemu/101/../100/config" })
    expect(res.status).toBe(501)
    expect(sim.cluster.requests[0]?.path).toBe("/nodes/pve1/qemu/101/../100/config")
  })
})

describe("missing objects (500)", () => {
  it("reports a missing VM and container by their config file", async () => {
    const vm = await api(sim, { path: "/nodes/pve1/qemu/999/status/current" })
    expect(vm).toMatchObject({
      status: 500,
      reason: "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist",
    })
    expect(vm.json).toEqual({
      data: null,
      message: "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n",
    })
    const ct = await api(sim, { path: "/nodes/pve1/lxc/999/config" })
    expect(ct.reason).toBe("Configuration file 'nodes/pve1/lxc/999.conf' does not exist")
  })

  it("does not find a guest on a node it does not live on", async () => {
    const res = await api(sim, { path: "/nodes/pve2/qemu/100/status/current" })
    expect(res).toMatchObject({
      status: 500,
      reason: "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist",
    })
    const lxcAsQemu = await api(sim, { path: "/nodes/pve1/qemu/200/config" })
    expect(lxcAsQemu.status).toBe(500)
  })

  it("reports an unknown node and an unknown storage", async () => {
    const node = await api(sim, { path: "/nodes/nodeX/qemu" })
    expect(node).toMatchObject({
      status: 500,
      reason:
        "hostname lookup 'nodeX' failed - failed to get address info for: nodeX: Name or service not known",
    })
    const storage = await api(sim, { path: "/nodes/pve1/storage/nope/status" })
    expect(storage).toMatchObject({ status: 500, reason: "storage 'nope' does not exist" })
  })
})

describe("request log", () => {
  it("records method, decoded path, query, body, endpoint, header names and status", async () => {
    sim.cluster.clearRequests()
    await api(sim, { path: "/cluster/resources?type=vm", node: "pve2" })
    await api(sim, { method: "POST", path: "/nodes/pve1/qemu/100/status/reboot", form: { timeout: 30 } })
    expect(sim.cluster.requests).toEqual([
      {
        method: "GET",
        path: "/cluster/resources",
        query: { type: "vm" },
        body: {},
        endpointNode: "pve2",
        headerNames: expect.arrayContaining(["authorization", "host"]),
        status: 200,
      },
      {
        method: "POST",
        path: "/nodes/pve1/qemu/100/status/reboot",
        query: {},
        body: { timeout: "30" },
        endpointNode: "pve1",
        headerNames: expect.arrayContaining(["authorization", "content-type"]),
        status: 200,
      },
    ])
  })
})

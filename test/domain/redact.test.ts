import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { isSecretKey, makeRedactor, REDACTED, redactSecrets, redactText } from "../../src/domain/redact.js"

const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJhZG1pbiJ9.4Adcj3UFYzPUVaVF43FmMab6RlaQD8A9V8wFzzht-KQ"
const TOKEN_SECRET = "0c9f3d42-6b1e-4c5d-9a8e-2f7b1c3d4e5f"
const PEM = [
  "-----BEGIN OPENSSH PRIVATE KEY-----",
  "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
  "-----END OPENSSH PRIVATE KEY-----",
].join("\n")

describe("redactSecrets (by key)", () => {
  it("replaces secret keys at any depth and keeps the rest", () => {
    const config = {
      name: "web",
      cipassword: "hunter2",
      nested: [{ password: "p", user: "u" }],
      ciuser: "admin",
    }
    expect(redactSecrets(config)).toEqual({
      name: "web",
      cipassword: REDACTED,
      nested: [{ password: REDACTED, user: "u" }],
      ciuser: "admin",
    })
  })

  it("knows the secret keys of PVE, HTTP and the auth endpoints", () => {
    for (const key of [
      "password",
      "cipassword",
      "privkey",
      "private_key",
      "privateKey",
      "ticket",
      "CSRFPreventionToken",
      "Authorization",
      "proxy-authorization",
      "cookie",
      "secret",
      "token_secret",
      "tokenSecret",
      "jwt",
      "JWT_SECRET",
      "refresh_token",
      "refreshToken",
      "access_token",
      "api_key",
      "encryption-key",
      "keyring",
      "ADMIN_PASSWORD",
      "PROXMOX_TOKEN_SECRET",
    ]) {
      expect(isSecretKey(key), key).toBe(true)
    }
    for (const key of [
      "name",
      "tokenid",
      "full-tokenid",
      "ciuser",
      "sshkeys",
      "vmid",
      "node",
      "description",
    ]) {
      expect(isSecretKey(key), key).toBe(false)
    }
  })

  it("redacts the value of a new API token, which PVE returns once", () => {
    const created = { "full-tokenid": "root@pam!mcp", info: { privsep: 1 }, value: TOKEN_SECRET }
    expect(redactSecrets(created)).toEqual({
      "full-tokenid": "root@pam!mcp",
      info: { privsep: 1 },
      value: REDACTED,
    })
    // `value` elsewhere is ordinary data.
    expect(redactSecrets({ key: "maxfiles", value: 3 })).toEqual({ key: "maxfiles", value: 3 })
  })

  it("still accepts a custom key predicate", () => {
    expect(redactSecrets({ a: 1, b: 2 }, (key) => key === "a")).toEqual({ a: REDACTED, b: 2 })
  })
})

describe("redaction by value", () => {
  it.each([
    ["a JWT", `token was ${JWT} ok`, `token was ${REDACTED} ok`],
    ["a Bearer token", "Authorization header Bearer abc.def-ghi", `Authorization header Bearer ${REDACTED}`],
    [
      "a PVE API token, keeping its id",
      `PVEAPIToken=root@pam!mcp=${TOKEN_SECRET}`,
      `PVEAPIToken=root@pam!mcp=${REDACTED}`,
    ],
    ["a PVE ticket", "PVE:root@pam:65A1B2C3::c2lnbmF0dXJlc2lnbmF0dXJl+/=", REDACTED],
    ["a PEM private key", `key:\n${PEM}\nend`, `key:\n${REDACTED}\nend`],
    ["a cut PEM private key", `${PEM.slice(0, 80)}`, REDACTED],
    [
      "URL credentials",
      "https://admin:s3cret@pve.example:8006/",
      `https://admin:${REDACTED}@pve.example:8006/`,
    ],
    [
      "password=...",
      "mount -o username=bob,password=hunter22 //srv/x",
      `mount -o username=bob,password=${REDACTED} //srv/x`,
    ],
    ["a quoted pair", 'body: {"refresh_token": "r-123456"}', `body: {"refresh_token": "${REDACTED}"}`],
    ["Authorization: Basic", "Authorization: Basic dXNlcjpwYXNzd29yZA==", `Authorization: ${REDACTED}`],
  ])("removes %s", (_name, input, expected) => {
    expect(redactText(input)).toBe(expected)
    expect(redactSecrets({ text: input })).toEqual({ text: expected })
  })

  it("redacts a string holding a JSON document by key too, and leaves a clean one as it was", () => {
    const body = JSON.stringify({ "full-tokenid": "bob@pve!ci", value: TOKEN_SECRET, info: {} }, null, 2)
    expect(redactSecrets({ body })).toEqual({
      body: JSON.stringify({ "full-tokenid": "bob@pve!ci", value: REDACTED, info: {} }),
    })
    const clean = '{ "data": [1, 2] }'
    expect(redactSecrets({ clean })).toEqual({ clean })
  })

  it("leaves ordinary text alone", () => {
    for (const text of [
      "VM 100 already running",
      "UPID:pve1:0000ABCD:00012345:65A1B2C3:qmstart:101:root@pam:",
      "virtio=BC:24:11:00:00:01,bridge=vmbr0",
      "tokenid=mcp",
      "local:iso/debian-12.iso",
    ]) {
      expect(redactText(text)).toBe(text)
    }
  })
})

describe("makeRedactor (known secrets)", () => {
  it("removes registered secrets wherever they appear, also URL-encoded", () => {
    const redact = makeRedactor({
      knownSecrets: [Redacted.make(TOKEN_SECRET), "correct horse battery", undefined],
    })
    expect(
      redact({ note: `the secret is ${TOKEN_SECRET}!`, list: ["correct horse battery staple"] }),
    ).toEqual({
      note: `the secret is ${REDACTED}!`,
      list: [`${REDACTED} staple`],
    })
    expect(redact.text(`q=${encodeURIComponent("correct horse battery")}`)).toBe(`q=${REDACTED}`)
    redact.register("learned-later-secret")
    expect(redact.text("x learned-later-secret y")).toBe(`x ${REDACTED} y`)
  })

  it("ignores known secrets too short to search for", () => {
    expect(makeRedactor({ knownSecrets: ["ab"] }).text("a tab b")).toBe("a tab b")
  })

  it("redacts a JSON log line by key and by value, keeping it JSON", () => {
    const redact = makeRedactor({ knownSecrets: [TOKEN_SECRET] })
    const line = JSON.stringify({
      message: [`calling with ${TOKEN_SECRET}`],
      annotations: { password: "hunter2", header: `Bearer ${JWT}` },
    })
    const out = redact.line(`${line}\n`)
    expect(out.endsWith("\n")).toBe(true)
    expect(JSON.parse(out)).toEqual({
      message: [`calling with ${REDACTED}`],
      annotations: { password: REDACTED, header: `Bearer ${REDACTED}` },
    })
    expect(redact.line("plain password=hunter2")).toBe(`plain password=${REDACTED}`)
  })

  it("handles errors, dates, cycles and deep values", () => {
    const error = new Error(`failed with ${TOKEN_SECRET}`)
    const cyclic: Record<string, unknown> = { name: "a" }
    cyclic.self = cyclic
    const redact = makeRedactor({ knownSecrets: [TOKEN_SECRET] })
    expect(redact({ error, at: new Date(0), cyclic })).toEqual({
      error: { name: "Error", message: `failed with ${REDACTED}` },
      at: "1970-01-01T00:00:00.000Z",
      cyclic: { name: "a", self: "[Circular]" },
    })
  })

  it("returns a copy that shares nothing with its input, secrets or not", () => {
    const redact = makeRedactor({ knownSecrets: [TOKEN_SECRET] })
    const clean = { data: [{ node: "pve1", cpu: 0.1, tags: ["a"] }], meta: { durationMs: 3 } }
    const copy = redact(clean) as typeof clean
    expect(copy).toStrictEqual(clean)
    expect(copy).not.toBe(clean)
    expect(copy.data[0]).not.toBe(clean.data[0])
    expect(copy.data[0]?.tags).not.toBe(clean.data[0]?.tags)
    const leaky = { list: [{ ok: 1 }, { token: "abc" }] }
    expect(redact(leaky)).toEqual({ list: [{ ok: 1 }, { token: REDACTED }] })
    // The input is never changed.
    expect(leaky.list[1]?.token).toBe("abc")
    // A JSON text without secrets stays the same string; one with a secret is rewritten.
    const text = JSON.stringify({ a: 1 })
    expect((redact({ text }) as { text: string }).text).toBe(text)
    expect(redact({ text: JSON.stringify({ password: "p" }) })).toEqual({
      text: JSON.stringify({ password: REDACTED }),
    })
    // Parsing keeps the last of two members with the same name; the text rules still see the first.
    const duplicate = '{"password":"hunter2","password":"[REDACTED]"}'
    expect(JSON.stringify(redact({ body: duplicate }))).not.toContain("hunter2")
  })

  it("reads each member once: the copy holds only values it checked", () => {
    /** `{a, b, token?}` whose `b` answers "ok" once and a secret after: a second read would leak it. */
    const secretOnSecondRead = (withToken: boolean) => {
      let reads = 0
      const value: Record<string, unknown> = { a: "clean" }
      Object.defineProperty(value, "b", {
        enumerable: true,
        get: () => (++reads === 1 ? "ok" : "password=hunter2"),
      })
      if (withToken) value.token = "x"
      return { value, reads: () => reads }
    }
    const tricky = secretOnSecondRead(true)
    expect(redactSecrets(tricky.value)).toEqual({ a: "clean", b: "ok", token: REDACTED })
    expect(tricky.reads()).toBe(1)
    // Nothing to redact at all: the result is still the checked copy, which never asks again.
    const clean = secretOnSecondRead(false)
    expect(JSON.stringify(redactSecrets(clean.value))).toBe('{"a":"clean","b":"ok"}')
    expect(clean.reads()).toBe(1)
    let itemReads = 0
    const list: Array<unknown> = ["a", "b", { password: "p" }]
    Object.defineProperty(list, 1, {
      enumerable: true,
      get: () => (++itemReads === 1 ? "b" : "password=hunter2"),
    })
    expect(JSON.stringify(redactSecrets(list))).toBe(JSON.stringify(["a", "b", { password: REDACTED }]))
    expect(itemReads).toBe(1)
  })

  it("copies class instances into plain objects, as JSON sees them, and cuts only true cycles", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const point = new Point(1, 2)
    const redacted = redactSecrets({ point })
    expect(redacted).toStrictEqual({ point: { x: 1, y: 2 } })
    // The same object twice, not inside itself: not a cycle.
    const shared = { name: "s" }
    expect(redactSecrets({ a: shared, b: [shared, shared] })).toEqual({ a: shared, b: [shared, shared] })
  })

  // A pattern with catastrophic backtracking would hang here; the suite's test timeout is the
  // guard (speed itself is never asserted in tests).
  it("finishes on adversarial text", () => {
    const redact = makeRedactor({ knownSecrets: [TOKEN_SECRET] })
    const plain = [
      `${"a-".repeat(50_000)}x`,
      `http://${"a".repeat(100_000)}`,
      `-----BEGIN ${"A ".repeat(50_000)}`,
    ]
    // Compared by equality of a boolean, so a failure does not print 100 KB of text.
    for (const text of plain) expect(redact.text(text) === text).toBe(true)
    for (const text of ["eyJaa.".repeat(20_000), "password:".repeat(10_000), "PVEAPIToken=".repeat(10_000)]) {
      expect(typeof redact.text(text)).toBe("string")
    }
  })
})

describe("prose after a key name", () => {
  it("keeps a validation message about a secret-named field readable", () => {
    expect(redactText("Invalid input: secret: is not a parameter of this tool")).toBe(
      "Invalid input: secret: is not a parameter of this tool",
    )
    expect(redactText("password: must be at least 8 characters")).toBe(
      "password: must be at least 8 characters",
    )
  })

  it("still removes values after a key name, with either separator", () => {
    expect(redactText("password: hunter2")).toBe(`password: ${REDACTED}`)
    expect(redactText("token=is")).toBe(`token=${REDACTED}`)
    expect(redactText("secret: s3cr3t-value is set")).toBe(`secret: ${REDACTED} is set`)
  })
})

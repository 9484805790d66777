import { describe, expect, it } from "vitest"
import { REDACTED, redactSecrets } from "../../src/domain/redact.js"

describe("redactSecrets", () => {
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
})

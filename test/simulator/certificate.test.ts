import { X509Certificate } from "node:crypto"
import * as tls from "node:tls"
import { describe, expect, it } from "vitest"
import { fingerprintOf, generateCertificate } from "../../src/simulator/certificate.js"

describe("generateCertificate", () => {
  // A random serial starts with a zero byte now and then; written as-is it is a non-minimal
  // INTEGER and OpenSSL refuses the certificate ("illegal padding"), so a listener fails to start.
  it.each([
    ["a leading zero", "0003a6f450a780f387da939aa9dbcac8"],
    ["several leading zeros", "00000000000000000000000000000001"],
    ["the sign bit set", "ff03a6f450a780f387da939aa9dbcac8"],
    ["a plain value", "7f03a6f450a780f387da939aa9dbcac8"],
  ])("encodes a serial with %s so that OpenSSL accepts it", (_, hex) => {
    const certificate = generateCertificate(new Date(), Buffer.from(hex, "hex"))
    const parsed = new X509Certificate(certificate.certPem)
    expect(parsed.subject).toContain("proxmox-mcp-simulator")
    expect(parsed.fingerprint256).toBe(certificate.fingerprint)
    expect(() =>
      tls.createSecureContext({ key: certificate.keyPem, cert: certificate.certPem }),
    ).not.toThrow()
  })

  it("fingerprints the DER bytes like Node's fingerprint256", () => {
    const certificate = generateCertificate()
    const parsed = new X509Certificate(certificate.certPem)
    expect(fingerprintOf(parsed.raw)).toBe(parsed.fingerprint256)
  })
})

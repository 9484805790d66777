// Self-signed ECDSA P-256 certificate for the simulator's HTTPS listeners.
//
// The certificate is DER-encoded by hand (a dozen ASN.1 building blocks) and signed with node:crypto:
// generation takes about a millisecond, needs no openssl binary and no X.509 library. (@peculiar/x509
// 2.x would need a global Reflect metadata polyfill installed into the whole process.)
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto"
import { isIPv4 } from "node:net"

export interface SimulatorCertificate {
  /** PEM certificate; being self-signed it doubles as the CA file clients trust. */
  readonly certPem: string
  readonly keyPem: string
  /** SHA-256 of the DER certificate as AA:BB:..., the format of node:tls `fingerprint256`. */
  readonly fingerprint: string
}

const COMMON_NAME = "proxmox-mcp-simulator"
const DNS_NAMES = ["localhost"]
const IP_ADDRESSES = ["127.0.0.1", "::1"]
const DAY_MS = 86_400_000

const OID = {
  commonName: "2.5.4.3",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  serverAuth: "1.3.6.1.5.5.7.3.1",
}

// --- minimal DER encoder -------------------------------------------------------------------------

const tlv = (tag: number, content: Buffer): Buffer => {
  const length = content.length
  let header: Buffer
  if (length < 0x80) header = Buffer.from([tag, length])
  else {
    const bytes: Array<number> = []
    for (let rest = length; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff)
    header = Buffer.from([tag, 0x80 | bytes.length, ...bytes])
  }
  return Buffer.concat([header, content])
}

const sequence = (...items: ReadonlyArray<Buffer>) => tlv(0x30, Buffer.concat(items))
const set = (...items: ReadonlyArray<Buffer>) => tlv(0x31, Buffer.concat(items))
const octetString = (content: Buffer) => tlv(0x04, content)
const bitString = (content: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), content]))
const utf8String = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"))
const explicit = (tagNumber: number, content: Buffer) => tlv(0xa0 | tagNumber, content)
const booleanTrue = () => tlv(0x01, Buffer.from([0xff]))

/**
 * Positive INTEGER from big-endian bytes, minimally encoded as DER demands: leading zero bytes
 * are dropped, and one zero is put back only when needed to keep the sign bit clear. (A random
 * serial starting with 0x00 otherwise makes OpenSSL reject the certificate: "illegal padding".)
 */
const integer = (bytes: Buffer) => {
  let start = 0
  while (start < bytes.length - 1 && bytes[start] === 0) start++
  const minimal = bytes.subarray(start)
  return tlv(0x02, (minimal[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal)
}

const objectId = (oid: string) => {
  const [first = 0, second = 0, ...rest] = oid.split(".").map(Number)
  const bytes = [first * 40 + second]
  for (const arc of rest) {
    const chunk = [arc & 0x7f]
    for (let value = arc >>> 7; value > 0; value >>>= 7) chunk.unshift(0x80 | (value & 0x7f))
    bytes.push(...chunk)
  }
  return tlv(0x06, Buffer.from(bytes))
}

/** UTCTime (YYMMDDHHMMSSZ) is valid until 2049, far beyond a simulator's lifetime. */
const utcTime = (date: Date) => {
  const iso = date.toISOString() // 2026-05-15T07:10:55.000Z
  const text = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16)
  return tlv(0x17, Buffer.from(`${text}${iso.slice(17, 19)}Z`, "ascii"))
}

const ipBytes = (address: string): Buffer => {
  if (isIPv4(address)) return Buffer.from(address.split(".").map(Number))
  // Expand "::" for the loopback-style addresses used here.
  const [head = "", tail = ""] = address.split("::")
  const headGroups = head === "" ? [] : head.split(":")
  const tailGroups = tail === "" ? [] : tail.split(":")
  const zeros = Array.from({ length: 8 - headGroups.length - tailGroups.length }, () => "0")
  const bytes = Buffer.alloc(16)
  ;[...headGroups, ...zeros, ...tailGroups].forEach((group, index) => {
    bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2)
  })
  return bytes
}

const extension = (oid: string, critical: boolean, value: Buffer) =>
  critical
    ? sequence(objectId(oid), booleanTrue(), octetString(value))
    : sequence(objectId(oid), octetString(value))

const toPem = (label: string, der: Buffer) => {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`
}

export const fingerprintOf = (der: Buffer): string =>
  createHash("sha256").update(der).digest("hex").toUpperCase().match(/.{2}/g)!.join(":")

/** A random positive 128-bit serial. */
const randomSerial = () => {
  const serial = randomBytes(16)
  serial[0] = (serial[0] ?? 0) & 0x7f
  return serial
}

export const generateCertificate = (
  now: Date = new Date(),
  serial: Buffer = randomSerial(),
): SimulatorCertificate => {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  const spki = publicKey.export({ type: "spki", format: "der" })
  const name = sequence(set(sequence(objectId(OID.commonName), utf8String(COMMON_NAME))))
  const signatureAlgorithm = sequence(objectId(OID.ecdsaWithSha256))

  const subjectAltNames = sequence(
    ...DNS_NAMES.map((dns) => tlv(0x82, Buffer.from(dns, "ascii"))),
    ...IP_ADDRESSES.map((ip) => tlv(0x87, ipBytes(ip))),
  )
  // keyUsage bits: digitalSignature (bit 0) and keyCertSign (bit 5); the last 2 bits are unused.
  const keyUsage = tlv(0x03, Buffer.from([0x02, 0b1000_0100]))
  const keyId = createHash("sha1").update(spki).digest()

  const tbsCertificate = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    signatureAlgorithm,
    name,
    // Backdated a day so clients with a slightly skewed clock accept it.
    sequence(utcTime(new Date(now.getTime() - DAY_MS)), utcTime(new Date(now.getTime() + 825 * DAY_MS))),
    name,
    spki,
    explicit(
      3,
      sequence(
        extension(OID.basicConstraints, true, sequence(booleanTrue())),
        extension(OID.keyUsage, true, keyUsage),
        extension(OID.extKeyUsage, false, sequence(objectId(OID.serverAuth))),
        extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
        extension(OID.subjectAltName, false, subjectAltNames),
      ),
    ),
  )
  const signature = sign("sha256", tbsCertificate, privateKey) // DER ECDSA-Sig-Value
  const der = sequence(tbsCertificate, signatureAlgorithm, bitString(signature))

  return {
    certPem: toPem("CERTIFICATE", der),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    fingerprint: fingerprintOf(der),
  }
}

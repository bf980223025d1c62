import "reflect-metadata";
import { randomBytes, webcrypto, type X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { AsnConvert } from "@peculiar/asn1-schema";
import { GeneralName, GeneralSubtree, GeneralSubtrees, id_ce_nameConstraints, NameConstraints } from "@peculiar/asn1-x509";
import * as x509 from "@peculiar/x509";
import { writeSecretFile } from "../bootstrap/index.ts";
import { certificateCovers, readCertificates, type ServerCertificate } from "./check.ts";
import { DEFAULT_NAMES, selfSignedFiles } from "./files.ts";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 3600 * 1000;
/** A server certificate is issued again this long before it expires. */
const RENEW_BEFORE_MS = 30 * DAY_MS;

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").trimEnd();
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString("hex");
}

async function importKey(pemText: string): Promise<CryptoKey> {
  const der = Buffer.from(pemText.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  return (await webcrypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"])) as unknown as CryptoKey;
}

/** A CA: its certificate (PEM) and the key it signs with. */
export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  cert: x509.X509Certificate;
  key: CryptoKey;
}

/**
 * The names a CA may vouch for (a critical name-constraints extension): each DNS name with its
 * subdomains (`*.mnq.example.com` as `mnq.example.com`), each IP address alone. Verifiers (Go's
 * crypto/x509 in nats-server and the nats CLI, OpenSSL in Node) refuse any other name it signs,
 * so a leaked CA key cannot mint a certificate for someone else's host.
 */
function nameConstraints(names: readonly string[]): x509.Extension {
  const subtrees = names.map(
    (n) =>
      new GeneralSubtree({
        base: new GeneralName(isIP(n) ? { iPAddress: `${n}/${isIP(n) === 4 ? 32 : 128}` } : { dNSName: n.replace(/^\*\./, "") }),
      }),
  );
  const value = new NameConstraints({ permittedSubtrees: new GeneralSubtrees(subtrees) });
  return new x509.Extension(id_ce_nameConstraints, true, AsnConvert.serialize(value));
}

/** A new private CA (ECDSA P-256), valid from a day ago for `days`, constrained to `names` when given. */
export async function newCertificateAuthority(name = "mnq private CA", days = 3650, now = Date.now(), names?: readonly string[]): Promise<CertificateAuthority> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as unknown as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + days * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...(names ? [nameConstraints(names)] : []),
    ],
  });
  const keyPem = pem("PRIVATE KEY", (await webcrypto.subtle.exportKey("pkcs8", keys.privateKey as never)) as ArrayBuffer);
  return { certPem: `${cert.toString("pem")}\n`, keyPem, cert, key: keys.privateKey };
}

/** A server certificate for `names` (DNS names or IP addresses), issued by `ca`, valid from `notBefore` to `notAfter`. */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  names: readonly string[],
  validity: { notBefore?: Date; notAfter?: Date } = {},
): Promise<{ certPem: string; keyPem: string }> {
  const now = Date.now();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as unknown as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: "CN=mnq",
    issuer: ca.cert.subject,
    notBefore: validity.notBefore ?? new Date(now - DAY_MS),
    notAfter: validity.notAfter ?? new Date(now + 825 * DAY_MS),
    signingKey: ca.key,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIP(n) ? ("ip" as const) : ("dns" as const), value: n }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  const keyPem = pem("PRIVATE KEY", (await webcrypto.subtle.exportKey("pkcs8", keys.privateKey as never)) as ArrayBuffer);
  return { certPem: `${cert.toString("pem")}\n`, keyPem };
}

async function loadCa(files: { caFile?: string; caKeyFile: string }, now: number): Promise<CertificateAuthority | undefined> {
  if (!files.caFile || !existsSync(files.caFile) || !existsSync(files.caKeyFile)) return undefined;
  try {
    const certPem = readFileSync(files.caFile, "utf8");
    const keyPem = readFileSync(files.caKeyFile, "utf8");
    const cert = new x509.X509Certificate(certPem);
    if (cert.notAfter.getTime() - now <= RENEW_BEFORE_MS) return undefined;
    return { certPem, keyPem, cert, key: await importKey(keyPem) };
  } catch {
    return undefined; // unreadable: a new CA
  }
}

/**
 * Makes (or reuses) a private CA and a server certificate for `names` (plus localhost and the
 * loopback addresses) in `<data dir>/tls`: keys 0600, certificates 0644. A later start reuses both;
 * the server certificate alone is issued again, by the same CA, when it lacks a name or nears its
 * end, so clients that trust the CA keep trusting the server.
 */
export async function ensureSelfSigned(dataDir: string, extraNames: readonly string[] = []): Promise<ServerCertificate & { created: boolean }> {
  const files = selfSignedFiles(dataDir);
  const names = [...new Set([...DEFAULT_NAMES, ...extraNames])];
  mkdirSync(join(dataDir, "tls"), { recursive: true, mode: 0o700 });
  const now = Date.now();
  let ca = await loadCa(files, now);
  // a CA made for other names (or by an earlier version, unconstrained) is replaced: clients then need the new ca.pem
  if (ca && !permitsExactly(ca.cert, names)) ca = undefined;
  const newCa = !ca;
  if (!ca) {
    ca = await newCertificateAuthority(undefined, undefined, now, names);
    writeSecretFile(files.caKeyFile, ca.keyPem);
    writeFileSync(files.caFile, ca.certPem, { mode: 0o644 });
  }
  if (!newCa && serverCertificateHolds(files, names, now)) return { ...files, created: false };
  const issued = await issueServerCertificate(ca, names);
  writeSecretFile(files.keyFile, issued.keyPem);
  writeFileSync(files.certFile, issued.certPem, { mode: 0o644 });
  return { ...files, created: true };
}

/** True when the CA's name constraints are the ones `names` make (an unconstrained CA never is). */
function permitsExactly(cert: x509.X509Certificate, names: readonly string[]): boolean {
  const ext = cert.getExtension(id_ce_nameConstraints);
  return ext !== null && Buffer.from(ext.value).equals(Buffer.from(nameConstraints(names).value));
}

function serverCertificateHolds(files: ServerCertificate, names: readonly string[], now: number): boolean {
  if (!existsSync(files.certFile) || !existsSync(files.keyFile)) return false;
  let leaf: X509Certificate;
  try {
    [leaf] = readCertificates("MNQ_TLS", files.certFile) as [X509Certificate];
  } catch {
    return false;
  }
  return new Date(leaf.validTo).getTime() - now > RENEW_BEFORE_MS && names.every((n) => certificateCovers(leaf, n));
}

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";

/** A TLS setting that cannot be used: the message names the setting, never a key's content. */
export class TlsSettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsSettingError";
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function read(setting: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TlsSettingError(`${setting}: cannot read ${path} (${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (code ?? "unreadable")})`);
  }
}

/** The certificates of a PEM file, in order; TlsSettingError when it holds none. */
export function readCertificates(setting: string, path: string): X509Certificate[] {
  const blocks = read(setting, path).match(PEM_CERT) ?? [];
  const certs: X509Certificate[] = [];
  for (const b of blocks) {
    try {
      certs.push(new X509Certificate(b));
    } catch {
      throw new TlsSettingError(`${setting}: ${path} holds a certificate that does not parse`);
    }
  }
  if (certs.length === 0) throw new TlsSettingError(`${setting}: ${path} is not a PEM certificate file (no BEGIN CERTIFICATE block)`);
  return certs;
}

function readKey(setting: string, path: string): KeyObject {
  const text = read(setting, path);
  try {
    return createPrivateKey(text);
  } catch {
    throw new TlsSettingError(`${setting}: ${path} is not a PEM private key`);
  }
}

/** True when the certificate names `host` (an IP address or a DNS name). */
export function certificateCovers(cert: X509Certificate, host: string): boolean {
  return isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
}

export interface ServerCertificate {
  certFile: string;
  keyFile: string;
  /** The CA bundle clients verify it with, when given. */
  caFile: string | undefined;
}

/**
 * Checks a server certificate before anything starts: each file readable and PEM, the key the
 * certificate's, valid now and for every one of `hosts` (where clients reach the server), and
 * issued by the CA bundle when one is given. TlsSettingError naming the setting otherwise.
 */
export function checkServerCertificate(files: ServerCertificate, hosts: readonly string[], now = new Date()): void {
  const [leaf, ...chain] = readCertificates("MNQ_TLS_CERT", files.certFile);
  const key = readKey("MNQ_TLS_KEY", files.keyFile);
  if (!leaf!.checkPrivateKey(key)) throw new TlsSettingError("MNQ_TLS_KEY is not the private key of MNQ_TLS_CERT");
  if (new Date(leaf!.validTo) <= now) throw new TlsSettingError(`MNQ_TLS_CERT expired on ${new Date(leaf!.validTo).toISOString()}`);
  if (new Date(leaf!.validFrom) > now) throw new TlsSettingError(`MNQ_TLS_CERT is not valid before ${new Date(leaf!.validFrom).toISOString()}`);
  const uncovered = hosts.find((host) => !certificateCovers(leaf!, host));
  if (uncovered !== undefined) {
    throw new TlsSettingError(`MNQ_TLS_CERT is not valid for ${uncovered}, where clients reach the server (its names: ${leaf!.subjectAltName ?? leaf!.subject})`);
  }
  if (files.caFile !== undefined) {
    const cas = readCertificates("MNQ_TLS_CA", files.caFile);
    const issued = [...cas, ...chain].some((ca) => leaf!.checkIssued(ca) && leaf!.verify(ca.publicKey));
    const self = cas.some((ca) => ca.fingerprint256 === leaf!.fingerprint256);
    if (!issued && !self) throw new TlsSettingError("MNQ_TLS_CA does not verify MNQ_TLS_CERT: it holds neither the certificate's issuer nor the certificate");
  }
}

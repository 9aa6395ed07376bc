/**
 * The host's trusted CAs, as Go's crypto/x509 finds them on Linux (SSL_CERT_FILE, else the first
 * bundle of the distributions' usual places), which is what dockerd verifies registries against:
 * a CA the administrator added with update-ca-certificates is trusted, as with Docker. Node's own
 * roots (Mozilla's list, built in) stand in on a host without a bundle.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** Go's certFiles for Linux, in its order. */
const BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

interface SystemRoots {
  /** What they were read for: SSL_CERT_FILE, or '' for the usual places. */
  source: string;
  /** PEM texts. */
  roots: readonly string[];
}

let cached: SystemRoots | undefined;

/** The host's roots (read once per SSL_CERT_FILE value). */
export function systemRoots(): SystemRoots {
  const file = process.env.SSL_CERT_FILE ?? '';
  if (cached?.source === file) return cached;
  let roots: readonly string[] = rootCertificates;
  for (const path of file ? [file] : BUNDLES) {
    try {
      const pem = readFileSync(path, 'latin1');
      if (pem.includes('-----BEGIN CERTIFICATE-----')) {
        roots = [pem];
        break;
      }
    } catch {
      // Not on this distribution.
    }
  }
  cached = { source: file, roots };
  return cached;
}

import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

export interface Certificate {
  readonly certPem: string;
  readonly keyPem: string;
}

const DAY_MS = 86_400_000;

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    keyPem,
    forgePublic: forge.pki.publicKeyFromPem(publicPem),
    forgePrivate: forge.pki.privateKeyFromPem(keyPem),
  };
}

let serial = 1;

/** A test CA that signs server certificates with any validity window and names. */
export function createCertificateAuthority(): Certificate & {
  issue(options: { names: string[]; notBefore: Date; notAfter: Date }): Certificate;
} {
  const ca = keyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.forgePublic;
  caCert.serialNumber = String(serial++).padStart(2, '0');
  caCert.validity.notBefore = new Date(Date.now() - DAY_MS);
  caCert.validity.notAfter = new Date(Date.now() + 365 * DAY_MS);
  const caSubject = [{ name: 'commonName', value: 'Responder Test CA' }];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  caCert.sign(ca.forgePrivate, forge.md.sha256.create());
  return {
    certPem: forge.pki.certificateToPem(caCert),
    keyPem: ca.keyPem,
    issue({ names, notBefore, notAfter }) {
      const leaf = keyPair();
      const cert = forge.pki.createCertificate();
      cert.publicKey = leaf.forgePublic;
      cert.serialNumber = String(serial++).padStart(2, '0');
      cert.validity.notBefore = notBefore;
      cert.validity.notAfter = notAfter;
      cert.setSubject([{ name: 'commonName', value: names[0] ?? 'localhost' }]);
      cert.setIssuer(caSubject);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: names.map((name) =>
            /^\d+\.\d+\.\d+\.\d+$/.test(name) ? { type: 7, ip: name } : { type: 2, value: name },
          ),
        },
      ]);
      cert.sign(ca.forgePrivate, forge.md.sha256.create());
      return { certPem: forge.pki.certificateToPem(cert), keyPem: leaf.keyPem };
    },
  };
}

export const daysFromNow = (days: number) => new Date(Date.now() + days * DAY_MS);

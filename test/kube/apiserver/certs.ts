// A throwaway CA and a serving certificate for 127.0.0.1/localhost, made with the openssl CLI
// (node:crypto cannot issue X.509 certificates).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM-encoded CA certificate and the server's certificate and key. */
export interface ServingCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Generates a CA and a serving certificate signed by it (SANs 127.0.0.1, ::1, localhost). */
export async function makeServingCerts(): Promise<ServingCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'kube-certs-'));
  const p = (f: string): string => join(dir, f);
  try {
    await run('openssl', [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      p('ca.key'),
      '-out',
      p('ca.crt'),
      '-days',
      '3650',
      '-subj',
      '/CN=sippbx-test-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await run('openssl', [
      'req',
      ...EC,
      '-keyout',
      p('tls.key'),
      '-out',
      p('tls.csr'),
      '-subj',
      '/CN=kube-apiserver',
    ]);
    await writeFile(
      p('ext.cnf'),
      'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n',
    );
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      p('tls.csr'),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p('tls.crt'),
      '-days',
      '3650',
      '-extfile',
      p('ext.cnf'),
    ]);
    const [caPem, certPem, keyPem] = await Promise.all([
      readFile(p('ca.crt'), 'utf8'),
      readFile(p('tls.crt'), 'utf8'),
      readFile(p('tls.key'), 'utf8'),
    ]);
    return { caPem, certPem, keyPem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

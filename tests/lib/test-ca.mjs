// test-ca.mjs - certificates for the upstream TLS tests, made at test time
// with the openssl CLI (nothing secret is committed): a test CA, a server
// certificate it signs for 127.0.0.1 and localhost, the same name signed by
// another CA, one for another host name, and one that expired in 2020
// (`openssl ca -startdate/-enddate`, which OpenSSL 3.0 has; `x509 -req`
// cannot backdate there).  Every file is PEM under dir.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function openssl(cwd, args) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export function makeTestCerts(dir) {
  mkdirSync(path.join(dir, 'db'), { recursive: true });
  const f = (n) => path.join(dir, n);
  for (const ca of ['ca', 'other-ca']) {
    openssl(dir, ['req', '-x509', ...EC, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2',
      '-subj', `/CN=sendcap test ${ca}`]);
  }
  openssl(dir, ['req', ...EC, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  writeFileSync(f('other-host.ext'), 'subjectAltName=DNS:other.example\n');
  const sign = (ca, ext, out) => openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', `${ca}.pem`,
    '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', out]);
  sign('ca', 'san.ext', 'good.pem');
  sign('other-ca', 'san.ext', 'other-ca-signed.pem');
  sign('ca', 'other-host.ext', 'other-host.pem');
  writeFileSync(f('db/index'), '');
  writeFileSync(f('db/serial'), '1000\n');
  writeFileSync(f('ca.cnf'), [
    '[ca]', 'default_ca = d', '[d]', 'database = db/index', 'new_certs_dir = db', 'serial = db/serial',
    'default_md = sha256', 'policy = p', 'x509_extensions = e', 'unique_subject = no',
    '[p]', 'commonName = supplied', '[e]', 'subjectAltName = IP:127.0.0.1,DNS:localhost', '',
  ].join('\n'));
  openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', 'server.csr',
    '-out', 'expired.pem', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext']);
  return {
    ca: f('ca.pem'), otherCa: f('other-ca.pem'), key: f('server.key'),
    good: f('good.pem'), otherCaSigned: f('other-ca-signed.pem'), otherHost: f('other-host.pem'),
    expired: f('expired.pem'),
  };
}

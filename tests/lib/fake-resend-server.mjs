// fake-resend-server.mjs - run the test fake of api.resend.com on its own,
// to try sendcap without a Resend account or internet access:
//   node tests/lib/fake-resend-server.mjs PORT REAL_KEY
// It accepts REAL_KEY as the only valid API key and logs what it receives.
import { FakeResend } from './fake-resend.mjs';

const [port = '8026', key = 're_local_fake_key'] = process.argv.slice(2);
const fake = new FakeResend();
fake.validKeys.add(key);
fake.server.on('request', (req) => console.log(`${new Date().toISOString()} ${req.method} ${req.url} auth=${req.headers.authorization === `Bearer ${key}` ? 'real key' : 'WRONG'}`));
fake.server.listen(Number(port), '127.0.0.1', () => console.log(`fake Resend on http://127.0.0.1:${port}, accepting ${key.slice(0, 6)}…`));

// Attacks on the send-body policy through the real sendcapd: every refusal
// is the 4xx Resend's shape says, with a message that is valid UTF-8, and
// nothing refused reaches the fake Resend.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { World, errorShape, varied } from '../lib/harness.mjs';

const w = new World();
let k;
before(async () => {
  await w.start();
  k = w.issue(['--to-domain', 'example.com']);
});
after(async () => { await w.stop(); });

const email = (extra = {}) => varied({ from: 'Agent <agent@example.com>', to: ['a@example.com'], subject: 's', text: 't', ...extra });

async function refused(body, status, name, path = '/emails') {
  const n = w.fake.received.length;
  const res = await w.call(k.key, 'POST', path, body);
  errorShape(assert, res, status, name);
  assert.equal(w.fake.received.length, n, `nothing forwarded for ${res.json.message}`);
  return res;
}

// Issue #10 item 9: a refusal message that cut a multibyte character in two
// made jansson refuse the reply, and the agent got 503 "out of memory".
test('a refusal cutting a multibyte character stays a 422 with a valid message', async () => {
  const dup = `${'a'.repeat(39)}é`;
  let r = await refused(`{"${dup}":1,"${dup}":2}`, 422, 'validation_error');
  assert.match(r.json.message, /repeats an object key/);
  assert.ok(!r.json.message.includes('\uFFFD'), 'cut before the character, not through it');
  const unknown = `${'a'.repeat(46)}é`;
  r = await refused(`{"from":"a@example.com","to":"a@example.com","${unknown}":1}`, 422, 'validation_error');
  assert.match(r.json.message, /is not a field of a Resend send/);
  for (let n = 30; n < 60; n++) {
    r = await refused(`{"from":"a@example.com","to":"a@example.com","${'b'.repeat(n)}€":1}`, 422, 'validation_error');
    r = await refused(email({ headers: { [`${'h'.repeat(n)}`]: 'x', ['X-' + 'é'.repeat(n)]: 'y' } }), 422, 'validation_error');
  }
  const rows = await w.waitForLog(1, ['--key', k.id, '--decision', 'denied']);
  assert.ok(rows.every((row) => row.status === 422), 'the call log and the answer agree');
});

// Issue #10 item 12: In-Reply-To carries a message id, not an address, so
// threading a reply must work; every address header stays refused.
test('In-Reply-To and References reach Resend; address headers do not', async () => {
  const headers = { 'In-Reply-To': '<a1@mail.example.com>', References: '<a0@mail.example.com> <a1@mail.example.com>' };
  const res = await w.call(k.key, 'POST', '/emails', email({ headers }));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(JSON.parse(w.fake.received.at(-1).body).headers, headers);
  for (const h of ['Reply-To', 'reply-to', 'X-In-Reply-To', 'Disposition-Notification-To',
    'Return-Receipt-To', 'Errors-To', 'Mail-Followup-To', 'Mail-Reply-To', 'Resent-To', 'Resent-From', 'Sender',
    'From', 'To', 'Cc', 'Bcc', 'Return-Path', 'Delivered-To']) {
    const r = await refused(email({ headers: { [h]: 'x@evil.com' } }), 422, 'validation_error');
    assert.match(r.json.message, /names an address header/, h);
  }
});

// Issue #10 item 12: a line separator a mail library or Resend might honour
// (NEL, U+2028, U+2029, VT, FF) or any other C0/C1 control in a custom
// header value is refused; a tab and ordinary Unicode are not.
test('control and line-separator characters in header values -> 422', async () => {
  for (const c of ['\u0085', '\u2028', '\u2029', '\u000b', '\u000c', '\u0001', '\u001f', '\u007f', '\u0080', '\u009f', '\u001b']) {
    const r = await refused(email({ headers: { 'X-Entity-Ref-ID': `1${c}Bcc: x@evil.com` } }), 422, 'validation_error');
    assert.match(r.json.message, /headers\.X-Entity-Ref-ID/, JSON.stringify(c));
  }
  const res = await w.call(k.key, 'POST', '/emails', email({ headers: { 'X-Note': 'a\tb café 😀' } }));
  assert.equal(res.status, 200, res.text);
});

// Issue #10 item 5: "Splitting the email atom" (PortSwigger, 2024).  An
// encoded word in the local part passed the grammar; a decoder downstream
// reads another recipient out of it.  Punycode that decodes to an "@" or a
// dot look-alike is refused the same way, in every field.
test('encoded words and hostile punycode -> 422 in every address field, nothing forwarded', async () => {
  const tricks = [
    '=?x?q?=41=42=43collab=40evil.com=3e=00?=foo@example.com',
    '=?utf-7?q?&AEA-evil.com&AD4-?=@example.com',
    '=?utf-8?b?Zm9vQGV2aWwuY29t?=@example.com',
    'Jane <=?x?q?a=40evil.com?=@example.com>',
    'a@xn--ab-iw3n.example.com',
    'a@xn--ab-r13a.example.com',
    'a@xn--99999999999999a.example.com',
  ];
  for (const t of tricks) {
    for (const field of ['to', 'cc', 'bcc', 'reply_to', 'from']) {
      const r = await refused(email({ [field]: field === 'from' ? t : [t] }), 422, 'validation_error');
      assert.match(r.json.message, new RegExp(`^${field}`), `${field}: ${t}`);
    }
  }
  const res = await w.call(k.key, 'POST', '/emails', email({ to: ['a@xn--bcher-kva.example.com', 'a?=b@example.com'] }));
  assert.equal(res.status, 403, 'a real IDN parses (and then meets the to-domain list)');
});

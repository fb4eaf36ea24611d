// SPEC §5's refusals through the official Resend Node SDK: each new error
// reaches the agent's `error` with its name and statusCode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resend } from 'resend';
import { World } from '../lib/harness.mjs';

const w = new World();
before(async () => { await w.start(); });
after(async () => { await w.stop(); });

const email = (subject, to = ['someone@example.com']) => ({ from: 'Agent <agent@example.com>', to, subject, html: '<p>hi</p>' });

async function refused(promise, statusCode, name) {
  const { data, error } = await promise;
  assert.equal(data, null);
  assert.equal(error?.name, name, JSON.stringify(error));
  assert.equal(error?.statusCode, statusCode);
  assert.ok(error.message.length > 0);
}

test('monthly_quota_exceeded, recipient_quota_exceeded, rate_limit_exceeded, duplicate_send', async () => {
  let k = w.issue();
  w.setControls(k, { monthly_cap: 1 });
  let resend = new Resend(k.key, { baseUrl: w.proxy.url });
  assert.equal((await resend.emails.send(email('m1'))).error, null);
  await refused(resend.emails.send(email('m2')), 429, 'monthly_quota_exceeded');

  k = w.issue();
  w.setControls(k, { per_recipient_cap: 1 });
  resend = new Resend(k.key, { baseUrl: w.proxy.url });
  assert.equal((await resend.emails.send(email('r1'))).error, null);
  await refused(resend.emails.send(email('r2')), 429, 'recipient_quota_exceeded');
  assert.equal((await resend.emails.send(email('r3', ['other@example.com']))).error, null);

  k = w.issue();
  w.setControls(k, { rate_limit: 1, rate_window_ms: 3600000 });
  resend = new Resend(k.key, { baseUrl: w.proxy.url });
  assert.equal((await resend.emails.send(email('q1'))).error, null);
  await refused(resend.emails.send(email('q2')), 429, 'rate_limit_exceeded');

  k = w.issue();
  resend = new Resend(k.key, { baseUrl: w.proxy.url });
  assert.equal((await resend.emails.send(email('d'))).error, null);
  await refused(resend.emails.send(email('d')), 409, 'duplicate_send');
  await refused(resend.batch.send([email('e'), email('d')]), 409, 'duplicate_send');
});

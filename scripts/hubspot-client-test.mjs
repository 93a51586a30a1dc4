// HubSpot's official Node client (@hubspot/api-client) against the
// sandbox, for each Sequences API version. The client has no generated
// Sequences module, so the calls go through client.apiRequest, which uses
// the client's own URL building, Bearer auth, limiter and retries; paging
// follows paging.next.link through `overlapUrl`, as the client's URL
// builder does (new URL(link): a bare query string throws).
// Usage: node hubspot-client-test.mjs BASE_URL TOKEN
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(process.env.HUBSPOT_CLIENT_MODULES + '/');
const hubspot = require('@hubspot/api-client');
const [base, token] = process.argv.slice(2);
const client = new hubspot.Client({ accessToken: token, basePath: base, numberOfApiCallRetries: 2 });

const prefixes = { '2026-03': '/automation/sequences/2026-03', v4: '/automation/v4/sequences' };
const msTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/;
let calls = 0;

async function call(opts) {
  calls++;
  const res = await client.apiRequest(opts);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

function isError(r, status) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  for (const k of ['status', 'message', 'correlationId', 'category']) assert.ok(k in r.body, `error lacks ${k}`);
  assert.equal(r.body.status, 'error');
}

for (const [version, prefix] of Object.entries(prefixes)) {
  const contact = version === 'v4' ? '5104' : '5203';
  // List, following paging.next.link to the end.
  let r = await call({ method: 'GET', path: prefix, qs: { userId: '101', limit: 2 } });
  assert.equal(r.status, 200);
  const total = r.body.total;
  const ids = r.body.results.map((s) => s.id);
  for (const h of ['x-hubspot-ratelimit-secondly', 'x-hubspot-ratelimit-secondly-remaining', 'x-hubspot-ratelimit-remaining']) {
    assert.match(r.headers.get(h) ?? '', /^\d+$/, `${version}: header ${h}`);
  }
  while (r.body.paging?.next) {
    r = await call({ method: 'GET', overlapUrl: r.body.paging.next.link });
    assert.equal(r.status, 200);
    ids.push(...r.body.results.map((s) => s.id));
  }
  assert.equal(ids.length, total, `${version}: paging saw ${ids.length} of ${total}`);
  for (const s of r.body.results) assert.match(s.createdAt, msTime);

  r = await call({ method: 'GET', path: `${prefix}/9001`, qs: { userId: '101' } });
  assert.equal(r.status, 200);
  assert.equal(r.body.id, '9001');
  assert.ok(Array.isArray(r.body.steps) && r.body.steps.length > 0);

  isError(await call({ method: 'GET', path: `${prefix}/1`, qs: { userId: '101' } }), 404);
  isError(await call({ method: 'GET', path: `${prefix}/enrollments/contact/${contact}` }), 404);

  const enroll = { contactId: contact, sequenceId: '9001', senderEmail: 'ana@example.com' };
  r = await call({ method: 'POST', path: `${prefix}/enrollments`, qs: { userId: '101' }, body: enroll });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.enrolledAt, msTime);
  assert.equal(r.body.toEmail, `contact-${contact}@example.net`);

  r = await call({ method: 'GET', path: `${prefix}/enrollments/contact/${contact}` });
  assert.equal(r.status, 200);
  assert.equal(r.body.sequenceId, '9001');
  assert.equal(r.body.enrolledBy, '101');

  r = await call({ method: 'POST', path: `${prefix}/enrollments`, qs: { userId: '101' }, body: enroll });
  isError(r, 400);
  assert.match(r.body.message, /already enrolled in a sequence/);

  // Ids as JSON numbers: HubSpot's error document with a message to act on.
  r = await call({ method: 'POST', path: `${prefix}/enrollments`, qs: { userId: '101' },
    body: { contactId: Number(contact) + 1, sequenceId: 9001, senderEmail: 'ana@example.com' } });
  isError(r, 400);
  assert.match(r.body.message, /contactId must be a string/);
  assert.doesNotMatch(r.body.message, /Go value|EnrollRequest/);

  console.log(`${version}: list (${total} sequences over ${Math.ceil(total / 2)} pages), get, enroll, status, errors: ok`);
}

// A wrong token: 401 in HubSpot's shape, whatever the version.
const stranger = new hubspot.Client({ accessToken: 'not-the-token', basePath: base, numberOfApiCallRetries: 0 });
const res = await stranger.apiRequest({ method: 'GET', path: prefixes['2026-03'], qs: { userId: '101' } });
assert.equal(res.status, 401);
console.log(`@hubspot/api-client ${require('@hubspot/api-client/package.json').version}: ${calls + 1} calls, all as expected`);

// The REST client against a scripted fetch: bearer header, refresh via the cookie endpoint on
// 401 (once), JSON error messages surfaced, Retry-After on 429, logout when the session is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../static/api.js';

const calls = [];
let script = [];
globalThis.fetch = async (path, init) => {
  calls.push({ path, init, body: init.body ? JSON.parse(init.body) : undefined });
  const next = script.shift();
  if (!next) throw new Error(`unexpected fetch ${path}`);
  const { status = 200, body = {}, headers = {} } = typeof next === 'function' ? next(path, init) : next;
  return new Response(body === null ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
};
const token = (exp) => `v1.${Buffer.from(JSON.stringify({ sub: 'u', rid: 'r', iat: 0, exp })).toString('base64url')}.sig`;
const later = () => Math.floor(Date.now() / 1000) + 1800;

test('login (browser client), bearer requests, one refresh on 401, errors with messages', async () => {
  calls.length = 0;
  script = [{ body: { access_token: token(later()), token_type: 'Bearer', expires_in: 1800 } }];
  await api.login('ana', 'pw');
  assert.deepEqual(calls[0].body, { username: 'ana', password: 'pw', client: 'browser' });
  assert.equal(calls[0].init.headers['Content-Type'], 'application/json');
  assert.equal(calls[0].init.credentials, 'same-origin');

  script = [{ body: { name: 'Casa' } }];
  assert.deepEqual(await api.get('/api/'), { name: 'Casa' });
  assert.match(calls[1].init.headers.Authorization, /^Bearer v1\./);

  const fresh = token(later() + 5);
  script = [
    { status: 401, body: { error: { code: 'unauthorized', message: 'token expired' } } },
    { body: { access_token: fresh } },
    { body: { ok: true } },
  ];
  assert.deepEqual(await api.get('/api/me'), { ok: true });
  assert.equal(calls[3].path, '/auth/token');
  assert.deepEqual(calls[3].body, { grant_type: 'refresh_token' });
  assert.equal(calls[3].init.credentials, 'same-origin');
  assert.equal(calls[4].init.headers.Authorization, `Bearer ${fresh}`);

  script = [{ status: 404, body: { error: { code: 'not_found', message: 'entity sensor.x not found' } } }];
  await assert.rejects(api.get('/api/states/sensor.x'), (err) => err.status === 404 && err.code === 'not_found' && err.message === 'entity sensor.x not found');

  script = [{ status: 400, body: { error: { code: 'bad_request', message: 'name is required', field: 'name' } } }];
  await assert.rejects(api.post('/api/users', {}), (err) => err.field === 'name');
});

test('a 401 whose refresh fails logs out and reports it', async () => {
  let loggedOut = null;
  const off = api.onAuth('logout', (ev) => { loggedOut = ev.detail.reason; });
  script = [
    { status: 401, body: { error: { code: 'unauthorized', message: 'revoked' } } },
    { status: 401, body: { error: { code: 'unauthorized', message: 'no session' } } },
  ];
  await assert.rejects(api.get('/api/me'), (err) => err.status === 401);
  assert.equal(loggedOut, 'expired');
  assert.equal(api.isLoggedIn(), false);
  off();
});

test('429 carries Retry-After seconds', async () => {
  script = [{ status: 429, body: { error: { code: 'too_many_requests', message: 'locked' } }, headers: { 'Retry-After': '300' } }];
  await assert.rejects(api.login('ana', 'bad'), (err) => err.status === 429 && err.retryAfter === 300 && err.message === 'locked');
});

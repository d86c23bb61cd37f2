// The websocket client against a scripted fake socket: handshake, snapshot, live states,
// reconnect with resubscribe, one retry with a fresh token on auth_invalid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubSocket } from '../static/ws.js';

const sockets = [];
class FakeSocket {
  constructor(url) { this.url = url; this.sent = []; sockets.push(this); queueMicrotask(() => this.recv({ type: 'auth_required', version: '0.1.0' })); }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { queueMicrotask(() => this.onclose && this.onclose({})); }
  recv(msg) { this.onmessage({ data: JSON.stringify(msg) }); }
}
globalThis.WebSocket = FakeSocket;
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

test('auth, snapshot, live state, reconnect and resubscribe', async () => {
  sockets.length = 0;
  const statuses = [];
  const tokens = [];
  const hub = new HubSocket({ url: 'ws://hub/api/websocket', getToken: async ({ force } = {}) => { tokens.push(force); return 'v1.tok'; } });
  hub.onStatus((s) => statuses.push(s));
  const snapshots = [];
  const changes = [];
  hub.subscribeStates((list) => snapshots.push(list.map((s) => s.entity_id)), (id, st) => changes.push([id, st && st.state]));
  hub.start();
  await tick();
  const ws = sockets[0];
  assert.deepEqual(ws.sent[0], { type: 'auth', access_token: 'v1.tok' });
  ws.recv({ type: 'auth_ok', user: { id: 'u', name: 'A', role: 'admin' } });
  const sub = ws.sent[1];
  assert.equal(sub.type, 'subscribe_states');
  assert.equal('entity_ids' in sub, false);
  ws.recv({ id: sub.id, type: 'result', success: true, result: { states: [{ entity_id: 'sensor.a', state: '1' }] } });
  await tick();
  ws.recv({ id: sub.id, type: 'state', entity_id: 'sensor.a', state: { entity_id: 'sensor.a', state: '2' } });
  ws.recv({ id: sub.id, type: 'state', entity_id: 'sensor.a', state: null });
  assert.deepEqual(snapshots, [['sensor.a']]);
  assert.deepEqual(changes, [['sensor.a', '2'], ['sensor.a', null]]);

  ws.close(); // the hub went away
  await tick(1400); // first backoff is 0.75-1 s
  assert.ok(statuses.includes('disconnected'));
  const ws2 = sockets[1];
  assert.ok(ws2, 'reconnected');
  ws2.recv({ type: 'auth_ok', user: {} });
  const sub2 = ws2.sent.find((m) => m.type === 'subscribe_states');
  assert.ok(sub2, 'resubscribed after reconnect');
  ws2.recv({ id: sub2.id, type: 'result', success: true, result: { states: [] } });
  await tick();
  assert.deepEqual(snapshots, [['sensor.a'], []]);
  assert.equal(statuses[statuses.length - 1], 'connected');
  hub.stop();
  assert.equal(hub.status, 'idle');
});

test('auth_invalid: one retry with a forced token refresh, then auth_failed', async () => {
  sockets.length = 0;
  const forced = [];
  const seen = [];
  const hub = new HubSocket({ url: 'ws://hub/api/websocket', getToken: async ({ force } = {}) => { forced.push(Boolean(force)); return 'v1.tok'; } });
  hub.onStatus((s) => seen.push(s));
  hub.start();
  await tick();
  sockets[0].recv({ type: 'auth_invalid', message: 'expired' });
  await tick(10);
  assert.equal(sockets.length, 2);
  await tick();
  sockets[1].recv({ type: 'auth_invalid', message: 'expired' });
  await tick(10);
  assert.ok(forced.includes(true), 'a fresh token was asked for');
  assert.equal(seen[seen.length - 1], 'auth_failed');
  assert.equal(hub.running, false);
});

// Pure logic behind the cards, charts, API client and websocket client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cardKind, tankInfo, layoutOverview, onOverview, binaryWording, normalizeHealth, mergeEvents, normalizeHistory, normalizeTokens } from '../static/model.js';
import { niceTicks, timelineSegments, timeTicks, zoneOffset } from '../static/components/chart.js';
import { parseRetryAfter, tokenExpiry } from '../static/api.js';
import { backoffDelay } from '../static/ws.js';
import { decimalsOf } from '../static/i18n.js';

const st = (entity_id, state, attributes = {}) => ({ entity_id, state, attributes, last_changed: 0, last_updated: 0 });
const tank = (commodity, level, extra = {}) => st(`sensor.${commodity}`, String(level), {
  unit_of_measurement: '%', friendly_name: commodity,
  tank: { commodity, volume_l: 100, capacity_l: 1000, days_until_empty: 12, ...extra },
});

test('card kinds follow domain, device_class and the tank attribute', () => {
  assert.equal(cardKind(tank('water', 50)), 'tank');
  assert.equal(cardKind(st('sensor.x', '5', { unit_of_measurement: 'L', tank: { commodity: 'water' } })), 'generic', 'a tank needs unit %');
  assert.equal(cardKind(st('sensor.x', '5', { unit_of_measurement: '%', tank: { commodity: 'diesel' } })), 'generic');
  assert.equal(cardKind(st('sensor.t', '21', { device_class: 'temperature' })), 'climate');
  assert.equal(cardKind(st('sensor.h', '40', { device_class: 'humidity' })), 'climate');
  assert.equal(cardKind(st('binary_sensor.d', 'on', { device_class: 'door' })), 'binary');
  assert.equal(cardKind(st('alarm_control_panel.home', 'disarmed')), 'alarm');
  assert.equal(cardKind(st('camera.gate', 'idle')), 'camera');
  assert.equal(cardKind(st('sensor.power', '120', { unit_of_measurement: 'W' })), 'generic');
});

test('tank severity is judged inside the usable band; LP defaults to 5-85 %', () => {
  const gas = tankInfo(tank('lp_gas', 12));
  assert.deepEqual([gas.usableMin, gas.usableMax, gas.showBand, gas.severity], [5, 85, true, 'danger']);
  assert.equal(tankInfo(tank('lp_gas', 30)).severity, 'warning');
  assert.equal(tankInfo(tank('water', 72)).severity, 'ok');
  assert.equal(tankInfo(tank('water', 72)).showBand, false);
  assert.equal(tankInfo(tank('water', 72, { days_until_empty: 1.5 })).severity, 'danger');
  assert.equal(tankInfo(tank('water', 72, { days_until_empty: null })).daysUntilEmpty, null);
  assert.equal(tankInfo(tank('water', 50, { usable_min_pct: 10, usable_max_pct: 90 })).showBand, true);
});

test('binary wording by device class', () => {
  assert.deepEqual(binaryWording(st('binary_sensor.d', 'on', { device_class: 'door' })), { key: 'binary.open', alert: false });
  assert.deepEqual(binaryWording(st('binary_sensor.g', 'on', { device_class: 'gas' })), { key: 'binary.gas', alert: true });
  assert.deepEqual(binaryWording(st('binary_sensor.l', 'off', { device_class: 'moisture' })), { key: 'binary.dry', alert: false });
  assert.deepEqual(binaryWording(st('binary_sensor.x', 'on', {})), { key: 'binary.on', alert: false });
});

test('overview groups by entity area, else device area, else Other (last); climate by device', () => {
  const states = [
    tank('water', 70),
    st('sensor.living_temperature', '23.1', { device_class: 'temperature', friendly_name: 'Living Temperature' }),
    st('sensor.living_humidity', '45', { device_class: 'humidity', friendly_name: 'Living Humidity' }),
    st('sensor.roof_temperature', '30', { device_class: 'temperature', friendly_name: 'Roof' }),
    st('sensor.orphan', '1'),
  ];
  const entities = [
    { entity_id: 'sensor.water', device_id: 'd1', area: null },
    { entity_id: 'sensor.living_humidity', device_id: 'd2', area: null },
    { entity_id: 'sensor.living_temperature', device_id: 'd2', area: null },
    { entity_id: 'sensor.roof_temperature', device_id: 'd3', area: 'Azotea' },
  ];
  const devices = [{ id: 'd1', area: 'Patio' }, { id: 'd2', area: 'Sala', name: 'Living room sensor' }, { id: 'd3', area: 'Patio' }];
  const groups = layoutOverview(states, entities, devices);
  assert.deepEqual(groups.map((g) => g.area), ['Azotea', 'Patio', 'Sala', null]);
  const sala = groups.find((g) => g.area === 'Sala').cards;
  assert.equal(sala.length, 1);
  assert.deepEqual(sala[0].entityIds, ['sensor.living_temperature', 'sensor.living_humidity']);
  assert.equal(sala[0].name, 'Living room sensor');
  assert.equal(groups[0].cards[0].key, 'climate-d3');
  assert.equal(groups[0].cards[0].entityIds.length, 1);
});

test('diagnostic entities stay off the overview unless they report an overload', () => {
  const states = [
    st('sensor.cistern_level', '71', { unit_of_measurement: '%' }),
    st('sensor.cistern_errors', '0', { entity_category: 'diagnostic' }),
    st('sensor.bus_load', '3', { entity_category: 'diagnostic', overloaded: false }),
    st('sensor.bus_load_2', '149', { entity_category: 'diagnostic', overloaded: true }),
  ];
  assert.deepEqual(states.map(onOverview), [true, false, false, true]);
  const keys = layoutOverview(states).flatMap((g) => g.cards.map((c) => c.key));
  assert.deepEqual(keys.sort(), ['sensor.bus_load_2', 'sensor.cistern_level']);
});

test('tolerant readers for health, events, history and tokens', () => {
  const hl = normalizeHealth({ uptime_s: 90, database_size_bytes: 2048, outbox: { pending: 3 }, integrations_failed: [{ domain: 'modbus_tank', error: 'port busy' }] });
  assert.deepEqual([hl.uptime, hl.dbSize, hl.outboxPending, hl.failed], [90, 2048, 3, [{ domain: 'modbus_tank', error: 'port busy' }]]);
  assert.deepEqual(normalizeHealth({ integrations_failed: { ble: 'no adapter' } }).failed, [{ domain: 'ble', error: 'no adapter' }]);
  // As hub/http reports it: outbox stats per channel.
  const built = normalizeHealth({ uptime: 12.5, database_size: 4096, outbox: { alarms: { pending: 2, delivered: 9 }, orders: { pending: 1 } }, integrations_failed: [] });
  assert.deepEqual([built.uptime, built.dbSize, built.outboxPending, built.failed], [12.5, 4096, 3, []]);
  assert.equal(normalizeHealth({ outbox: {} }).outboxPending, 0);
  assert.equal(normalizeHealth({}).outboxPending, null);
  const evs = mergeEvents([[{ time_fired: 1 }, { time_fired: 5 }], { events: [{ time_fired: 3 }] }], 2);
  assert.deepEqual(evs.map((e) => e.time_fired), [5, 3]);
  assert.equal(normalizeHistory([{ start: 0, min: 1, mean: 2, max: 3 }]).kind, 'stats');
  assert.equal(normalizeHistory({ states: [{ state: 'on', last_changed: 0 }] }).kind, 'raw');
  assert.deepEqual(normalizeTokens([{ id: 'a', kind: 'long_lived' }, { id: 'b', kind: 'session' }]).sessions.map((x) => x.id), ['b']);
  assert.deepEqual(normalizeTokens({ tokens: [{ id: 'a' }], sessions: [] }).tokens.map((x) => x.id), ['a']);
});

test('timeline merges equal neighbours and clips to the range', () => {
  const segs = timelineSegments([
    { state: 'off', last_changed: 0 }, { state: 'on', last_changed: 10 }, { state: 'on', last_changed: 20 }, { state: 'off', last_changed: 30 },
  ], 5000, 40000);
  assert.deepEqual(segs.map((x) => [x.state, x.from, x.to]), [['off', 5000, 10000], ['on', 10000, 30000], ['off', 30000, 40000]]);
});

test('axis ticks are round numbers and round wall-clock times', () => {
  assert.deepEqual(niceTicks(0.3, 9.6, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(5, 5, 4), [4, 4.5, 5, 5.5, 6]);
  const start = Date.UTC(2024, 0, 1, 0, 7); // Mexico City is UTC-6 all year since 2022
  const { ticks, step } = timeTicks(start, start + 24 * 3600e3, 'America/Mexico_City');
  assert.equal(step, 6 * 3600e3);
  assert.equal(new Date(ticks[0] + zoneOffset(ticks[0], 'America/Mexico_City')).getUTCHours() % 6, 0);
});

test('Retry-After, token expiry, reconnect backoff, decimals', () => {
  assert.equal(parseRetryAfter('120'), 120);
  assert.equal(parseRetryAfter(new Date(Date.now() + 30000).toUTCString()) >= 29, true);
  assert.equal(parseRetryAfter(null), null);
  const payload = Buffer.from(JSON.stringify({ sub: 'u', rid: 'r', iat: 1, exp: 1700000000 })).toString('base64url');
  assert.equal(tokenExpiry(`v1.${payload}.sig`), 1700000000 * 1000);
  assert.equal(tokenExpiry('garbage'), null);
  assert.ok(backoffDelay(0, () => 1) === 1000 && backoffDelay(3, () => 1) === 8000);
  for (let i = 0; i < 20; i += 1) assert.ok(backoffDelay(i) <= 30000);
  assert.equal(decimalsOf('21.50'), 2);
  assert.equal(decimalsOf('3'), 0);
});

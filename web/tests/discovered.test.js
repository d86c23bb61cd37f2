// The Discovered page's pure parts against the literal shapes of GET /api/discovered and the
// pairing errors of hub/http/views_pairing.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATIC } from './helpers.js';
import { installDictionary, setLanguage } from '../static/i18n.js';
import { ApiError } from '../static/api.js';
import {
  readAsk, readDiscovered, readDiscoveredList, kindIcon, kindLabel, addressText, seenText, firstSeenText, presence,
  htmlPattern, formFields, pairBody, pairError, pairedLink, pairedTitle, revealItems, cannotPair, detailFacts, networkNotes,
  POLL_MS,
} from '../static/discovered-model.js';

for (const lang of ['en', 'es-MX']) installDictionary(lang, JSON.parse(readFileSync(join(STATIC, 'i18n', `${lang}.json`), 'utf8')));

// What the hub answers for a camera announced over mDNS (views_pairing.py, Discovered.as_api).
const CAMERA = {
  id: 'd1', domain: 'rtsp_camera', unique_id: 'serial:porch-1', title: 'Porch', kind: 'camera', source: 'zeroconf',
  host: '192.168.1.20', port: 8554, address: null, first_seen: 1768478400, last_seen: 1768478520, ignored: false,
  present: true, asks: [{ key: 'username', label: 'User name', secret: false, default: null },
    { key: 'password', label: 'Password', secret: true, default: null }],
  details: { url: 'rtsp://192.168.1.20:8554/test' },
};
const NOW_MS = (1768478520 + 120) * 1000;

test('a row is read with every field, the numbers as epoch seconds', async () => {
  await setLanguage('en', { remember: false });
  const row = readDiscovered(CAMERA);
  assert.equal(row.id, 'd1');
  assert.equal(row.title, 'Porch');
  assert.equal(row.kind, 'camera');
  assert.equal(row.port, 8554);
  assert.equal(row.lastSeen, 1768478520);
  assert.equal(row.present, true);
  assert.deepEqual(row.asks.map((a) => [a.key, a.secret, a.default]), [['username', false, null], ['password', true, null]]);
  assert.equal(row.details.url, 'rtsp://192.168.1.20:8554/test');
});

test('rows are read tolerantly: junk dropped, missing fields defaulted, newest sighting first', () => {
  const rows = readDiscoveredList({ discovered: [
    { ...CAMERA, id: 'old', last_seen: 100 },
    null, 'x', { title: 'no id' }, { id: '' },
    { id: 'ble', kind: 'climate', address: 'AA:BB:CC:DD:EE:FF', last_seen: 200, asks: [{ label: 'no key' }, { key: 'pin', secret: true }] },
    { id: 7 },
  ] });
  assert.deepEqual(rows.map((r) => r.id), ['ble', 'old', '7']);
  const [ble, , bare] = rows;
  assert.equal(ble.title, 'AA:BB:CC:DD:EE:FF');
  assert.deepEqual(ble.asks, [{ key: 'pin', label: 'pin', secret: true, pattern: null, default: null }]);
  assert.equal(bare.title, '7');
  assert.equal(bare.kind, 'device');
  assert.equal(bare.lastSeen, null);
  assert.equal(bare.present, true, 'a hub that does not say present lists only what it sees');
  assert.deepEqual(bare.asks, []);
  assert.deepEqual(readDiscoveredList(null), []);
  assert.deepEqual(readDiscoveredList({ error: 'x' }), []);
  assert.equal(readAsk({ key: '' }), null);
  assert.equal(readDiscovered({ id: 'x', port: 70000 }).port, null);
});

test('kind -> icon and label in both languages; an unknown kind as named', async () => {
  assert.equal(kindIcon('camera'), 'camera');
  assert.equal(kindIcon('climate'), 'thermometer');
  assert.equal(kindIcon('toaster'), 'gauge');
  assert.equal(kindIcon('climate_sensor'), 'thermometer', 'ble_climate\'s sensors');
  assert.equal(kindIcon('tank_sensor'), 'drop');
  assert.equal(kindIcon('ble_proxy'), 'gauge');
  await setLanguage('en', { remember: false });
  assert.equal(kindLabel('camera'), 'Camera');
  assert.equal(kindLabel('toaster'), 'toaster');
  await setLanguage('es-MX', { remember: false });
  assert.equal(kindLabel('camera'), 'Cámara');
  await setLanguage('en', { remember: false });
});

test('address: host:port, IPv6 in brackets, a Bluetooth address, or nothing', () => {
  assert.equal(addressText(readDiscovered(CAMERA)), '192.168.1.20:8554');
  assert.equal(addressText(readDiscovered({ id: 'a', host: 'fd00::5', port: 554 })), '[fd00::5]:554');
  assert.equal(addressText(readDiscovered({ id: 'a', host: '10.0.0.4' })), '10.0.0.4');
  assert.equal(addressText(readDiscovered({ id: 'a', address: 'AA:BB' })), 'AA:BB');
  assert.equal(addressText(readDiscovered({ id: 'a' })), null);
});

test('seen "2 minutes ago", first seen, present or gone', async () => {
  await setLanguage('en', { remember: false });
  const row = readDiscovered(CAMERA);
  assert.equal(seenText(row, NOW_MS), 'Seen 2 minutes ago');
  assert.equal(firstSeenText(row, NOW_MS), 'First seen 4 minutes ago');
  assert.equal(seenText(readDiscovered({ id: 'x' }), NOW_MS), 'Not seen yet');
  assert.deepEqual(presence(row), { text: 'On the network', kind: 'ok' });
  assert.deepEqual(presence(readDiscovered({ ...CAMERA, present: false })), { text: 'Not on the network', kind: 'muted' });
  await setLanguage('es-MX', { remember: false });
  assert.equal(seenText(row, NOW_MS), 'Visto hace 2 minutos');
  await setLanguage('en', { remember: false });
});

test('the form has exactly the asked fields: secret -> password, pattern, default -> optional and prefilled', () => {
  const asks = readDiscovered({ id: 'x', asks: [
    { key: 'username', label: 'User name', secret: false },
    { key: 'password', label: 'Password', secret: true },
    { key: 'pin', label: 'PIN', secret: true, pattern: '[0-9]{6}' },
    { key: 'stream_path', label: 'Stream path', secret: false, default: '/' },
  ] }).asks;
  const fields = formFields(asks);
  assert.deepEqual(fields.map((f) => [f.name, f.type, f.required, f.value, f.pattern]), [
    ['username', 'text', true, '', null],
    ['password', 'password', true, '', null],
    ['pin', 'password', true, '', '[0-9]{6}'],
    ['stream_path', 'text', false, '/', null],
  ]);
  assert.equal(fields[1].autocomplete, 'new-password', 'the browser must not offer the user\'s own password');
  assert.deepEqual(formFields([]), []);
});

test('a Python-only pattern is left to the server rather than blocking the form', () => {
  assert.equal(htmlPattern('[0-9]{4,8}'), '[0-9]{4,8}');
  assert.equal(htmlPattern('(?P<pin>[0-9]+)'), null);
  assert.equal(htmlPattern(null), null);
});

test('the pair body: every answer given; an empty optional answer is left out for its default', () => {
  const fields = formFields(readDiscovered({ id: 'x', asks: [
    { key: 'username', label: 'u' }, { key: 'password', label: 'p', secret: true }, { key: 'stream_path', label: 's', default: '/' },
  ] }).asks);
  assert.deepEqual(pairBody(fields, { username: 'admin', password: 'secret', stream_path: '' }), { answers: { username: 'admin', password: 'secret' } });
  assert.deepEqual(pairBody(fields, { username: 'admin', password: '', stream_path: '/live' }),
    { answers: { username: 'admin', password: '', stream_path: '/live' } });
  assert.deepEqual(pairBody([], {}), { answers: {} });
});

test('a refused pairing goes to the field the server names; unreachable and the rest go on the form', async () => {
  await setLanguage('en', { remember: false });
  const fields = formFields(readDiscovered(CAMERA).asks);
  const refused = new ApiError(400, 'bad_request', 'the camera refused user admin (Digest)', { field: 'password' });
  assert.deepEqual(pairError(refused, fields), { field: 'password', message: 'the camera refused user admin (Digest)' });
  const down = new ApiError(502, 'unreachable', 'could not reach 192.168.1.20:8554');
  assert.deepEqual(pairError(down, fields), { field: null, message: 'The device did not answer: could not reach 192.168.1.20:8554' });
  const elsewhere = new ApiError(400, 'bad_request', 'answers: unknown key', { field: 'answers' });
  assert.deepEqual(pairError(elsewhere, fields), { field: null, message: 'answers: unknown key' });
  assert.deepEqual(pairError(new ApiError(503, 'unavailable', ''), fields), { field: null, message: 'The hub could not complete the request.' });
  assert.equal(pairError(undefined, fields).field, null);
});

test('after pairing: the server\'s title and where the device now lives', () => {
  const row = readDiscovered(CAMERA);
  assert.equal(pairedTitle({ entry_id: 'e1', title: 'Porch cam' }, row), 'Porch cam');
  assert.equal(pairedTitle({}, row), 'Porch');
  assert.equal(pairedLink(row), '#/cameras');
  assert.equal(pairedLink(readDiscovered({ id: 'x', kind: 'climate' })), '#/devices');
  assert.equal(POLL_MS, 10000);
});

// What the hub answers for a BLE sensor heard but not configured, and for a BLE proxy found over
// mDNS (integrations/ble_climate/pairing.py), and the 201 answer pairing the proxy.
const SENSOR = {
  id: 'b1', domain: 'ble_climate', unique_id: 'A4:C1:38:00:00:03', title: 'BTHome sensor 000003', kind: 'climate_sensor',
  source: 'bluetooth', host: null, port: null, address: 'A4:C1:38:00:00:03', first_seen: 1768478400,
  last_seen: 1768478400, ignored: false, present: true,
  asks: [{ key: 'bindkey', label: 'Bindkey (32 hex digits)', secret: true, default: null }],
  details: { model: 'BTHome sensor', kind: 'bthome', encrypted: true, rssi: -60 },
};
const PROXY_PAIRED = { entry_id: 'e2', title: 'BLE proxy attic-proxy', state: 'loaded', reveal: { 'Proxy token': 'Zq3-long-random-token_value' } };

test('a BLE sensor: its address, a secret bindkey field, and the devices page after pairing', () => {
  const row = readDiscovered(SENSOR);
  assert.equal(addressText(row), 'A4:C1:38:00:00:03');
  assert.deepEqual(formFields(row.asks).map((f) => [f.name, f.type, f.required]), [['bindkey', 'password', true]]);
  assert.equal(pairedLink(row), '#/devices');
  assert.deepEqual(revealItems({ entry_id: 'e1', title: 'BTHome sensor 000003', reveal: {} }), [], 'a sensor reveals nothing');
});

test('the proxy token in the pairing answer is shown once; junk and empty reveals show nothing', () => {
  assert.deepEqual(revealItems(PROXY_PAIRED), [{ label: 'Proxy token', value: 'Zq3-long-random-token_value' }]);
  assert.deepEqual(revealItems({ reveal: { 'Proxy token': 'a', 'Hub port': '7700' } }).map((i) => i.label), ['Proxy token', 'Hub port']);
  assert.deepEqual(revealItems({ entry_id: 'e1', title: 'Porch' }), [], 'an older hub says nothing');
  assert.deepEqual(revealItems({ reveal: { 'Proxy token': '', '': 'x', n: 5, o: null } }), []);
  assert.deepEqual(revealItems({ reveal: ['Proxy token'] }), []);
  assert.deepEqual(revealItems({ reveal: 'token' }), []);
  assert.deepEqual(revealItems(undefined), []);
  assert.deepEqual(revealItems(null), []);
});

test('a listed-only device says why and shows what it is; details in a fixed order, junk dropped', async () => {
  await setLanguage('en', { remember: false });
  // An ESPHome device as hub/pairing lists it (integrations/esphome/pairing.py).
  const esp = readDiscovered({
    id: 'e1', domain: 'esphome', unique_id: 'mac:a4cf12b3c4d5', title: 'Garage door', kind: 'esphome', source: 'zeroconf',
    host: '10.0.0.7', port: 6053, first_seen: 1, last_seen: 2, ignored: false, present: true, asks: [],
    details: { esphome_version: '2024.6.1', board: 'esp32dev', encrypted_api: true, mac: 'a4cf12b3c4d5',
               cannot_pair: 'Maderas Hub lists ESPHome devices but cannot run them yet' },
  });
  assert.equal(cannotPair(esp), 'Maderas Hub lists ESPHome devices but cannot run them yet');
  assert.deepEqual(detailFacts(esp), [['esphome_version', '2024.6.1'], ['board', 'esp32dev']]);
  assert.equal(kindLabel(esp.kind), 'ESPHome device');
  const tank = readDiscovered({ id: 't1', kind: 'tank_sensor', details: { serial: 'MT0A1B2C', firmware: '1.1', model: 7,
                                                                          cannot_pair: '  ' } });
  assert.equal(cannotPair(tank), null);
  assert.deepEqual(detailFacts(tank), [['model', '7'], ['firmware', '1.1'], ['serial', 'MT0A1B2C']]);
  assert.deepEqual(detailFacts(readDiscovered({ id: 'x', details: { model: { nested: 1 }, serial: ['a'] } })), []);
  // A BLE sensor says how well it is heard: a neighbour's, through the wall, is weak.
  assert.deepEqual(detailFacts(readDiscovered({ id: 'b', details: { model: 'ATC', rssi: -91 } })), [['model', 'ATC'], ['rssi', '-91']]);
  await setLanguage('es-MX', { remember: false });
  assert.equal(kindLabel('tank_sensor'), 'Sensor de tanque');
  await setLanguage('en', { remember: false });
});

test('the network note says where the hub looks, or why it does not', async () => {
  await setLanguage('en', { remember: false });
  const now = Date.UTC(2026, 0, 15, 12, 0, 0);
  // GET /api/network of a running hub (hub/http/views_core.py get_network).
  const running = networkNotes({
    mdns: { state: 'running', reason: null, interfaces: ['192.168.1.20', '10.0.0.2'], name: 'Casa' },
    wsdiscovery: { state: 'running', reason: null, last_probe: now / 1000 - 120, found: 1, every: 300 },
  }, now);
  assert.deepEqual(running.map((n) => n.kind), ['ok', 'ok']);
  assert.match(running[0].text, /192\.168\.1\.20, 10\.0\.0\.2/);
  assert.match(running[1].text, /ONVIF cameras last asked 2 minutes ago/);
  // Under MADERAS_MDNS=off, or `network: {mdns: false}`.
  const off = networkNotes({
    mdns: { state: 'off', reason: 'mDNS is turned off', interfaces: [], name: null },
    wsdiscovery: { state: 'off', reason: 'multicast discovery is turned off', last_probe: null, found: 0, every: null },
  }, now);
  assert.deepEqual(off, [{ kind: 'warn', text: 'Not looking for devices on the network: mDNS is turned off.' }]);
  const noIf = networkNotes({
    mdns: { state: 'no_interface', reason: 'no network interface for mDNS: none of eth9 is here', interfaces: [] },
    wsdiscovery: { state: 'no_interface', reason: 'none of eth9 is an interface', last_probe: null, found: 0 },
  }, now);
  assert.deepEqual(noIf.map((n) => n.kind), ['warn', 'warn']);
  assert.match(noIf[0].text, /none of eth9 is here/);
  assert.equal(networkNotes({ wsdiscovery: { state: 'running', last_probe: null } }, now)[0].text,
    'ONVIF cameras are asked every 5 minutes.');
  assert.deepEqual(networkNotes(null), []);
  assert.deepEqual(networkNotes({ mdns: 'x', wsdiscovery: [] }), []);
});

// Pure logic of the alarm page, the alarm card and the link banner against literal alarm records
// and entity states in the shapes of docs/alarms.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATIC } from './helpers.js';
import { installDictionary, translate } from '../static/i18n.js';
import {
  readAlarm, readAlarms, mergeAlarm, upsertAlarms, splitAlarms, canAcknowledge, personName, categoryIcon, statusKind, zoneText,
  snapshotSource, epoch, countdown, formatClock, activeAlarmCount, needsCode, panicBody, alarmPanels, linkTrouble,
  pinProblem, setCodeBody, needsPolling, isNotConfigured, ALARM_EVENTS, CATEGORIES, LINK_ENTITY,
} from '../static/alarms-model.js';

const dicts = Object.fromEntries(['en', 'es-MX'].map((l) => [l, JSON.parse(readFileSync(join(STATIC, 'i18n', `${l}.json`), 'utf8'))]));
for (const [l, d] of Object.entries(dicts)) installDictionary(l, d);

/** An alarm record exactly as alarm_panel fires and serves it. */
const alarm = (extra = {}) => ({
  id: '01a2', category: 'gas', kind: 'alarm', zone: { id: 'kitchen_gas', number: 10, name: 'Cocina gas' },
  entity_id: 'binary_sensor.kitchen_gas', time: 1768478400.5, context_id: '01c3', snapshot: null, status: 'active',
  message: 'Gas detectado: Cocina gas', mode: 'armed_away', user: null, acknowledged_by: null, restored_at: null, ...extra,
});

const panel = (state, attributes = {}) => ({
  entity_id: 'alarm_control_panel.casa', state,
  attributes: { friendly_name: 'Casa', code_arm_required: true, code_format: 'number', changed_by: null, active_alarms: 0, arming_until: null, pending_until: null, ...attributes },
});

test('readAlarms takes {"alarms": [...]} newest first and fills every field', () => {
  const list = readAlarms({ alarms: [alarm({ id: 'old', time: 100 }), alarm({ id: 'new', time: 200 }), null, { no: 'id' }] });
  assert.deepEqual(list.map((a) => a.id), ['new', 'old']);
  const a = list[0];
  assert.equal(a.category, 'gas');
  assert.equal(a.kind, 'alarm');
  assert.deepEqual(a.zone, { id: 'kitchen_gas', number: 10, name: 'Cocina gas' });
  assert.equal(a.entityId, 'binary_sensor.kitchen_gas');
  assert.equal(a.message, 'Gas detectado: Cocina gas');
  assert.equal(a.mode, 'armed_away');
  assert.equal(a.acknowledgedBy, null);
  assert.equal(a.restoredAt, null);
  assert.deepEqual(readAlarms({}), []);
  assert.deepEqual(readAlarms(null), []);
  const odd = readAlarm({ id: 7, kind: 'trouble', zone: 'patio' });
  assert.equal(odd.id, '7');
  assert.equal(odd.kind, 'trouble');
  assert.equal(odd.category, 'unknown');
  assert.equal(odd.status, 'active');
  assert.deepEqual(odd.zone, { id: 'patio', number: null, name: null });
});

test('an alarm only moves forward: a late event or answer never reactivates it', () => {
  const raised = readAlarm(alarm());
  const acked = readAlarm(alarm({ status: 'acknowledged', acknowledged_by: 'Ana' }));
  const restored = readAlarm(alarm({ status: 'restored', restored_at: 1768478500 }));
  assert.equal(mergeAlarm(raised, acked).status, 'acknowledged');
  assert.equal(mergeAlarm(acked, raised).status, 'acknowledged');
  const both = mergeAlarm(acked, restored);
  assert.equal(both.status, 'restored');
  assert.equal(both.acknowledgedBy, 'Ana', 'who acknowledged survives the restore');
  assert.equal(both.restoredAt, 1768478500);
  assert.equal(mergeAlarm(readAlarm(alarm({ acknowledged_at: 45, acknowledged_by: 'u1' })), restored).acknowledgedAt, 45);
  assert.equal(mergeAlarm(null, raised), raised);

  const byId = upsertAlarms(new Map(), [raised, readAlarm(alarm({ id: 'x', time: 50, category: 'intrusion' }))]);
  upsertAlarms(byId, [restored, raised]);
  assert.equal(byId.size, 2);
  assert.equal(byId.get('01a2').status, 'restored');
});

test('alarms still going on first (acknowledged ones too), then the restored ones, each newest first', () => {
  const list = [
    readAlarm(alarm({ id: 'a1', time: 10 })), readAlarm(alarm({ id: 'h1', time: 30, status: 'restored' })),
    readAlarm(alarm({ id: 'a2', time: 20 })), readAlarm(alarm({ id: 'k1', time: 40, status: 'acknowledged', acknowledged_by: 'u1', acknowledged_at: 45 })),
  ];
  const { active, history } = splitAlarms(list.values());
  assert.deepEqual(active.map((a) => a.id), ['k1', 'a2', 'a1']);
  assert.deepEqual(history.map((a) => a.id), ['h1']);
  assert.equal(statusKind('active'), 'bad');
  assert.equal(statusKind('acknowledged'), 'warn');
  assert.equal(statusKind('restored'), 'ok');
  assert.equal(statusKind('weird'), 'muted');
});

test('Acknowledge once per alarm, also for one that came back to normal unseen', () => {
  assert.equal(canAcknowledge(readAlarm(alarm())), true);
  assert.equal(canAcknowledge(readAlarm(alarm({ status: 'acknowledged', acknowledged_by: 'u1', acknowledged_at: 45 }))), false);
  assert.equal(canAcknowledge(readAlarm(alarm({ status: 'acknowledged' }))), false);
  assert.equal(canAcknowledge(readAlarm(alarm({ status: 'restored', restored_at: 50 }))), true);
  assert.equal(canAcknowledge(readAlarm(alarm({ status: 'restored', restored_at: 50, acknowledged_by: 'u1', acknowledged_at: 45 }))), false);
  const people = new Map([['u1', 'Ana']]);
  assert.equal(personName('u1', people), 'Ana');
  assert.equal(personName('Luis', people), 'Luis');
  assert.equal(personName(null, people), null);
});

test('every category has an icon and a label in both languages; zones read "number · name"', () => {
  for (const c of CATEGORIES) {
    assert.notEqual(categoryIcon(c), undefined);
    for (const lang of ['en', 'es-MX']) assert.ok(dicts[lang][`alarm.category.${c}`], `${lang} alarm.category.${c}`);
  }
  assert.equal(categoryIcon('gas'), 'flame');
  assert.equal(categoryIcon('water_leak'), 'drop');
  assert.equal(categoryIcon('something_new'), 'alert');
  assert.equal(translate('es-MX', 'alarm.category.gas'), 'Fuga de gas');
  assert.equal(translate('es-MX', 'alarm.category.unknown_face'), 'Rostro desconocido');
  assert.equal(translate('es-MX', 'alarm.category.sensor_offline'), 'Sensor sin comunicación');
  assert.equal(zoneText({ id: 'kitchen_gas', number: 10, name: 'Cocina gas' }), '10 · Cocina gas');
  assert.equal(zoneText({ id: 'patio', number: 2, name: null }), '2 · patio');
  assert.equal(zoneText({ id: 'panic', number: null, name: null }), 'panic');
  assert.equal(zoneText(null), null);
});

test('snapshots: API paths with the token, data URLs and hub paths as they are, other hosts never', () => {
  assert.equal(snapshotSource('/api/camera_proxy/camera.gate?ts=1'), 'token');
  assert.equal(snapshotSource('data:image/jpeg;base64,AAAA'), 'direct');
  assert.equal(snapshotSource('/media/snap.jpg'), 'direct');
  assert.equal(snapshotSource('//evil.example/x.jpg'), null);
  assert.equal(snapshotSource('http://cam.local/x.jpg'), null);
  assert.equal(snapshotSource('data:text/html,hi'), null);
  assert.equal(snapshotSource(null), null);
});

test('the card counts down the exit delay while arming and the entry delay while pending', () => {
  const now = 1768478400;
  assert.deepEqual(countdown(panel('arming', { arming_until: now + 44.2 }), now), { phase: 'arming', seconds: 45 });
  assert.deepEqual(countdown(panel('pending', { pending_until: now + 30 }), now), { phase: 'pending', seconds: 30 });
  assert.deepEqual(countdown(panel('pending', { pending_until: now - 3 }), now), { phase: 'pending', seconds: 0 });
  // A stale attribute of the other phase, or no deadline at all, shows nothing.
  assert.equal(countdown(panel('armed_away', { arming_until: now + 10 }), now), null);
  assert.equal(countdown(panel('pending', { arming_until: now + 10 }), now), null);
  assert.equal(countdown(panel('arming'), now), null);
  assert.equal(countdown(null, now), null);
  assert.deepEqual(countdown(panel('arming', { arming_until: new Date((now + 60) * 1000).toISOString() }), now), { phase: 'arming', seconds: 60 });
  assert.equal(epoch(1768478400.5), 1768478400.5);
  assert.equal(epoch('2026-01-15T12:00:00Z'), 1768478400);
  assert.equal(epoch('soon'), null);
  assert.equal(epoch(null), null);
  assert.equal(formatClock(45), '0:45');
  assert.equal(formatClock(65), '1:05');
  assert.equal(formatClock(600), '10:00');
  assert.equal(formatClock(3725), '1:02:05');
  assert.equal(formatClock(-4), '0:00');
  assert.equal(translate('en', 'alarm.countdown.pending', { time: '0:30' }), 'Entry delay: 0:30 to disarm');
});

test('active alarms badge: the count from the panel, plural per language', () => {
  assert.equal(activeAlarmCount(panel('triggered', { active_alarms: 2 })), 2);
  assert.equal(activeAlarmCount(panel('disarmed', { active_alarms: 0 })), 0);
  assert.equal(activeAlarmCount(panel('disarmed', { active_alarms: null })), 0);
  assert.equal(activeAlarmCount({ entity_id: 'alarm_control_panel.x', state: 'disarmed' }), 0);
  assert.equal(translate('en', 'alarm.active_count', { count: 1 }), '1 active alarm');
  assert.equal(translate('es-MX', 'alarm.active_count', { count: 3 }), '3 alarmas activas');
});

test('PIN pad: disarm always asks; arming unless code_arm_required is false; code_format null never', () => {
  assert.equal(needsCode(panel('armed_away'), 'disarm'), true);
  assert.equal(needsCode(panel('disarmed'), 'arm_away'), true);
  assert.equal(needsCode(panel('disarmed', { code_arm_required: false }), 'arm_away'), false);
  assert.equal(needsCode(panel('armed_home', { code_arm_required: false }), 'disarm'), true);
  assert.equal(needsCode(panel('armed_home', { code_format: null }), 'disarm'), false);
  assert.equal(needsCode({ entity_id: 'alarm_control_panel.x', state: 'disarmed', attributes: {} }, 'arm_home'), true);
});

test('panic takes no code; silent only when asked', () => {
  assert.deepEqual(panicBody('alarm_control_panel.casa'), { entity_id: 'alarm_control_panel.casa' });
  assert.deepEqual(panicBody('alarm_control_panel.casa', true), { entity_id: 'alarm_control_panel.casa', silent: true });
  const states = [panel('disarmed'), { entity_id: 'binary_sensor.door', state: 'off' }, { ...panel('disarmed'), entity_id: 'alarm_control_panel.bodega' }];
  assert.deepEqual(alarmPanels(states), ['alarm_control_panel.bodega', 'alarm_control_panel.casa']);
});

test('link trouble: only while the sensor is off; the reason comes from the message', () => {
  const link = (state, attributes = {}) => ({ entity_id: LINK_ENTITY, state, attributes: { device_class: 'connectivity', ...attributes } });
  const message = 'command centre link down since 14:02 (primary 10.0.0.5:9000: connection refused)';
  assert.deepEqual(linkTrouble(link('off', { message, down_since: 1768478520 })),
    { since: 1768478520, detail: 'primary 10.0.0.5:9000: connection refused', message });
  assert.equal(linkTrouble(link('on', { message: null, down_since: null })), null);
  assert.equal(linkTrouble(link('unavailable')), null);
  assert.equal(linkTrouble(null), null);
  // A message in another form is shown whole; a bare headline adds nothing to ours.
  assert.equal(linkTrouble(link('off', { message: 'receiver says DUH' })).detail, 'receiver says DUH');
  assert.equal(linkTrouble(link('off', { message: 'command centre link down' })).detail, null);
  assert.equal(linkTrouble(link('off', { message: 'down (backup (udp) 10.0.0.6:9000: timeout)' })).detail, 'backup (udp) 10.0.0.6:9000: timeout');
  assert.equal(linkTrouble(link('off')).since, null);
  // command_center writes its moments as ISO 8601 in the home's zone, and last_error beside the message.
  const iso = linkTrouble(link('off', { message, down_since: '2026-01-15T14:02:00-06:00', last_error: 'backup 10.0.0.6:9000/udp: timeout' }));
  assert.equal(iso.since, Date.UTC(2026, 0, 15, 20, 2) / 1000);
  assert.equal(iso.detail, 'backup 10.0.0.6:9000/udp: timeout');
  assert.equal(translate('es-MX', 'link.down_since', { time: '14:02' }), 'Enlace con el centro de mando caído desde 14:02');
  assert.equal(translate('en', 'link.down_since', { time: '14:02' }), 'Command centre link down since 14:02');
});

test('PIN form: 4 to 8 digits, typed twice; the current PIN is sent only when given', () => {
  assert.equal(pinProblem('', ''), 'required');
  assert.equal(pinProblem('123', '123'), 'format');
  assert.equal(pinProblem('123456789', '123456789'), 'format');
  assert.equal(pinProblem('12a4', '12a4'), 'format');
  assert.equal(pinProblem('1234', '1243'), 'mismatch');
  assert.equal(pinProblem('1234', '1234'), null);
  assert.equal(pinProblem('12345678', '12345678'), null);
  assert.deepEqual(setCodeBody('1234', ''), { code: '1234' });
  assert.deepEqual(setCodeBody('1234', '9876'), { code: '1234', current_code: '9876' });
});

test('polling only when events cannot reach the page; 404 means not set up', () => {
  assert.equal(needsPolling({ hasSocket: true, status: 'connected', refused: false }), false);
  assert.equal(needsPolling({ hasSocket: true, status: 'connected', refused: true }), true);
  assert.equal(needsPolling({ hasSocket: true, status: 'disconnected', refused: false }), true);
  assert.equal(needsPolling({ hasSocket: false, status: undefined, refused: false }), true);
  assert.deepEqual(ALARM_EVENTS, ['alarm_raised', 'alarm_restored', 'alarm_acknowledged']);
  assert.equal(isNotConfigured({ status: 404 }), true);
  assert.equal(isNotConfigured({ status: 400 }), false);
  assert.equal(isNotConfigured(null), false);
});

test('residents may subscribe to every alarm event and the link event', () => {
  const src = readFileSync(join(STATIC, '..', '..', 'hub', 'http', 'websocket.py'), 'utf8');
  const block = /RESIDENT_EVENT_TYPES = frozenset\(\{([\s\S]*?)\}\)/.exec(src)[1];
  for (const type of [...ALARM_EVENTS, 'command_center_link']) assert.match(block, new RegExp(`"${type}"`), type);
});

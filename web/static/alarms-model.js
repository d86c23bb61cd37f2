// Pure logic of the alarm page, the alarm card and the link banner (no DOM): reading
// /api/alarm_panel/alarms, which alarm gets Acknowledge, the exit and entry countdowns, the
// command-centre link trouble and the checks of the PIN form. Tested by web/tests/alarms.test.js.
import { asList } from './model.js';
import { toDate } from './i18n.js';

/** Events alarm_panel fires with one alarm record as data (docs/alarms.md). */
export const ALARM_EVENTS = ['alarm_raised', 'alarm_restored', 'alarm_acknowledged'];

/** The command_center integration's connectivity sensor: on = the centre hears us. */
export const LINK_ENTITY = 'binary_sensor.command_center_link';

/** Polling period of the alarm page while events cannot reach it. */
export const POLL_MS = 10000;

/** Alarm categories of docs/alarms.md, each with the icon (components/icons.js) drawn beside it. */
const CATEGORY_ICON = {
  intrusion: 'door', unknown_face: 'user', gas: 'flame', fire: 'flame', co: 'alert', water_leak: 'drop',
  panic: 'alert', duress: 'alert', medical: 'alert', tamper: 'shield', sensor_offline: 'gauge',
  low_battery: 'gauge', ac_loss: 'gauge', test: 'check',
};
export const CATEGORIES = Object.keys(CATEGORY_ICON);

// An alarm only moves forward: active -> acknowledged -> restored (restored may skip acknowledged).
const STATUS_RANK = { active: 0, acknowledged: 1, restored: 2 };
const STATUS_KIND = { active: 'bad', acknowledged: 'warn', restored: 'ok' };

export const PIN_PATTERN = /^\d{4,8}$/;

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** A moment as epoch seconds: the hub writes epoch numbers, some attributes ISO 8601 strings. */
export function epoch(v) {
  if (v === null || v === undefined || v === '') return null;
  const d = toDate(v);
  const ms = d ? d.getTime() : NaN;
  return Number.isFinite(ms) ? ms / 1000 : null;
}

function text(v) {
  return typeof v === 'string' && v !== '' ? v : null;
}

function readZone(z) {
  if (!z || typeof z !== 'object') return text(z) ? { id: z, number: null, name: null } : null;
  return { id: text(z.id), number: z.number ?? null, name: text(z.name) };
}

/** One alarm record with every field present (null when the server left it out). */
export function readAlarm(raw) {
  const a = raw && typeof raw === 'object' ? raw : {};
  return {
    id: String(a.id ?? ''),
    category: text(a.category) || 'unknown',
    kind: a.kind === 'trouble' ? 'trouble' : 'alarm',
    zone: readZone(a.zone),
    entityId: text(a.entity_id),
    time: epoch(a.time),
    contextId: text(a.context_id),
    snapshot: text(a.snapshot),
    status: text(a.status) || 'active',
    message: text(a.message),
    mode: text(a.mode),
    user: a.user ?? null,
    acknowledgedBy: text(a.acknowledged_by),
    acknowledgedAt: epoch(a.acknowledged_at),
    restoredAt: epoch(a.restored_at),
  };
}

function newestFirst(list) {
  return list.map((a, i) => [a, i]).sort((x, y) => (y[0].time ?? 0) - (x[0].time ?? 0) || x[1] - y[1]).map(([a]) => a);
}

/** GET /api/alarm_panel/alarms -> alarms, newest first (ties keep the server's order). */
export function readAlarms(body) {
  return newestFirst(asList(body, 'alarms').filter((a) => a && typeof a === 'object' && a.id !== undefined).map(readAlarm));
}

/** The later of two versions of one alarm: a late event or answer never moves it back. */
export function mergeAlarm(old, next) {
  if (!old) return next;
  const rank = (a) => STATUS_RANK[a.status] ?? 0;
  const status = rank(next) >= rank(old) ? next.status : old.status;
  return {
    ...old, ...next, status,
    acknowledgedBy: next.acknowledgedBy ?? old.acknowledgedBy,
    acknowledgedAt: next.acknowledgedAt ?? old.acknowledgedAt,
    restoredAt: next.restoredAt ?? old.restoredAt,
    snapshot: next.snapshot ?? old.snapshot,
  };
}

/** Fold alarms (from answers or events) into a map by id; returns the same map. */
export function upsertAlarms(byId, alarms) {
  for (const a of alarms) if (a.id) byId.set(a.id, mergeAlarm(byId.get(a.id), a));
  return byId;
}

/**
 * Alarms still going on (active, or acknowledged but not yet back to normal: the gas may still be
 * leaking), then the history (restored), each newest first. The hub's ?status=active means the same.
 */
export function splitAlarms(alarms) {
  const list = newestFirst([...alarms]);
  return { active: list.filter((a) => a.status !== 'restored'), history: list.filter((a) => a.status === 'restored') };
}

/** Every alarm is acknowledged once, by someone: one that came back to normal unseen still asks. */
export function canAcknowledge(alarm) {
  return alarm.status !== 'acknowledged' && alarm.acknowledgedAt === null && alarm.acknowledgedBy === null;
}

/** A person as the hub names them: a user id becomes the user's name when we know it. */
export function personName(value, people) {
  if (value === null || value === undefined || value === '') return null;
  return (people && people.get(String(value))) || String(value);
}

export function categoryIcon(category) {
  return CATEGORY_ICON[category] || 'alert';
}

/** Badge colour of a status ('bad' | 'warn' | 'ok' | 'muted'). */
export function statusKind(status) {
  return STATUS_KIND[status] || 'muted';
}

/** "10 · Cocina gas": the zone's number and name, whichever the panel gave. */
export function zoneText(zone) {
  if (!zone) return null;
  const parts = [zone.number ?? null, zone.name || zone.id].filter((p) => p !== null && p !== '');
  return parts.length ? parts.join(' · ') : null;
}

/**
 * How a snapshot reference is shown: 'token' (an API path, fetched with the bearer token as a
 * blob), 'direct' (a data: URL or another path of the hub), or null (another host: the CSP and
 * the home's privacy both say no).
 */
export function snapshotSource(url) {
  if (typeof url !== 'string' || !url) return null;
  if (url.startsWith('/api/')) return 'token';
  if (url.startsWith('data:image/') || (url.startsWith('/') && !url.startsWith('//'))) return 'direct';
  return null;
}

// ---- the alarm card ----

/** The running exit or entry delay: {phase: 'arming'|'pending', seconds} or null. */
export function countdown(state, nowS) {
  if (!state || !state.attributes) return null;
  const until = state.state === 'arming' ? epoch(state.attributes.arming_until)
    : state.state === 'pending' ? epoch(state.attributes.pending_until) : null;
  if (until === null) return null;
  return { phase: state.state, seconds: Math.max(0, Math.ceil(until - nowS)) };
}

/** Seconds as a clock: 45 -> "0:45", 65 -> "1:05", 3725 -> "1:02:05". */
export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  const two = (n) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

/** The panel's count of alarms still active (0 when it does not say). */
export function activeAlarmCount(state) {
  const n = state && state.attributes ? num(state.attributes.active_alarms) : null;
  return n !== null && n > 0 ? Math.floor(n) : 0;
}

/** Whether an arm or disarm asks for a PIN: disarm always, arming unless the panel says no. */
export function needsCode(state, service) {
  const attrs = (state && state.attributes) || {};
  // No code_format attribute: ask anyway (the panel decides); null means the panel takes none.
  return attrs.code_format !== null && (service === 'disarm' || attrs.code_arm_required !== false);
}

/** Body of alarm_panel.panic: no code, by design; silent only when asked. */
export function panicBody(entityId, silent = false) {
  return silent ? { entity_id: entityId, silent: true } : { entity_id: entityId };
}

/** Alarm panel entity ids in the store, sorted. */
export function alarmPanels(states) {
  return states.map((s) => s.entity_id).filter((id) => String(id).startsWith('alarm_control_panel.')).sort();
}

// ---- the command-centre link ----

/**
 * The link trouble when the sensor is off: {since (epoch s or null), detail (why, or null),
 * message}. null while the link is up, unknown, unavailable or not configured.
 */
export function linkTrouble(state) {
  if (!state || state.state !== 'off') return null;
  const attrs = state.attributes || {};
  const message = text(attrs.message);
  // The message reads "command centre link down since 14:02 (primary 10.0.0.5:9000: connection
  // refused)": the headline is ours to translate, the reason (also in last_error) is the receiver's.
  const m = message ? /\(((?:[^()]|\([^()]*\))*)\)\s*$/.exec(message) : null;
  const detail = text(attrs.last_error) || (m ? m[1] : (message && !/link down/i.test(message) ? message : null));
  return { since: epoch(attrs.down_since), detail, message };
}

// ---- the PIN form ----

/** What is wrong with a new PIN ('required' | 'format' | 'mismatch'), or null. */
export function pinProblem(pin, pin2) {
  if (!pin) return 'required';
  if (!PIN_PATTERN.test(pin)) return 'format';
  if (pin !== pin2) return 'mismatch';
  return null;
}

/** Body of alarm_panel.set_code: the current PIN only when one was typed. */
export function setCodeBody(pin, current) {
  return current ? { code: pin, current_code: current } : { code: pin };
}

// ---- refreshing ----

/** Whether the page must poll: no socket, a socket that is down, or the hub refused a subscription. */
export function needsPolling({ hasSocket, status, refused }) {
  return !hasSocket || status !== 'connected' || refused;
}

/** A 404 from the alarms endpoint means the alarm panel is not set up on this hub. */
export function isNotConfigured(err) {
  return Boolean(err && err.status === 404);
}

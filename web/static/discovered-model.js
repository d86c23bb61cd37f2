// Pure logic of the Discovered page (no DOM): reading GET /api/discovered (docs/discovery.md,
// "The pairing contract ... and the API"), what a row says about itself, the pairing form built
// from the row's `asks`, where a refused pairing's message belongs, and what a pairing answer asks
// to show once (`reveal`: a token the hub made for the device). Tested by web/tests/discovered.test.js.
import { asList } from './model.js';
import { epoch } from './alarms-model.js';
import { t, tOr, formatRelative } from './i18n.js';

/** The list is polled this often while shown (plus at once on a device_discovered event). */
export const POLL_MS = 10000;
/** The hub event fired when a new device is listed. */
export const DISCOVERED_EVENT = 'device_discovered';

const KIND_ICONS = {
  camera: 'camera', climate: 'thermometer', tank: 'drop', alarm: 'shield', binary: 'door',
  // ble_climate's kinds (docs/discovery.md): a BLE proxy has no icon of its own yet.
  climate_sensor: 'thermometer', tank_sensor: 'drop', esphome: 'gauge',
};

/** The details worth a line on the card, in this order (what the integration's offer said it is). */
const DETAIL_KEYS = ['model', 'hardware', 'firmware', 'esphome_version', 'serial', 'board', 'location', 'rssi'];

function text(v) {
  return typeof v === 'string' && v !== '' ? v : null;
}

function port(v) {
  return Number.isInteger(v) && v > 0 && v < 65536 ? v : null;
}

/** One ask with every field present; null when it has no usable key. */
export function readAsk(raw) {
  const a = raw && typeof raw === 'object' ? raw : {};
  const key = text(a.key);
  if (!key) return null;
  return {
    key,
    label: text(a.label) || key,
    secret: a.secret === true,
    pattern: text(a.pattern),
    default: typeof a.default === 'string' ? a.default : null,
  };
}

/** One discovered row with every field present (null when the server left it out). */
export function readDiscovered(raw) {
  const r = raw && typeof raw === 'object' ? raw : {};
  const id = String(r.id ?? '');
  const host = text(r.host);
  return {
    id,
    domain: text(r.domain) || '',
    uniqueId: text(r.unique_id),
    title: text(r.title) || host || text(r.address) || id,
    kind: text(r.kind) || 'device',
    source: text(r.source),
    host,
    port: port(r.port),
    address: text(r.address),
    firstSeen: epoch(r.first_seen),
    lastSeen: epoch(r.last_seen),
    ignored: r.ignored === true,
    // An older hub did not say; a listed row was then seen lately.
    present: r.present !== false,
    asks: (Array.isArray(r.asks) ? r.asks : []).map(readAsk).filter(Boolean),
    details: r.details && typeof r.details === 'object' && !Array.isArray(r.details) ? r.details : {},
  };
}

/** GET /api/discovered -> rows, most recently seen first. */
export function readDiscoveredList(body) {
  return asList(body, 'discovered')
    .filter((r) => r && typeof r === 'object' && r.id !== undefined && r.id !== null && r.id !== '')
    .map(readDiscovered)
    .sort((a, b) => (b.lastSeen ?? 0) - (a.lastSeen ?? 0) || a.title.localeCompare(b.title));
}

/** Icon name of a device kind (components/icons.js). */
export function kindIcon(kind) {
  return KIND_ICONS[kind] || 'gauge';
}

/**
 * What GET /api/network says about looking for devices, as notes for the top of the page:
 * [{ kind: 'ok' | 'warn', text }]. A hub that cannot look says why (it explains an empty list).
 */
export function networkNotes(body, now = Date.now()) {
  const b = body && typeof body === 'object' ? body : {};
  const mdns = b.mdns && typeof b.mdns === 'object' ? b.mdns : {};
  const wsd = b.wsdiscovery && typeof b.wsdiscovery === 'object' ? b.wsdiscovery : {};
  const reason = (r, fallback) => (typeof r === 'string' && r ? r : fallback);
  const notes = [];
  if (mdns.state === 'running') {
    const where = (Array.isArray(mdns.interfaces) ? mdns.interfaces : []).filter((a) => typeof a === 'string').join(', ');
    notes.push({ kind: 'ok', text: t('discovered.net.mdns_running', { interfaces: where || '—' }) });
  } else if (mdns.state === 'off') {
    notes.push({ kind: 'warn', text: t('discovered.net.mdns_off', { reason: reason(mdns.reason, mdns.state) }) });
  } else if (typeof mdns.state === 'string') {
    notes.push({ kind: 'warn', text: t('discovered.net.mdns_problem', { reason: reason(mdns.reason, mdns.state) }) });
  }
  if (wsd.state === 'running') {
    const last = typeof wsd.last_probe === 'number' && Number.isFinite(wsd.last_probe) ? wsd.last_probe : null; // epoch seconds, as the rows' times
    notes.push({ kind: 'ok', text: last === null ? t('discovered.net.onvif_soon')
      : t('discovered.net.onvif_last', { when: formatRelative(last, now) }) });
  } else if (wsd.state === 'no_interface') {
    notes.push({ kind: 'warn', text: t('discovered.net.onvif_problem', { reason: reason(wsd.reason, wsd.state) }) });
  }
  return notes;
}

/** Why the hub cannot pair this device (it is only listed), or null. */
export function cannotPair(row) {
  const why = row.details ? row.details.cannot_pair : null;
  return typeof why === 'string' && why.trim() ? why.trim() : null;
}

/** [[key, value]] of the details worth showing (text and numbers only, known keys only). */
export function detailFacts(row) {
  const out = [];
  for (const key of DETAIL_KEYS) {
    const v = row.details ? row.details[key] : null;
    if (typeof v === 'string' && v.trim()) out.push([key, v.trim()]);
    else if (typeof v === 'number' && Number.isFinite(v)) out.push([key, String(v)]);
  }
  return out;
}

/** "Camera" / "Cámara"; an unknown kind as the server named it. */
export function kindLabel(kind) {
  return tOr(`discovered.kind.${kind}`, kind);
}

/** Where the device is: "192.168.1.20:554", "[fd00::5]:554", a Bluetooth address, or null. */
export function addressText(row) {
  if (row.host) {
    const host = row.host.includes(':') ? `[${row.host}]` : row.host;
    return row.port ? `${host}:${row.port}` : row.host;
  }
  return row.address;
}

/** "Seen 2 minutes ago" (the last sighting), or "Never seen" when the server gave no time. */
export function seenText(row, now = Date.now()) {
  return row.lastSeen === null ? t('discovered.never_seen') : t('discovered.seen', { when: formatRelative(row.lastSeen, now) });
}

/** "First seen 3 days ago". */
export function firstSeenText(row, now = Date.now()) {
  return row.firstSeen === null ? t('discovered.never_seen') : t('discovered.first_seen', { when: formatRelative(row.firstSeen, now) });
}

/** The presence badge: on the network (ok) or said goodbye (muted). */
export function presence(row) {
  return row.present ? { text: t('discovered.present'), kind: 'ok' } : { text: t('discovered.gone'), kind: 'muted' };
}

/** A server pattern (Python syntax) as an HTML pattern attribute, or null when JS cannot read it. */
export function htmlPattern(pattern) {
  if (!pattern) return null;
  try {
    new RegExp(`^(?:${pattern})$`, 'v'); // the browser compiles pattern= with the v flag
    return pattern;
  } catch {
    return null; // the server checks it anyway and names the field
  }
}

/** The pairing form's inputs, one per ask: a secret is a password input; an ask with a default is optional. */
export function formFields(asks) {
  return asks.map((a) => ({
    name: a.key,
    label: a.label,
    type: a.secret ? 'password' : 'text',
    autocomplete: a.secret ? 'new-password' : 'off',
    pattern: htmlPattern(a.pattern),
    value: a.default ?? '',
    required: a.default === null,
  }));
}

/** The body of POST .../pair: every answer given; an optional one left empty is left out (its default applies). */
export function pairBody(fields, values) {
  const answers = {};
  for (const f of fields) {
    const v = typeof values[f.name] === 'string' ? values[f.name] : '';
    if (v === '' && !f.required) continue;
    answers[f.name] = v;
  }
  return { answers };
}

/**
 * Where a failed pairing's message goes: {field, message}. The server's 400 names the field the
 * device refused; anything else (502 unreachable, 503, a field not in the form) goes on the form.
 */
export function pairError(err, fields) {
  const message = (err && err.message) || t('error.generic');
  const named = err && typeof err.field === 'string' ? err.field : null;
  if (named && fields.some((f) => f.name === named)) return { field: named, message };
  if (err && err.code === 'unreachable') return { field: null, message: t('discovered.unreachable', { reason: message }) };
  return { field: null, message };
}

/** Where the paired device shows up: cameras on the cameras page, the rest under devices. */
export function pairedLink(row) {
  return row.kind === 'camera' ? '#/cameras' : '#/devices';
}

/** The title a successful pairing gave (the server's), else the row's. */
export function pairedTitle(body, row) {
  return text(body && body.title) || row.title;
}

/**
 * What the pairing answer shows the resident once (a token the hub made for the device's own setup
 * page): [{label, value}] from the 201 body's `reveal`, in the server's order; [] when there is none.
 * The page shows it in a dialog and keeps it nowhere.
 */
export function revealItems(body) {
  const reveal = body && typeof body.reveal === 'object' && body.reveal !== null && !Array.isArray(body.reveal) ? body.reveal : {};
  return Object.entries(reveal)
    .filter(([label, value]) => label !== '' && typeof value === 'string' && value !== '')
    .map(([label, value]) => ({ label, value }));
}

// Pure dashboard logic (no DOM): which card an entity gets, how cards group into areas, and
// tolerant readers for API answers. Tested under node by web/tests/.

export const UNAVAILABLE = 'unavailable';
export const UNKNOWN = 'unknown';

export function domainOf(entityId) {
  return String(entityId).split('.', 1)[0];
}

export function friendlyName(state, fallback) {
  return (state && state.attributes && state.attributes.friendly_name) || fallback || (state && state.entity_id) || '';
}

export function isNumeric(text) {
  return typeof text === 'number' ? Number.isFinite(text) : /^\s*-?\d+(\.\d+)?\s*$/.test(String(text));
}

// ---- card kinds: a convention on domain, device_class and the `tank` attribute ----

const COMMODITIES = ['water', 'lp_gas'];
const USABLE_DEFAULTS = { water: [0, 100], lp_gas: [5, 85] }; // LP tanks are filled to 85 % at most

export function isTank(state) {
  const a = (state && state.attributes) || {};
  const tank = a.tank;
  return domainOf(state.entity_id) === 'sensor' && a.unit_of_measurement === '%'
    && tank !== null && typeof tank === 'object' && COMMODITIES.includes(tank.commodity);
}

export function cardKind(state) {
  const domain = domainOf(state.entity_id);
  const dc = state.attributes && state.attributes.device_class;
  if (domain === 'sensor' && isTank(state)) return 'tank';
  if (domain === 'sensor' && (dc === 'temperature' || dc === 'humidity')) return 'climate';
  if (domain === 'binary_sensor') return 'binary';
  if (domain === 'alarm_control_panel') return 'alarm';
  if (domain === 'camera') return 'camera';
  return 'generic';
}

const KIND_ORDER = ['alarm', 'tank', 'climate', 'binary', 'camera', 'generic'];

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : (isNumeric(v) ? Number(v) : null);
}

/** Everything a tank card shows, with the severity that picks its colour. */
export function tankInfo(state) {
  const tank = state.attributes.tank;
  const [defMin, defMax] = USABLE_DEFAULTS[tank.commodity];
  const usableMin = num(tank.usable_min_pct) ?? defMin;
  const usableMax = num(tank.usable_max_pct) ?? defMax;
  const level = num(state.state);
  const days = num(tank.days_until_empty);
  let severity = 'unknown';
  if (level !== null) {
    // Judge the level inside the usable band: 10 % of an LP tank is almost empty (5 % is the floor).
    const span = Math.max(1, usableMax - usableMin);
    const usable = (level - usableMin) / span;
    severity = usable < 0.15 ? 'danger' : usable < 0.35 ? 'warning' : 'ok';
    if (days !== null && days < 2) severity = 'danger';
    else if (days !== null && days < 5 && severity === 'ok') severity = 'warning';
  }
  return {
    commodity: tank.commodity,
    level,
    volumeL: num(tank.volume_l),
    capacityL: num(tank.capacity_l),
    daysUntilEmpty: days,
    usableMin,
    usableMax,
    showBand: tank.commodity === 'lp_gas' || tank.usable_min_pct !== undefined || tank.usable_max_pct !== undefined,
    severity,
  };
}

// Wording per binary_sensor device_class: i18n keys for on and off, and whether "on" is an alert.
const BINARY = {
  door: ['open', 'closed', false], window: ['open', 'closed', false], garage_door: ['open', 'closed', false],
  opening: ['open', 'closed', false], lock: ['unlocked', 'locked', false],
  motion: ['detected', 'clear', false], occupancy: ['detected', 'clear', false], presence: ['home', 'away', false],
  moisture: ['leak', 'dry', true], leak: ['leak', 'dry', true], gas: ['gas', 'clear', true],
  smoke: ['smoke', 'clear', true], carbon_monoxide: ['gas', 'clear', true], tamper: ['tampered', 'ok', true],
  problem: ['problem', 'ok', true], safety: ['unsafe', 'safe', true], connectivity: ['connected', 'disconnected', false],
  battery: ['low', 'normal', true], power: ['on', 'off', false],
};

export function binaryWording(state) {
  const dc = state.attributes && state.attributes.device_class;
  const [on, off, alert] = BINARY[dc] || ['on', 'off', false];
  const isOn = state.state === 'on';
  return { key: `binary.${isOn ? on : off}`, alert: isOn && alert };
}

export function entityArea(entityId, entities, devices) {
  const entry = entities.get(entityId);
  if (entry && entry.area) return entry.area;
  const device = entry && entry.device_id ? devices.get(entry.device_id) : null;
  return device && device.area ? device.area : null;
}

/**
 * Cards grouped by area: [{area: string|null, cards: [{kind, key, entityIds, deviceId}]}].
 * Temperature and humidity of one device share a climate card. area null = "Other", last.
 */
export function layoutOverview(states, entityList = [], deviceList = [], collator = new Intl.Collator()) {
  const entities = new Map(entityList.map((e) => [e.entity_id, e]));
  const devices = new Map(deviceList.map((d) => [d.id, d]));
  const areas = new Map();
  const climateByDevice = new Map();
  for (const st of states) {
    // Diagnostics (error counters, raw readings, bus load) live on the entity pages; the
    // overview shows one only while it reports a problem.
    if (!onOverview(st)) continue;
    const area = entityArea(st.entity_id, entities, devices);
    if (!areas.has(area)) areas.set(area, []);
    const cards = areas.get(area);
    const kind = cardKind(st);
    const deviceId = entities.get(st.entity_id)?.device_id || null;
    if (kind === 'climate' && deviceId) {
      const key = `${area}\u0000${deviceId}`;
      const existing = climateByDevice.get(key);
      if (existing) { existing.entityIds.push(st.entity_id); continue; }
      const card = { kind, key: `climate-${deviceId}`, entityIds: [st.entity_id], deviceId, name: '' };
      climateByDevice.set(key, card);
      cards.push(card);
      continue;
    }
    cards.push({ kind, key: st.entity_id, entityIds: [st.entity_id], deviceId, name: '' });
  }
  const byId = new Map(states.map((s) => [s.entity_id, s]));
  const result = [];
  for (const [area, cards] of areas) {
    for (const card of cards) {
      // Temperature before humidity inside a climate card; the card is named after its device.
      card.entityIds.sort((a, b) => dcRank(byId.get(a)) - dcRank(byId.get(b)) || collator.compare(a, b));
      const device = card.deviceId ? devices.get(card.deviceId) : null;
      card.name = card.kind === 'climate' && card.entityIds.length > 1 && device
        ? (device.name_by_user || device.name || friendlyName(byId.get(card.entityIds[0])))
        : friendlyName(byId.get(card.entityIds[0]));
    }
    cards.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || collator.compare(a.name, b.name));
    result.push({ area, cards });
  }
  result.sort((a, b) => (a.area === null) - (b.area === null) || collator.compare(a.area || '', b.area || ''));
  return result;
}

/** Whether a state gets a card on the overview: not diagnostics or configuration, unless overloaded. */
export function onOverview(state) {
  const category = state.attributes && state.attributes.entity_category;
  if (category !== 'diagnostic' && category !== 'config') return true;
  return state.attributes.overloaded === true;
}

function dcRank(state) {
  const dc = state && state.attributes && state.attributes.device_class;
  return dc === 'temperature' ? 0 : dc === 'humidity' ? 1 : 2;
}

// ---- tolerant readers: the server is written in parallel; accept the obvious envelopes ----

export function asList(body, ...keys) {
  if (Array.isArray(body)) return body;
  if (body && typeof body === 'object') {
    for (const key of keys) if (Array.isArray(body[key])) return body[key];
  }
  return [];
}

function pick(obj, ...paths) {
  for (const path of paths) {
    let v = obj;
    for (const part of path.split('.')) v = v && typeof v === 'object' ? v[part] : undefined;
    if (v !== undefined && v !== null) return v;
  }
  return null;
}

/** Pending outbox messages: a number, or summed over the per-channel stats the hub reports. */
function outboxPending(b) {
  const direct = num(pick(b, 'outbox.pending', 'outbox_pending'));
  if (direct !== null) return direct;
  const outbox = b.outbox;
  if (!outbox || typeof outbox !== 'object') return null;
  const channels = Object.values(outbox).filter((c) => c && typeof c === 'object' && 'pending' in c);
  // An outbox with no channel yet has nothing pending.
  return channels.reduce((sum, c) => sum + (num(c.pending) || 0), 0);
}

/** GET /api/health in the shape the health strip needs. */
export function normalizeHealth(body) {
  const b = body || {};
  let failed = pick(b, 'integrations_failed', 'integrations.failed', 'failed_integrations') || [];
  if (!Array.isArray(failed)) {
    failed = Object.entries(failed).map(([domain, error]) => ({ domain, error: typeof error === 'string' ? error : error?.error }));
  }
  failed = failed.map((f) => (typeof f === 'string' ? { domain: f, error: null } : { domain: f.domain, error: f.error ?? null }));
  return {
    state: pick(b, 'state', 'hub_state'),
    uptime: num(pick(b, 'uptime_s', 'uptime_seconds', 'uptime')),
    dbSize: num(pick(b, 'database_size_bytes', 'database.size_bytes', 'database_size', 'db_size_bytes')),
    outboxPending: outboxPending(b),
    recorderPending: num(pick(b, 'recorder_pending_rows', 'recorder.pending_rows', 'recorder.pending')),
    failed,
  };
}

/** Newest first, at most `limit`, from one or more answers of GET /api/events. */
export function mergeEvents(bodies, limit = 5) {
  const all = bodies.flatMap((b) => asList(b, 'events', 'items'));
  all.sort((a, b) => Number(b.time_fired) - Number(a.time_fired) || 0);
  return all.slice(0, limit);
}

/** History answer -> {kind: 'stats', buckets} | {kind: 'raw', states}. */
export function normalizeHistory(body) {
  const list = asList(body, 'statistics', 'buckets', 'points', 'history', 'states', 'result');
  if (list.length && list[0] && 'mean' in list[0]) {
    return { kind: 'stats', buckets: list.filter((p) => num(p.mean) !== null) };
  }
  return { kind: 'raw', states: list.filter(Boolean) };
}

/** Split GET /api/tokens into long-lived tokens and sessions. */
export function normalizeTokens(body) {
  if (Array.isArray(body)) {
    return {
      tokens: body.filter((x) => x.kind !== 'session'),
      sessions: body.filter((x) => x.kind === 'session'),
    };
  }
  return {
    tokens: asList(body, 'tokens', 'long_lived', 'long_lived_tokens'),
    sessions: asList(body, 'sessions'),
  };
}

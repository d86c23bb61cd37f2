// #/overview: health strip, cards grouped by area, open orders and recent alarms. Cards are
// updated in place from the state store; only entities appearing or disappearing re-lay the grid.
import { h, mount as fill, clear, actionButton } from '../dom.js';
import * as api from '../api.js';
import * as store from '../store.js';
import { t, tOr, formatDuration, formatBytes, formatNumber, formatDateTime, formatRelative, formatLitres } from '../i18n.js';
import { layoutOverview, normalizeHealth, mergeEvents, asList } from '../model.js';
import { createCard } from '../components/cards.js';
import { pageTitle, section, loading, emptyState, notice, takeFlash } from '../components/ui.js';
import { readOrders, canApprove, formatQuantity, isNotConfigured, ORDER_EVENTS } from '../orders-model.js';
import { statusBadge, commodityLabel, orderAction } from './orders.js';
import { readAlarm, zoneText, ALARM_EVENTS } from '../alarms-model.js';

export const titleKey = 'overview.title';

const HEALTH_EVERY_MS = 30000;

function healthItem(label, value, extra) {
  return h('div', { class: 'health-item' }, h('span', { class: 'health-label' }, label), h('span', { class: 'health-value' }, value), extra);
}

function renderHealth(el, body) {
  const hl = normalizeHealth(body);
  const items = [
    healthItem(t('health.uptime'), formatDuration(hl.uptime)),
    healthItem(t('health.database'), formatBytes(hl.dbSize)),
    healthItem(t('health.outbox'), hl.outboxPending === null ? '—' : formatNumber(hl.outboxPending)),
  ];
  const failed = hl.failed;
  const failedItem = healthItem(t('health.failed'), formatNumber(failed.length));
  if (failed.length) {
    failedItem.classList.add('is-bad');
    failedItem.append(h('ul', { class: 'health-errors' }, failed.map((f) =>
      h('li', {}, h('a', { href: '#/devices', testid: `health-failed-${f.domain}` }, f.domain), f.error ? `: ${f.error}` : ''))));
  }
  items.push(failedItem);
  fill(el, ...items);
  el.classList.toggle('has-failures', failed.length > 0);
}

/** One line for an order or alarm event from whatever fields its data has. */
export function eventSummary(event) {
  const d = event.data || {};
  const parts = [];
  if (d.commodity) parts.push(tOr(`tank.commodity.${d.commodity}`, d.commodity));
  const litres = d.volume_l ?? d.quantity_l ?? d.litres;
  if (typeof litres === 'number') parts.push(formatLitres(litres));
  if (d.supplier) parts.push(String(d.supplier));
  // An alarm record (docs/alarms.md) names its category; kind only says alarm or trouble.
  const category = d.category ?? d.alarm_type;
  if (d.status && !category) parts.push(tOr(`order.status.${d.status}`, String(d.status)));
  if (category) parts.push(tOr(`alarm.category.${category}`, String(category)));
  else if (d.kind) parts.push(tOr(`alarm.kind.${d.kind}`, String(d.kind)));
  const zone = d.zone && typeof d.zone === 'object' ? zoneText(readAlarm(d).zone) : d.zone;
  for (const part of [zone, d.entity_id, d.message]) if (part) parts.push(String(part));
  if (!parts.length) {
    for (const [k, v] of Object.entries(d)) {
      if (['string', 'number', 'boolean'].includes(typeof v)) parts.push(`${k}: ${v}`);
      if (parts.length === 3) break;
    }
  }
  return parts.join(' · ');
}

function renderEvents(el, events, emptyKey, testPrefix) {
  if (!events.length) { fill(el, emptyState(emptyKey)); return; }
  fill(el, h('ul', { class: 'event-list' }, events.map((ev, i) => h('li', { class: 'event', testid: `${testPrefix}-${i}` },
    h('span', { class: 'event-type' }, tOr(`event.${ev.event_type}`, ev.event_type)),
    h('span', { class: 'event-summary' }, eventSummary(ev)),
    h('time', { class: 'event-time', datetime: new Date(Number(ev.time_fired) * 1000).toISOString(), title: formatDateTime(ev.time_fired) }, formatRelative(ev.time_fired))))));
}

/** Open orders, each a link to #/orders, with Approve right here for those waiting for a resident. */
function renderOrders(el, orders, message, refresh) {
  if (!orders.length) { fill(el, emptyState('overview.no_orders')); return; }
  fill(el, h('ul', { class: 'event-list' }, orders.map((o, i) => {
    const approve = canApprove(o)
      ? actionButton({ class: 'btn-primary', testid: `order-approve-${i}`, on: { click: async () => { await orderAction('approve', o, approve, message); refresh(); } } }, t('orders.approve'))
      : null;
    return h('li', { class: 'event', testid: `order-${i}` },
      h('a', { class: 'event-type', href: '#/orders' }, commodityLabel(o), ' · ', o.tankName),
      h('span', { class: 'event-time' }, statusBadge(o)),
      h('span', { class: 'event-summary' }, [formatQuantity(o.quantityL), o.supplierName, o.eta !== null ? t('orders.eta_at', { when: formatRelative(o.eta) }) : null].filter(Boolean).join(' · ')),
      approve ? h('div', { class: 'actions' }, approve) : null);
  })));
}

async function loadOrders() {
  try {
    return readOrders(await api.get('/api/resupply/orders?status=open'));
  } catch (err) {
    if (isNotConfigured(err)) return []; // resupply is not set up on this hub
    throw err;
  }
}

/** The newest alarms from the panel's history (no wait for the recorder), else the recorded events. */
async function loadAlarms() {
  let body;
  try {
    body = await api.get('/api/alarm_panel/alarms?status=all&limit=5');
  } catch (err) {
    if (isNotConfigured(err)) return loadEvents(['alarm_raised']); // no alarm panel on this hub
    throw err;
  }
  return asList(body, 'alarms').filter((a) => a && typeof a === 'object').slice(0, 5).map((raw) => {
    const a = readAlarm(raw);
    return { event_type: a.status === 'restored' ? 'alarm_restored' : 'alarm_raised', data: raw, time_fired: a.time };
  });
}

async function loadEvents(types) {
  const bodies = await Promise.all(types.map((type) => api.get(`/api/events?event_type=${api.enc(type)}&limit=5`)));
  return mergeEvents(bodies, 5);
}

export async function mount(main, app) {
  const healthEl = h('section', { class: 'health', testid: 'health', 'aria-label': t('health.title') }, loading());
  const cardsEl = h('div', { class: 'areas', testid: 'areas' }, loading());
  const orderMessage = notice({ role: 'status', testid: 'order-message' }); // outlives the list's redraws
  const ordersEl = h('div', {}, loading());
  const alarmsEl = h('div', { testid: 'recent-alarms' }, loading());
  main.append(h('div', { class: 'page' },
    pageTitle('overview.title'),
    takeFlash(app),
    healthEl,
    cardsEl,
    h('div', { class: 'two-col' },
      section('overview.orders', h('div', { testid: 'open-orders' }, orderMessage.el, ordersEl)),
      section('overview.alarms', alarmsEl))));

  const disposers = [];
  let cards = [];
  let registry = { entities: [], devices: [] };
  let relayoutTimer = null;

  async function refreshHealth() {
    try { renderHealth(healthEl, await api.get('/api/health')); } catch (err) { fill(healthEl, h('p', { class: 'notice notice-error' }, err.message)); }
  }
  async function refreshEvents() {
    await Promise.all([
      loadOrders().then((orders) => renderOrders(ordersEl, orders, orderMessage, refreshEvents), (err) => fill(ordersEl, h('p', { class: 'notice notice-error' }, err.message))),
      loadAlarms().then((evs) => renderEvents(alarmsEl, evs, 'overview.no_alarms', 'alarm'), (err) => fill(alarmsEl, h('p', { class: 'notice notice-error' }, err.message))),
    ]);
  }

  async function loadRegistry() {
    const [entities, devices] = await Promise.all([
      api.get('/api/entities').catch(() => []), api.get('/api/devices').catch(() => []),
    ]);
    registry = { entities: asList(entities, 'entities'), devices: asList(devices, 'devices') };
  }

  function layout() {
    for (const c of cards) { c.off.forEach((off) => off()); if (c.card.destroy) c.card.destroy(); }
    cards = [];
    const groups = layoutOverview(store.allStates(), registry.entities, registry.devices);
    if (!groups.length) { fill(cardsEl, emptyState(store.hasSnapshot() ? 'overview.no_entities' : 'common.loading')); return; }
    clear(cardsEl);
    for (const group of groups) {
      const grid = h('div', { class: 'grid' });
      for (const spec of group.cards) {
        const card = createCard(spec, store.getState);
        const off = spec.entityIds.map((id) => store.onEntity(id, (st) => card.update(id, st)));
        cards.push({ card, off });
        grid.append(card.el);
      }
      const headingId = `area-${group.area === null ? 'other' : group.area}`.replace(/\W+/g, '-');
      cardsEl.append(h('section', { class: 'area', 'aria-labelledby': headingId },
        h('h2', { id: headingId, class: 'area-title' }, group.area === null ? t('overview.other_area') : group.area), grid));
    }
  }

  // Entities came or went: the registry may have news too (a new device, an area).
  const relayout = () => {
    clearTimeout(relayoutTimer);
    relayoutTimer = setTimeout(async () => { await loadRegistry(); layout(); }, 300);
  };
  await loadRegistry();
  if (!store.hasSnapshot()) {
    // The websocket may still be connecting; show the REST snapshot meanwhile.
    try { store.replaceAll(asList(await api.get('/api/states'), 'states'), 'rest'); } catch { /* the socket will fill it */ }
  }
  layout();
  disposers.push(store.onMembership(relayout));
  refreshHealth();
  refreshEvents();
  const timer = setInterval(() => { refreshHealth(); refreshEvents(); }, HEALTH_EVERY_MS);

  // New orders and alarms show at once when the hub lets us subscribe; polling covers the rest.
  if (app.socket) {
    for (const type of [...ORDER_EVENTS, ...ALARM_EVENTS]) {
      disposers.push(app.socket.subscribeEvents(type, () => refreshEvents(), () => {}));
    }
  }

  return () => {
    clearInterval(timer);
    clearTimeout(relayoutTimer);
    disposers.forEach((off) => off());
    for (const c of cards) { c.off.forEach((off) => off()); if (c.card.destroy) c.card.destroy(); }
  };
}

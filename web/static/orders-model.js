// Pure logic of the resupply pages (no DOM): reading GET /api/resupply/orders, which buttons an
// order gets, and the texts for litres, money and short deliveries. Tested by web/tests/orders.test.js.
import { formatLitres, formatNumber, formatPercent, getLanguage } from './i18n.js';
import { asList } from './model.js';

/** Statuses of an order that is still going somewhere; the rest are history. */
export const OPEN_STATUSES = ['awaiting_approval', 'queued', 'sent', 'confirmed'];
export const CLOSED_STATUSES = ['delivered', 'failed', 'cancelled'];

/** Every event the resupply manager fires on a transition; any of them changes the lists. */
export const ORDER_EVENTS = ['order_created', 'order_sent', 'order_confirmed', 'order_delivered', 'order_failed', 'order_cancelled'];

/** Polling period of the orders page when the websocket cannot tell us about transitions. */
export const POLL_MS = 10000;

const STATUS_KIND = {
  awaiting_approval: 'warn', queued: 'info', sent: 'info', confirmed: 'info',
  delivered: 'ok', failed: 'bad', cancelled: 'muted',
};

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function text(v) {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** One order with every field present (null when the server left it out). */
export function readOrder(raw) {
  const o = raw && typeof raw === 'object' ? raw : {};
  return {
    id: String(o.id ?? ''),
    tank: text(o.tank),
    tankName: text(o.tank_name) || text(o.tank) || '',
    supplier: text(o.supplier),
    supplierName: text(o.supplier_name) || text(o.supplier) || '',
    commodity: text(o.commodity),
    status: text(o.status) || 'unknown',
    quantityL: num(o.quantity_l),
    priceEstimate: num(o.price_estimate),
    price: num(o.price),
    currency: text(o.currency),
    created: o.created ?? null,
    sent: o.sent ?? null,
    confirmed: o.confirmed ?? null,
    eta: o.eta ?? null,
    delivered: o.delivered ?? null,
    deliveredL: num(o.delivered_l),
    short: o.short === true,
    reason: text(o.reason),
    lastError: text(o.last_error),
    supplierMessage: text(o.supplier_message),
    approvedBy: text(o.approved_by),
  };
}

/** GET /api/resupply/orders -> orders, newest first (the server's order is kept when it has no times). */
export function readOrders(body) {
  const list = asList(body, 'orders').filter((o) => o && typeof o === 'object').map(readOrder);
  const at = (o) => {
    const n = Number(o.created);
    return Number.isFinite(n) ? n : (Date.parse(o.created) / 1000 || 0);
  };
  return list.map((o, i) => [o, i]).sort((a, b) => at(b[0]) - at(a[0]) || a[1] - b[1]).map(([o]) => o);
}

export function isOpen(order) {
  return OPEN_STATUSES.includes(order.status);
}

/** Only an order waiting for a resident can be approved. */
export function canApprove(order) {
  return order.status === 'awaiting_approval';
}

/** An order can be cancelled until it is delivered, failed or already cancelled. */
export function canCancel(order) {
  return isOpen(order);
}

/** Badge colour for a status ('ok' | 'bad' | 'warn' | 'info' | 'muted'). */
export function statusKind(status) {
  return STATUS_KIND[status] || 'muted';
}

/** Icon name (components/icons.js) for a commodity. */
export function commodityIcon(commodity) {
  return commodity === 'lp_gas' ? 'flame' : 'drop';
}

/** An amount of money in the order's currency; a currency Intl does not know is written after the number. */
export function formatMoney(amount, currency, lang = getLanguage()) {
  if (num(amount) === null) return '—';
  if (currency) {
    try {
      return new Intl.NumberFormat(lang, { style: 'currency', currency }).format(amount);
    } catch { /* not an ISO 4217 code: fall through */ }
  }
  const plain = formatNumber(amount, { minimumFractionDigits: 2, maximumFractionDigits: 2 }, lang);
  return currency ? `${plain} ${currency}` : plain;
}

export function formatQuantity(litres) {
  return num(litres) === null ? '—' : formatLitres(litres);
}

/**
 * What a short delivery lacked: {missing, percent} as formatted texts, or null when the order is
 * not flagged short. Missing litres are unknown (null) when the delivered amount was not measured.
 */
export function shortfall(order) {
  if (!order.short) return null;
  if (order.quantityL === null || order.deliveredL === null || order.quantityL <= 0) return { missing: null, percent: null };
  const missing = Math.max(0, order.quantityL - order.deliveredL);
  return { missing: formatLitres(missing), percent: formatPercent((missing / order.quantityL) * 100, 0) };
}

/** The supplier's own words win over our transport error: they say why the order failed. */
export function failureText(order) {
  return order.supplierMessage || order.lastError || null;
}

/** Ordered litres against delivered ones, e.g. {ordered: '10,000 L', delivered: '9,200 L'}. */
export function deliveredVsOrdered(order) {
  return { ordered: formatQuantity(order.quantityL), delivered: formatQuantity(order.deliveredL) };
}

/** Whether the page must poll: no socket, a socket that is down, or the hub refused an event subscription. */
export function needsPolling({ hasSocket, status, refused }) {
  return !hasSocket || status !== 'connected' || refused;
}

/** A 404 from the orders endpoint means resupply is not set up on this hub: no orders, not an error. */
export function isNotConfigured(err) {
  return Boolean(err && err.status === 404);
}

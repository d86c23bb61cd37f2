// #/orders: water and gas orders. Open ones can be approved (when waiting for a resident) or
// cancelled (after a confirmation); history shows what was delivered, short deliveries and failures.
import { h, actionButton, busy, mount as fill } from '../dom.js';
import * as api from '../api.js';
import { t, tOr, formatDateTime, formatRelative } from '../i18n.js';
import {
  readOrders, canApprove, canCancel, statusKind, commodityIcon, formatMoney, formatQuantity, shortfall,
  failureText, deliveredVsOrdered, needsPolling, isNotConfigured, ORDER_EVENTS, POLL_MS,
} from '../orders-model.js';
import { pageTitle, section, loading, emptyState, notice, badge, dl } from '../components/ui.js';
import { confirmDialog } from '../components/dialog.js';
import { icon } from '../components/icons.js';

export const titleKey = 'orders.title';

const EVENT_DEBOUNCE_MS = 200; // one transition fires one event, but a burst (several tanks) needs one refresh

export function statusBadge(order, testid) {
  const el = badge(tOr(`order.status.${order.status}`, order.status), statusKind(order.status));
  if (testid) el.dataset.testid = testid;
  return el;
}

/** "Water delivery" / "Pipa de agua" with its icon. */
export function commodityLabel(order) {
  return h('span', { class: 'commodity' }, icon(commodityIcon(order.commodity)), ' ',
    order.commodity ? tOr(`orders.delivery.${order.commodity}`, order.commodity) : '—');
}

function timeText(value) {
  return value === null || value === undefined ? null : `${formatDateTime(value)} (${formatRelative(value)})`;
}

/** Approve or cancel one order and say what happened: true done, false refused, null when not confirmed. */
export async function orderAction(kind, order, btn, message) {
  if (kind === 'cancel') {
    const ok = await confirmDialog({
      title: t('orders.cancel_title'),
      message: t('orders.cancel_confirm', { quantity: formatQuantity(order.quantityL), tank: order.tankName, supplier: order.supplierName }),
      confirmLabel: t('orders.cancel'),
      danger: true,
    });
    if (!ok) return null;
  }
  message.clear();
  return busy(btn, async () => {
    try {
      await api.post(`/api/resupply/orders/${api.enc(order.id)}/${kind}`);
      message.show(t(kind === 'approve' ? 'orders.approved' : 'orders.cancelled'), 'ok');
      return true;
    } catch (err) {
      message.show(err);
      return false;
    }
  });
}

export async function mount(main, app) {
  const message = notice({ role: 'status', testid: 'orders-message' });
  const openEl = h('div', { testid: 'orders-open' }, loading());
  const closedEl = h('div', { testid: 'orders-history' }, loading());
  main.append(pageTitle('orders.title'), message.el, section('orders.open', openEl), section('orders.history', closedEl));

  function actions(order) {
    const buttons = [];
    if (canApprove(order)) {
      const approve = actionButton({ class: 'btn-primary', testid: `approve-${order.id}`, on: { click: async () => { await orderAction('approve', order, approve, message); refresh(); } } }, t('orders.approve'));
      buttons.push(approve);
    }
    if (canCancel(order)) {
      const cancel = actionButton({ class: 'btn-danger', testid: `cancel-${order.id}`, on: { click: async () => { if ((await orderAction('cancel', order, cancel, message)) !== null) refresh(); } } }, t('orders.cancel'));
      buttons.push(cancel);
    }
    return buttons.length ? h('div', { class: 'actions' }, buttons) : null;
  }

  function openRow(o) {
    return h('li', { class: ['item', o.status === 'awaiting_approval' && 'state-retrying'], testid: `open-order-${o.id}` },
      h('div', { class: 'item-main' },
        h('h3', { class: 'item-title' }, commodityLabel(o), ' · ', o.tankName),
        statusBadge(o, `order-status-${o.id}`),
        dl([
          [t('orders.quantity'), formatQuantity(o.quantityL)],
          [t('orders.supplier'), o.supplierName || '—'],
          [t('orders.eta'), timeText(o.eta) || t('orders.eta_unknown')],
          [t('orders.price_estimate'), formatMoney(o.priceEstimate, o.currency)],
          [t('orders.created'), timeText(o.created)],
          o.approvedBy ? [t('orders.approved_by'), o.approvedBy] : null,
          o.reason ? [t('orders.reason'), o.reason] : null,
        ], 'facts inline'),
        o.lastError ? h('p', { class: 'error-text' }, t('orders.last_error', { error: o.lastError })) : null),
      actions(o));
  }

  function closedRow(o) {
    const short = shortfall(o);
    const amounts = deliveredVsOrdered(o);
    const failure = o.status === 'failed' ? failureText(o) : null;
    return h('li', { class: ['item', o.status === 'failed' && 'state-failed'], testid: `closed-order-${o.id}` },
      h('div', { class: 'item-main' },
        h('h3', { class: 'item-title' }, commodityLabel(o), ' · ', o.tankName),
        h('div', {}, statusBadge(o, `order-status-${o.id}`), ' ', short ? badge(t('orders.short'), 'warn') : null),
        dl([
          [t('orders.created'), formatDateTime(o.created)],
          [t('orders.supplier'), o.supplierName || '—'],
          o.delivered !== null ? [t('orders.delivered'), formatDateTime(o.delivered)] : null,
          o.deliveredL === null ? [t('orders.quantity'), amounts.ordered] : [t('orders.ordered_delivered'), t('orders.delivered_of', amounts)],
          short && short.missing ? [t('orders.short'), h('span', { testid: `short-${o.id}` }, t('orders.short_by', short))] : null,
          [t('orders.price'), formatMoney(o.price, o.currency)],
        ], 'facts inline'),
        failure ? h('p', { class: 'error-text', testid: `failure-${o.id}` }, t('orders.failure', { message: failure })) : null));
  }

  function list(el, orders, build, emptyKey) {
    const focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
    fill(el, orders.length ? h('ul', { class: 'list' }, orders.map(build)) : emptyState(emptyKey));
    if (focused) el.querySelector(`[data-testid="${CSS.escape(focused)}"]`)?.focus();
  }

  async function refresh() {
    const [open, closed] = await Promise.allSettled([
      api.get('/api/resupply/orders?status=open'), api.get('/api/resupply/orders?status=closed'),
    ]);
    for (const [el, res, build, emptyKey] of [[openEl, open, openRow, 'orders.none_open'], [closedEl, closed, closedRow, 'orders.none_closed']]) {
      if (res.status === 'fulfilled') list(el, readOrders(res.value), build, emptyKey);
      else if (isNotConfigured(res.reason)) fill(el, emptyState('orders.not_configured'));
      else fill(el, h('p', { class: 'notice notice-error' }, res.reason.message));
    }
  }

  // Transitions arrive as events when the hub lets this user subscribe to them; otherwise poll.
  let refused = false;
  let debounce = null;
  const disposers = [];
  const soon = () => { clearTimeout(debounce); debounce = setTimeout(refresh, EVENT_DEBOUNCE_MS); };
  if (app.socket) {
    for (const type of ORDER_EVENTS) disposers.push(app.socket.subscribeEvents(type, soon, () => { refused = true; }));
  }
  await refresh();
  const timer = setInterval(() => {
    const socket = app.socket;
    if (document.querySelector('dialog[open]')) return; // do not redraw the list under a confirmation
    if (needsPolling({ hasSocket: Boolean(socket), status: socket && socket.status, refused })) refresh();
  }, POLL_MS);
  return () => { clearInterval(timer); clearTimeout(debounce); disposers.forEach((off) => off()); };
}

// Pure logic of the orders pages against literal answers of GET /api/resupply/orders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installDictionary, setLanguage } from '../static/i18n.js';
import {
  readOrder, readOrders, isOpen, canApprove, canCancel, statusKind, commodityIcon, formatMoney, formatQuantity,
  shortfall, failureText, deliveredVsOrdered, needsPolling, isNotConfigured, OPEN_STATUSES, CLOSED_STATUSES, ORDER_EVENTS,
} from '../static/orders-model.js';

installDictionary('en', {});
installDictionary('es-MX', {});

/** An order exactly as the API describes it. */
const order = (extra = {}) => ({
  id: 'ord_01', tank: 'sensor.cistern_level', tank_name: 'Cistern', supplier: 'pipas_marques',
  supplier_name: 'Pipas El Marqués', commodity: 'water', status: 'awaiting_approval', quantity_l: 10000,
  price_estimate: 1200, price: null, currency: 'MXN', created: 1768478400, sent: null, confirmed: null,
  eta: null, delivered: null, delivered_l: null, short: false, reason: 'level 22 % under 25 %',
  last_error: null, supplier_message: null, approved_by: null, ...extra,
});

test('readOrders takes {"orders": [...]} newest first and fills every field', async () => {
  await setLanguage('en', { remember: false });
  const body = { orders: [order({ id: 'old', created: 1768400000 }), order({ id: 'new', created: 1768478400 }), null] };
  const list = readOrders(body);
  assert.deepEqual(list.map((o) => o.id), ['new', 'old']);
  const o = list[0];
  assert.equal(o.tankName, 'Cistern');
  assert.equal(o.supplierName, 'Pipas El Marqués');
  assert.equal(o.quantityL, 10000);
  assert.equal(o.priceEstimate, 1200);
  assert.equal(o.price, null);
  assert.equal(o.short, false);
  assert.equal(o.reason, 'level 22 % under 25 %');
  assert.deepEqual(readOrders({}), []);
  assert.deepEqual(readOrders(null), []);
});

test('names fall back to ids; an unknown status is kept as it comes', () => {
  const o = readOrder({ id: 7, tank: 'sensor.gas', supplier: 'gas_express', status: 'teleported' });
  assert.equal(o.id, '7');
  assert.equal(o.tankName, 'sensor.gas');
  assert.equal(o.supplierName, 'gas_express');
  assert.equal(o.status, 'teleported');
  assert.equal(statusKind('teleported'), 'muted');
  assert.equal(readOrder({}).status, 'unknown');
});

test('Approve only while awaiting approval; Cancel until the order is closed', () => {
  for (const status of OPEN_STATUSES) {
    const o = readOrder(order({ status }));
    assert.equal(isOpen(o), true, status);
    assert.equal(canCancel(o), true, status);
    assert.equal(canApprove(o), status === 'awaiting_approval', status);
  }
  for (const status of CLOSED_STATUSES) {
    const o = readOrder(order({ status }));
    assert.equal(isOpen(o), false, status);
    assert.equal(canCancel(o), false, status);
    assert.equal(canApprove(o), false, status);
  }
});

test('status colours and commodity icons', () => {
  assert.equal(statusKind('awaiting_approval'), 'warn');
  assert.equal(statusKind('delivered'), 'ok');
  assert.equal(statusKind('failed'), 'bad');
  assert.equal(statusKind('cancelled'), 'muted');
  assert.equal(commodityIcon('lp_gas'), 'flame');
  assert.equal(commodityIcon('water'), 'drop');
});

test('money in the order currency, per language; unknown currency codes written after the number', async () => {
  await setLanguage('en', { remember: false });
  assert.equal(formatMoney(1234.5, 'MXN'), 'MX$1,234.50');
  assert.equal(formatMoney(1234.5, 'pesos'), '1,234.50 pesos');
  assert.equal(formatMoney(null, 'MXN'), '—');
  assert.equal(formatMoney(12, null), '12.00');
  await setLanguage('es-MX', { remember: false });
  assert.equal(formatMoney(1234.5, 'MXN'), '$1,234.50');
  assert.equal(formatMoney(1234.5, 'MXN', 'en'), 'MX$1,234.50');
  await setLanguage('en', { remember: false });
});

test('litres: ordered against delivered', async () => {
  await setLanguage('en', { remember: false });
  assert.equal(formatQuantity(10000), '10,000 L');
  assert.equal(formatQuantity(null), '—');
  const o = readOrder(order({ status: 'delivered', delivered_l: 9200 }));
  assert.deepEqual(deliveredVsOrdered(o), { ordered: '10,000 L', delivered: '9,200 L' });
});

test('shortfall says how much was missing only for orders flagged short', async () => {
  await setLanguage('en', { remember: false });
  assert.equal(shortfall(readOrder(order({ status: 'delivered', delivered_l: 9900, short: false }))), null);
  assert.deepEqual(shortfall(readOrder(order({ status: 'delivered', delivered_l: 9200, short: true }))), { missing: '800 L', percent: '8%' });
  assert.deepEqual(shortfall(readOrder(order({ status: 'delivered', delivered_l: null, short: true }))), { missing: null, percent: null });
  // The server decides "short" (it knows the tolerance); the text never argues with it.
  assert.deepEqual(shortfall(readOrder(order({ status: 'delivered', delivered_l: 12000, short: true }))), { missing: '0 L', percent: '0%' });
});

test('a failed order shows the supplier message before our own error', () => {
  assert.equal(failureText(readOrder(order({ status: 'failed', supplier_message: 'Sin servicio en su zona', last_error: 'HTTP 422' }))), 'Sin servicio en su zona');
  assert.equal(failureText(readOrder(order({ status: 'failed', last_error: 'HTTP 422' }))), 'HTTP 422');
  assert.equal(failureText(readOrder(order({ status: 'failed' }))), null);
});

test('polling only when events cannot reach the page', () => {
  assert.equal(needsPolling({ hasSocket: true, status: 'connected', refused: false }), false);
  assert.equal(needsPolling({ hasSocket: true, status: 'connected', refused: true }), true);
  assert.equal(needsPolling({ hasSocket: true, status: 'disconnected', refused: false }), true);
  assert.equal(needsPolling({ hasSocket: false, status: undefined, refused: false }), true);
  assert.deepEqual(ORDER_EVENTS, ['order_created', 'order_sent', 'order_confirmed', 'order_delivered', 'order_failed', 'order_cancelled']);
});

test('a 404 means resupply is not set up; other errors are errors', () => {
  assert.equal(isNotConfigured({ status: 404 }), true);
  assert.equal(isNotConfigured({ status: 500 }), false);
  assert.equal(isNotConfigured(null), false);
});

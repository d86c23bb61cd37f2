// #/entity/<entity_id>: state, attributes and a history chart over 6 h / 24 h / 7 d.
import { h, field, actionButton, mount as fill } from '../dom.js';
import * as api from '../api.js';
import * as store from '../store.js';
import { t, formatDateTime, formatRelative, formatState } from '../i18n.js';
import { friendlyName, isNumeric, normalizeHistory, asList, binaryWording, domainOf, UNAVAILABLE, UNKNOWN } from '../model.js';
import { stateText } from '../components/cards.js';
import { numericChart, timelineChart } from '../components/chart.js';
import { pageTitle, section, loading, notice } from '../components/ui.js';

export const titleKey = 'entity.title';

const RANGES = [['6h', 6 * 3600], ['24h', 24 * 3600], ['7d', 7 * 86400]];
const POINTS = 200;
let lastRange = '24h'; // the chosen range follows the user from entity to entity

function attributeValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return h('code', { class: 'json' }, JSON.stringify(v, null, 1));
  if (typeof v === 'number') return formatState(String(v));
  return String(v);
}

/** The wording a timeline uses for one raw state of this entity. */
function labelFor(entityId, attributes) {
  return (value) => {
    if (value === UNAVAILABLE) return t('state.unavailable');
    if (value === UNKNOWN) return t('state.unknown');
    if (domainOf(entityId) === 'binary_sensor') return t(binaryWording({ state: value, attributes }).key);
    return value;
  };
}

/** Administrators rename, move or disable the entity (PATCH /api/entities/<id>). */
async function settingsSection(entityId) {
  let entry = null;
  try { entry = asList(await api.get('/api/entities'), 'entities').find((e) => e.entity_id === entityId) || null; } catch { /* below */ }
  if (!entry) return section('entity.settings', h('p', { class: 'empty' }, t('entity.not_in_registry')));
  const name = h('input', { name: 'entity_name', value: entry.name || '', placeholder: entry.original_name || '', testid: 'entity-settings-name' });
  const area = h('input', { name: 'entity_area', value: entry.area || '', testid: 'entity-settings-area' });
  const disabled = h('input', { type: 'checkbox', name: 'entity_disabled', testid: 'entity-settings-disabled' });
  disabled.checked = Boolean(entry.disabled);
  const result = notice({ role: 'status' });
  const save = actionButton({ type: 'submit', class: 'btn-primary', testid: 'entity-settings-save' }, t('common.save'));
  const form = h('form', { class: 'form', testid: 'entity-settings' },
    field(t('entity.settings_name'), name, t('entity.settings_name_hint')), field(t('entity.settings_area'), area),
    h('div', { class: 'field field-check' }, h('label', {}, disabled, ' ', t('entity.settings_disabled'))),
    result.el, h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    save.disabled = true;
    try {
      await api.patch(`/api/entities/${api.enc(entityId)}`, {
        name: name.value.trim() || null, area: area.value.trim() || null, disabled: disabled.checked,
      });
      result.show(t('entity.settings_saved'), 'ok');
    } catch (err) { result.show(err); } finally { save.disabled = false; }
  });
  return section('entity.settings', form);
}

export async function mount(main, app, entityId) {
  if (!entityId) { app.navigate('#/overview'); return undefined; }
  if (!store.hasSnapshot()) {
    try { store.replaceAll(asList(await api.get('/api/states'), 'states'), 'rest'); } catch { /* shown below */ }
  }
  let state = store.getState(entityId);
  if (!state) {
    try { state = await api.get(`/api/states/${api.enc(entityId)}`); } catch (err) {
      main.append(pageTitle('entity.not_found'), h('p', { class: 'notice notice-error', role: 'alert' }, err.message),
        h('p', {}, h('a', { href: '#/overview' }, t('entity.back'))));
      return undefined;
    }
  }

  const heading = h('h1', { tabindex: '-1', testid: 'entity-name' }, friendlyName(state, entityId));
  const value = h('p', { class: 'entity-state', testid: `value-${entityId}` });
  const changed = h('p', { class: 'entity-changed' });
  const reason = h('p', { class: 'card-note', hidden: true });
  const attrs = h('div', {});
  const chartBox = h('div', { class: 'chart-box', 'aria-live': 'polite' }, loading());
  const chartError = notice({ role: 'alert' });
  const rangeButtons = RANGES.map(([key]) => h('button', {
    type: 'button', class: 'btn btn-toggle', testid: `range-${key}`, 'aria-pressed': String(key === lastRange),
    on: { click: () => { lastRange = key; updateRangeButtons(); loadChart(); } },
  }, t(`entity.range.${key}`)));
  const updateRangeButtons = () => rangeButtons.forEach((b, i) => b.setAttribute('aria-pressed', String(RANGES[i][0] === lastRange)));

  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/overview' }, t('entity.back'))),
    h('div', { class: 'page-head' }, heading, h('p', { class: 'entity-id' }, h('code', {}, entityId))),
    h('div', { class: 'entity-summary', testid: 'entity-summary' }, value, changed, reason),
    section('entity.history', h('div', { class: 'toolbar', role: 'group', 'aria-label': t('entity.range.label') }, rangeButtons), chartError.el, chartBox),
    section('entity.attributes', attrs));
  if (app.isAdmin()) main.append(await settingsSection(entityId));

  function renderState(st) {
    if (!st) {
      value.textContent = t('entity.removed');
      return;
    }
    state = st;
    heading.textContent = friendlyName(st, entityId);
    value.textContent = domainOf(entityId) === 'binary_sensor' && (st.state === 'on' || st.state === 'off')
      ? t(binaryWording(st).key) : stateText(st);
    changed.textContent = t('entity.last_changed', { when: formatDateTime(st.last_changed), ago: formatRelative(st.last_changed) });
    const off = st.state === UNAVAILABLE;
    reason.hidden = !off || !st.attributes.unavailable_reason;
    reason.textContent = off && st.attributes.unavailable_reason ? t('card.unavailable_reason', { reason: st.attributes.unavailable_reason }) : '';
    main.querySelector('.entity-summary').classList.toggle('is-unavailable', off);
    const rows = Object.entries(st.attributes || {}).sort(([a], [b]) => a.localeCompare(b));
    fill(attrs, rows.length
      ? h('table', { class: 'table attributes', testid: 'attributes' },
        h('caption', { class: 'visually-hidden' }, t('entity.attributes')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('entity.attribute')), h('th', { scope: 'col' }, t('entity.value')))),
        h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, attributeValue(v))))))
      : h('p', { class: 'empty' }, t('entity.no_attributes')));
  }

  let chartSeq = 0;
  async function loadChart() {
    const seq = ++chartSeq;
    const seconds = RANGES.find(([k]) => k === lastRange)[1];
    const end = Date.now();
    const start = end - seconds * 1000;
    const q = `start=${api.enc(new Date(start).toISOString())}&end=${api.enc(new Date(end).toISOString())}`;
    const name = friendlyName(state, entityId);
    const rangeLabel = t(`entity.range_long.${lastRange}`);
    const unit = state && state.attributes ? state.attributes.unit_of_measurement : undefined;
    chartError.clear();
    try {
      let drawn = null;
      // Numeric when the entity has a unit or a numeric state; those get min/mean/max buckets.
      if (unit || (state && isNumeric(state.state))) {
        const stats = normalizeHistory(await api.get(`/api/history/${api.enc(entityId)}?${q}&points=${POINTS}`));
        if (stats.kind === 'stats' && stats.buckets.length) {
          drawn = { svg: numericChart({ buckets: stats.buckets, start, end, unit, name, rangeLabel, points: POINTS, current: state ? Number(state.state) : undefined }), legend: null };
        }
      }
      if (!drawn) {
        const raw = normalizeHistory(await api.get(`/api/history/${api.enc(entityId)}?${q}`));
        const states = raw.kind === 'raw' ? raw.states : [];
        drawn = timelineChart({ states, start, end, name, rangeLabel, labelFor: labelFor(entityId, state ? state.attributes : {}) });
      }
      if (seq === chartSeq) fill(chartBox, drawn.svg, drawn.legend);
    } catch (err) {
      if (seq === chartSeq) { fill(chartBox); chartError.show(err); }
    }
  }

  renderState(state);
  loadChart();
  // Redraw the chart now and then while the entity changes; the state line updates at once.
  let chartTimer = null;
  const off = store.onEntity(entityId, (st) => {
    renderState(st);
    if (!chartTimer) chartTimer = setTimeout(() => { chartTimer = null; loadChart(); }, 15000);
  });
  return () => { off(); clearTimeout(chartTimer); };
}

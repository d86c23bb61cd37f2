// Overview cards. A card is built once and updated in place when a state arrives, so a change
// pushed by the hub shows within a frame and keyboard focus inside the card is not lost.
import { h, actionButton, busy, clear } from '../dom.js';
import * as api from '../api.js';
import { t, tOr, formatState, formatLitres, formatNumber, formatPercent } from '../i18n.js';
import { UNAVAILABLE, UNKNOWN, binaryWording, friendlyName, isNumeric, tankInfo } from '../model.js';
import { activeAlarmCount, countdown, formatClock, needsCode } from '../alarms-model.js';
import { createTankGauge } from './gauge.js';
import { icon, iconForKind } from './icons.js';
import { pinPad } from './pinpad.js';
import { panicButton } from './panic.js';

/** Text of a state value as shown on cards: numbers localised, unit appended. */
export function stateText(state) {
  if (!state) return t('state.unavailable');
  if (state.state === UNAVAILABLE) return t('state.unavailable');
  if (state.state === UNKNOWN) return t('state.unknown');
  const unit = state.attributes && state.attributes.unit_of_measurement;
  const value = isNumeric(state.state) ? formatState(state.state) : state.state;
  return unit ? (unit === '%' ? `${value} %` : `${value} ${unit}`) : value;
}

function isUnavailable(state) {
  return !state || state.state === UNAVAILABLE;
}

function entityLink(entityId, text) {
  return h('a', { href: `#/entity/${entityId}`, class: 'card-link' }, text);
}

/** The shell every card shares; body and updates are per kind. */
function shell(spec, state, extraClass) {
  const single = spec.entityIds.length === 1;
  const titleId = `card-title-${spec.key.replace(/[^\w-]/g, '_')}`;
  const title = h('h3', { class: 'card-title', id: titleId },
    single ? entityLink(spec.entityIds[0], spec.name) : spec.name);
  const note = h('p', { class: 'card-note', hidden: true });
  const body = h('div', { class: 'card-body' });
  const el = h('article', {
    class: ['card', `kind-${spec.kind}`, extraClass],
    testid: single ? `card-${spec.entityIds[0]}` : `card-${spec.key}`,
    'aria-labelledby': titleId,
  }, h('div', { class: 'card-head' }, icon(iconForKind(spec.kind, state)), title), body, note);
  return { el, body, note, title };
}

function setUnavailable(el, note, state) {
  const off = isUnavailable(state);
  el.classList.toggle('is-unavailable', off);
  const reason = state && state.attributes && state.attributes.unavailable_reason;
  note.hidden = !off;
  note.textContent = off ? (reason ? t('card.unavailable_reason', { reason }) : t('state.unavailable')) : '';
}

function tankCard(spec, getState) {
  const state = getState(spec.entityIds[0]);
  const { el, body, note } = shell(spec, state);
  const id = spec.entityIds[0];
  const gauge = createTankGauge();
  const value = h('p', { class: 'card-value', testid: `value-${id}` });
  const commodity = h('p', { class: 'card-sub' });
  const litres = h('p', { class: 'card-detail' });
  const days = h('p', { class: 'card-detail' });
  body.classList.add('tank-body');
  body.append(gauge.el, h('div', { class: 'tank-text' }, value, commodity, litres, days));
  function update(_id, st) {
    setUnavailable(el, note, st);
    if (!st || !st.attributes || !st.attributes.tank || isUnavailable(st)) {
      value.textContent = stateText(st);
      return;
    }
    const info = tankInfo(st);
    el.dataset.severity = info.severity;
    value.textContent = info.level === null ? stateText(st) : formatPercent(info.level, 0);
    commodity.textContent = t(`tank.commodity.${info.commodity}`);
    litres.textContent = info.volumeL !== null && info.capacityL !== null
      ? t('tank.litres_of', { volume: formatLitres(info.volumeL), capacity: formatLitres(info.capacityL) })
      : info.volumeL !== null ? formatLitres(info.volumeL) : '';
    days.textContent = info.daysUntilEmpty === null
      ? t('tank.days_unknown')
      : t('tank.days_until_empty', { count: Math.round(info.daysUntilEmpty), n: formatNumber(info.daysUntilEmpty, { maximumFractionDigits: info.daysUntilEmpty < 10 ? 1 : 0 }) });
    const severity = t(`tank.severity.${info.severity}`);
    gauge.update(info, t('tank.gauge_label', { commodity: commodity.textContent, level: value.textContent, severity }));
  }
  update(id, state);
  return { el, update };
}

function climateCard(spec, getState) {
  const { el, body, note } = shell(spec, getState(spec.entityIds[0]));
  const single = spec.entityIds.length === 1;
  const rows = new Map();
  for (const id of spec.entityIds) {
    const st = getState(id);
    const label = h('span', { class: 'reading-label' });
    const value = h('span', { class: 'card-value reading-value', testid: `value-${id}` });
    const rowNote = h('span', { class: 'card-note', hidden: true });
    const row = h('div', { class: 'reading', testid: single ? null : `card-${id}` },
      single ? label : entityLink(id, label), value, rowNote);
    rows.set(id, { row, label, value, rowNote, dc: st && st.attributes && st.attributes.device_class });
    body.append(row);
  }
  function update(id, st) {
    const r = rows.get(id);
    if (!r) return;
    const dc = (st && st.attributes && st.attributes.device_class) || r.dc;
    r.label.textContent = t(`climate.${dc || 'value'}`);
    r.value.textContent = stateText(st);
    if (single) setUnavailable(el, note, st);
    else setUnavailable(r.row, r.rowNote, st);
  }
  for (const id of spec.entityIds) update(id, getState(id));
  return { el, update };
}

function binaryCard(spec, getState) {
  const id = spec.entityIds[0];
  const { el, body, note } = shell(spec, getState(id));
  const value = h('p', { class: 'card-value', testid: `value-${id}` });
  body.append(value);
  function update(_id, st) {
    setUnavailable(el, note, st);
    if (isUnavailable(st) || st.state === UNKNOWN) {
      value.textContent = stateText(st);
      el.classList.remove('is-alert', 'is-on');
      return;
    }
    const wording = binaryWording(st);
    value.textContent = t(wording.key);
    el.classList.toggle('is-alert', wording.alert);
    el.classList.toggle('is-on', st.state === 'on');
  }
  update(id, getState(id));
  return { el, update };
}

const ARM_SERVICES = ['arm_away', 'arm_home', 'arm_night'];

function alarmCard(spec, getState) {
  const id = spec.entityIds[0];
  const { el, body, note } = shell(spec, getState(id));
  const value = h('p', { class: 'card-value', testid: `value-${id}` });
  // Ticks every second, so it is not a live region: the state change itself is announced.
  const delay = h('p', { class: 'card-detail countdown', testid: `alarm-countdown-${id}`, hidden: true });
  const active = h('a', { class: 'badge badge-bad alarm-count', href: '#/alarms', testid: `alarm-active-${id}`, hidden: true });
  const changedBy = h('p', { class: 'card-detail' });
  const message = h('p', { class: 'card-detail', role: 'status' });
  const buttons = h('div', { class: 'actions alarm-actions' });
  const panic = panicButton(id, { testid: `alarm-panic-${id}`, onSent: () => { message.textContent = t('panic.sent'); } });
  const panicRow = h('div', { class: 'actions panic-row' }, panic);
  body.append(value, delay, active, changedBy, buttons, panicRow, message);
  let current = getState(id);
  let ticker = null;

  async function call(service, btn) {
    const run = (code) => api.post(`/api/services/alarm_panel/${service}`,
      code === undefined ? { entity_id: id } : { entity_id: id, code });
    message.textContent = '';
    if (needsCode(current, service)) {
      const done = await pinPad({ title: t(`alarm.action.${service}`), submit: run });
      if (done) message.textContent = t('alarm.sent');
      return;
    }
    await busy(btn, async () => {
      try { await run(); message.textContent = t('alarm.sent'); } catch (err) { message.textContent = err.message; }
    });
  }

  function renderButtons(st) {
    clear(buttons);
    if (isUnavailable(st)) return;
    const armed = st.state !== 'disarmed';
    const services = armed ? ['disarm'] : ARM_SERVICES;
    for (const service of services) {
      const btn = actionButton({
        class: service === 'disarm' ? 'btn-primary' : '', testid: `alarm-${service}-${id}`,
        on: { click: () => call(service, btn) },
      }, t(`alarm.action.${service}`));
      buttons.append(btn);
    }
  }

  /** The exit or entry delay left, counted down here between the hub's state writes. */
  function tick() {
    const left = countdown(current, Date.now() / 1000);
    delay.hidden = !left;
    delay.textContent = left ? t(`alarm.countdown.${left.phase}`, { time: formatClock(left.seconds) }) : '';
    const running = Boolean(left && left.seconds > 0);
    // A card dropped without destroy() (it left the page) stops its own timer.
    if (running && !ticker) ticker = setInterval(() => (el.isConnected ? tick() : stop()), 1000);
    if (!running) stop();
  }

  function stop() {
    clearInterval(ticker);
    ticker = null;
  }

  function update(_id, st) {
    const changedMode = !current || !st || (current.state === 'disarmed') !== (st.state === 'disarmed') || isUnavailable(current) !== isUnavailable(st);
    current = st;
    setUnavailable(el, note, st);
    const off = isUnavailable(st);
    value.textContent = off ? stateText(st) : tOr(`alarm.state.${st.state}`, st.state);
    el.classList.toggle('is-alert', Boolean(st && (st.state === 'triggered' || st.state === 'pending')));
    const count = off ? 0 : activeAlarmCount(st);
    active.hidden = count === 0;
    active.textContent = count ? t('alarm.active_count', { count }) : '';
    const by = !off && st.attributes && st.attributes.changed_by;
    changedBy.hidden = !by;
    changedBy.textContent = by ? t('alarm.changed_by', { user: by }) : '';
    panicRow.hidden = off;
    if (changedMode || !buttons.firstChild) renderButtons(st);
    tick();
  }
  update(id, current);
  return { el, update, destroy: stop };
}

function cameraCard(spec, getState) {
  const id = spec.entityIds[0];
  const { el, body, note, title } = shell(spec, getState(id));
  const img = h('img', { class: 'camera-img', alt: '', hidden: true, loading: 'lazy', decoding: 'async' });
  const none = h('p', { class: 'card-detail camera-none' });
  const value = h('p', { class: 'card-sub', testid: `value-${id}` });
  body.append(img, none, value);
  let shownUrl = null;
  let objectUrl = null;

  async function load(url) {
    shownUrl = url;
    if (!url) { img.hidden = true; none.hidden = false; none.textContent = t('camera.no_picture'); return; }
    try {
      let src = url;
      // API paths need the bearer token, which <img> cannot send: fetch and show as a blob.
      if (url.startsWith('/api/')) {
        const blob = await api.getBlob(url);
        if (shownUrl !== url) return;
        if (objectUrl) URL.revokeObjectURL(objectUrl);
        objectUrl = src = URL.createObjectURL(blob);
      }
      img.src = src;
      img.alt = t('camera.alt', { name: title.textContent });
      img.hidden = false;
      none.hidden = true;
    } catch {
      img.hidden = true;
      none.hidden = false;
      none.textContent = t('camera.no_picture');
    }
  }

  function update(_id, st) {
    setUnavailable(el, note, st);
    value.textContent = st && !isUnavailable(st) ? tOr(`camera.state.${st.state}`, stateText(st)) : stateText(st);
    const url = st && !isUnavailable(st) ? st.attributes.entity_picture || null : null;
    if (url !== shownUrl) load(url);
  }
  update(id, getState(id));
  return { el, update, destroy: () => { if (objectUrl) URL.revokeObjectURL(objectUrl); } };
}

function genericCard(spec, getState) {
  const id = spec.entityIds[0];
  const { el, body, note } = shell(spec, getState(id));
  const value = h('p', { class: 'card-value', testid: `value-${id}` });
  body.append(value);
  function update(_id, st) {
    setUnavailable(el, note, st);
    value.textContent = stateText(st);
  }
  update(id, getState(id));
  return { el, update };
}

const BUILDERS = { tank: tankCard, climate: climateCard, binary: binaryCard, alarm: alarmCard, camera: cameraCard, generic: genericCard };

/** spec from model.layoutOverview; getState(id) -> state. Returns {el, update(id, state), destroy?}. */
export function createCard(spec, getState) {
  if (!spec.name) spec.name = friendlyName(getState(spec.entityIds[0]), spec.entityIds[0]);
  return (BUILDERS[spec.kind] || genericCard)(spec, getState);
}

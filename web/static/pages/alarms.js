// #/alarms: what is going off now (with Acknowledge and the camera's snapshot), then what went
// off before, and a panic button. Live through the alarm events, polling when they cannot come.
import { h, actionButton, busy, clear, mount as fill } from '../dom.js';
import * as api from '../api.js';
import * as store from '../store.js';
import { t, tOr, formatDateTime, formatRelative } from '../i18n.js';
import { asList, friendlyName } from '../model.js';
import {
  readAlarm, readAlarms, upsertAlarms, splitAlarms, canAcknowledge, personName, categoryIcon, statusKind, zoneText,
  snapshotSource, alarmPanels, needsPolling, isNotConfigured, ALARM_EVENTS, POLL_MS,
} from '../alarms-model.js';
import { pageTitle, section, loading, emptyState, notice, badge, dl } from '../components/ui.js';
import { openDialog } from '../components/dialog.js';
import { icon } from '../components/icons.js';
import { panicButton } from '../components/panic.js';

export const titleKey = 'alarms.title';

const HISTORY_SHOWN = 100; // the newest; older ones stay in the hub's history table

function timeText(value) {
  return value === null || value === undefined ? null : `${formatDateTime(value)} (${formatRelative(value)})`;
}

/** "Gas leak" with its icon, and a "Trouble" badge for troubles (a sensor gone silent is not a burglar). */
export function categoryLabel(alarm) {
  return h('span', { class: 'alarm-category' }, icon(categoryIcon(alarm.category)),
    tOr(`alarm.category.${alarm.category}`, alarm.category),
    alarm.kind === 'trouble' ? [' ', badge(t('alarm.kind.trouble'), 'warn')] : null);
}

/** Pictures fetched once per page with the bearer token (an <img> cannot send it), freed on leaving. */
function pictureCache() {
  const urls = new Map(); // snapshot reference -> Promise<src>
  return {
    load(url) {
      if (!urls.has(url)) {
        const how = snapshotSource(url);
        urls.set(url, how === 'token' ? api.getBlob(url).then((blob) => URL.createObjectURL(blob)) : Promise.resolve(how ? url : null));
      }
      return urls.get(url);
    },
    dispose() {
      for (const p of urls.values()) p.then((src) => { if (src && src.startsWith('blob:')) URL.revokeObjectURL(src); }, () => {});
      urls.clear();
    },
  };
}

function snapshotThumb(alarm, pictures) {
  if (!snapshotSource(alarm.snapshot)) return null;
  const alt = t('alarms.snapshot_alt', { what: tOr(`alarm.category.${alarm.category}`, alarm.category), zone: zoneText(alarm.zone) || '—' });
  const img = h('img', { class: 'snapshot-img', alt, hidden: true, decoding: 'async' });
  const none = h('span', { class: 'card-detail' }, t('common.loading'));
  const open = () => openDialog({
    title: t('alarms.snapshot'), className: 'dialog-snapshot', testid: 'snapshot-dialog',
    build: () => h('div', { class: 'dialog-body' }, h('img', { class: 'snapshot-large', src: img.src, alt })),
  });
  const btn = h('button', { type: 'button', class: 'snapshot', testid: `snapshot-${alarm.id}`, 'aria-label': t('alarms.snapshot_open'), on: { click: open } }, img, none);
  pictures.load(alarm.snapshot).then((src) => {
    if (!src) throw new Error('no picture');
    img.src = src;
    img.hidden = false;
    none.remove();
  }).catch(() => { none.textContent = t('camera.no_picture'); btn.disabled = true; });
  return btn;
}

export async function mount(main, app) {
  const message = notice({ role: 'status', testid: 'alarms-message' });
  const panicBox = h('div', { class: 'actions panic-row', testid: 'alarms-panic' });
  const activeEl = h('div', { testid: 'alarms-active' }, loading());
  const historyEl = h('div', { testid: 'alarms-history' }, loading());
  main.append(pageTitle('alarms.title', panicBox), message.el, section('alarms.active', activeEl), section('alarms.history', historyEl));

  const alarms = new Map();
  // acknowledged_by may be a user id: name the people we can (everyone for an administrator).
  const people = new Map(app.me ? [[String(app.me.id), app.me.name || app.me.username]] : []);
  if (app.isAdmin()) {
    api.get('/api/users').then((body) => {
      for (const u of asList(body, 'users')) if (u && u.id !== undefined) people.set(String(u.id), u.name || u.username);
      draw();
    }, () => {});
  }
  const pictures = pictureCache();
  let loaded = false;
  let refreshError = false; // the message shows a failed read, to be cleared by the next good one

  function drawPanic() {
    const panels = alarmPanels(store.allStates());
    fill(panicBox, panels.map((id) => panicButton(id, {
      testid: `panic-${id}`,
      label: panels.length > 1 ? t('panic.button_named', { name: friendlyName(store.getState(id), id) }) : null,
      onSent: () => { message.show(t('panic.sent'), 'ok'); refresh(); },
    })));
  }

  async function acknowledge(alarm, btn) {
    message.clear();
    await busy(btn, async () => {
      try {
        const body = await api.post(`/api/alarm_panel/alarms/${api.enc(alarm.id)}/acknowledge`);
        upsertAlarms(alarms, [readAlarm(body && body.id !== undefined ? body : { ...body, id: alarm.id, status: 'acknowledged' })]);
        message.show(t('alarms.acknowledged'), 'ok');
      } catch (err) {
        message.show(err); // e.g. 409: someone else acknowledged it meanwhile
        refresh();
      }
    });
    draw();
  }

  function row(alarm, past) {
    const ack = canAcknowledge(alarm)
      ? actionButton({ class: 'btn-primary', testid: `ack-${alarm.id}`, on: { click: () => acknowledge(alarm, ack) } }, t('alarms.acknowledge'))
      : null;
    const stateClass = alarm.status === 'restored' ? null : (alarm.kind === 'trouble' ? 'state-retrying' : 'state-failed');
    return h('li', { class: ['item', 'alarm-item', stateClass], testid: `${past ? 'past' : 'active'}-alarm-${alarm.id}` },
      h('div', { class: 'item-main' },
        h('h3', { class: 'item-title' }, categoryLabel(alarm)),
        badge(tOr(`alarm.status.${alarm.status}`, alarm.status), statusKind(alarm.status)),
        alarm.message ? h('p', { class: 'alarm-message' }, alarm.message) : null,
        dl([
          [t('alarms.zone'), zoneText(alarm.zone) || alarm.entityId || '—'],
          [t('alarms.time'), timeText(alarm.time)],
          alarm.mode ? [t('alarms.mode'), tOr(`alarm.state.${alarm.mode}`, alarm.mode)] : null,
          alarm.user !== null ? [t('alarms.user'), String(alarm.user)] : null,
          alarm.acknowledgedBy || alarm.acknowledgedAt !== null
            ? [t('alarms.acknowledged_by'), [personName(alarm.acknowledgedBy, people) || '—', alarm.acknowledgedAt !== null ? ` (${formatDateTime(alarm.acknowledgedAt)})` : '']]
            : null,
          alarm.restoredAt !== null ? [t('alarms.restored_at'), timeText(alarm.restoredAt)] : null,
        ], 'facts inline')),
      snapshotThumb(alarm, pictures),
      ack ? h('div', { class: 'actions' }, ack) : null);
  }

  function list(el, items, past, emptyKey) {
    const focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
    fill(el, items.length ? h('ul', { class: 'list' }, items.map((a) => row(a, past))) : emptyState(emptyKey));
    if (focused) el.querySelector(`[data-testid="${CSS.escape(focused)}"]`)?.focus();
  }

  function draw() {
    if (!loaded) return;
    const { active, history } = splitAlarms(alarms.values());
    list(activeEl, active, false, 'alarms.none_active');
    list(historyEl, history.slice(0, HISTORY_SHOWN), true, 'alarms.none_history');
  }

  async function refresh() {
    // Active ones on their own: a long history must not push a live alarm out of the answer.
    const [active, all] = await Promise.allSettled([
      api.get('/api/alarm_panel/alarms?status=active'), api.get('/api/alarm_panel/alarms?status=all'),
    ]);
    const failed = [active, all].find((r) => r.status === 'rejected');
    if (failed && isNotConfigured(failed.reason)) {
      fill(activeEl, emptyState('alarms.not_configured'));
      clear(historyEl);
      return;
    }
    if (failed) {
      refreshError = true;
      message.show(failed.reason);
      if (active.status === 'rejected' && all.status === 'rejected' && !loaded) { clear(activeEl); clear(historyEl); return; }
    } else if (refreshError) {
      refreshError = false;
      message.clear();
    }
    loaded = true;
    for (const r of [all, active]) if (r.status === 'fulfilled') upsertAlarms(alarms, readAlarms(r.value));
    draw();
  }

  // Events carry the whole record, so they are applied as they come; polling covers refusals and gaps.
  let refused = false;
  const disposers = [];
  if (app.socket) {
    const onEvent = (event) => {
      if (!event || !event.data || event.data.id === undefined) return;
      upsertAlarms(alarms, [readAlarm(event.data)]);
      draw();
    };
    for (const type of ALARM_EVENTS) disposers.push(app.socket.subscribeEvents(type, onEvent, () => { refused = true; }));
    // Events fired while the socket was down are gone: read the lists again once it is back.
    let status = app.socket.status;
    disposers.push(app.socket.onStatus((next) => {
      if (next === 'connected' && status !== 'connected' && loaded) refresh();
      status = next;
    }));
  }
  drawPanic();
  disposers.push(store.onMembership(drawPanic));
  await refresh();
  const timer = setInterval(() => {
    const socket = app.socket;
    if (document.querySelector('dialog[open]')) return; // do not redraw under a confirmation
    if (needsPolling({ hasSocket: Boolean(socket), status: socket && socket.status, refused })) refresh();
  }, POLL_MS);
  return () => { clearInterval(timer); disposers.forEach((off) => off()); pictures.dispose(); };
}

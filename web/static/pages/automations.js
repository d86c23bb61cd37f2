// #/automations: the household's automations (enable, run, reload, file errors) and
// #/automations/<id>: its recent runs, one of them drawn as a timeline of trigger, conditions and steps.
import { h, actionButton, busy, mount as fill } from '../dom.js';
import * as api from '../api.js';
import * as store from '../store.js';
import { t, tOr, formatDateTime, formatRelative, toDate } from '../i18n.js';
import {
  readAutomations, readTraceList, readTrace, traceStateKind, fileLocation, formatStepDuration, valueText,
  chooseRun, DETAIL_POLL_MS, LIST_POLL_MS,
} from '../automations-model.js';
import { pageTitle, section, loading, emptyState, notice, badge, dl } from '../components/ui.js';

export const titleKey = 'automations.title';

const STORE_DEBOUNCE_MS = 300;

/** A relative time ("5 minutes ago") with the exact time as its tooltip. */
function when(value) {
  const d = toDate(value);
  if (!d) return t('automations.never');
  return h('time', { datetime: d.toISOString(), title: formatDateTime(d, { dateStyle: 'medium', timeStyle: 'medium' }) }, formatRelative(d));
}

function errorText(error, testid) {
  return error ? h('p', { class: 'error-text', testid }, t('automations.last_error', { error })) : null;
}

function stateBadge(state, testid) {
  const el = badge(tOr(`automations.state.${state}`, state), traceStateKind(state));
  if (testid) el.dataset.testid = testid;
  return el;
}

/** The file errors of automations.yaml as one notice, each with its file:line. */
function fileErrors(errors) {
  if (!errors.length) return null;
  return h('div', { class: 'notice notice-error', role: 'alert' },
    h('strong', {}, t('automations.file_errors')),
    h('ul', {}, errors.map((e) => h('li', {}, fileLocation(e) ? [h('code', {}, fileLocation(e)), ': '] : null, e.message))));
}

/** Enable/disable and Run for one automation; after(err?) reports and refreshes. */
function controls(a, message, after) {
  async function call(btn, service, doneKey) {
    message.clear();
    await busy(btn, async () => {
      try {
        await api.post(`/api/services/automation/${service}`, { entity_id: a.entityId });
        message.show(t(doneKey, { name: a.alias }), 'ok');
      } catch (err) { message.show(err); }
    });
    await after();
  }
  const toggle = actionButton({
    testid: `automation-toggle-${a.id}`, 'aria-label': t(a.enabled ? 'automations.disable_named' : 'automations.enable_named', { name: a.alias }),
    on: { click: () => call(toggle, a.enabled ? 'turn_off' : 'turn_on', a.enabled ? 'automations.now_disabled' : 'automations.now_enabled') },
  }, t(a.enabled ? 'automations.disable' : 'automations.enable'));
  const run = actionButton({
    class: 'btn-primary', testid: `automation-run-${a.id}`, 'aria-label': t('automations.run_named', { name: a.alias }),
    on: { click: () => call(run, 'trigger', 'automations.run_sent') },
  }, t('automations.run'));
  return [toggle, run];
}

function enabledBadge(a) {
  const el = badge(t(a.enabled ? 'automations.enabled' : 'automations.disabled'), a.enabled ? 'ok' : 'muted');
  el.dataset.testid = `automation-enabled-${a.id}`;
  return el;
}

function facts(a) {
  return dl([
    [t('automations.mode'), tOr(`automations.mode.${a.mode}`, a.mode)],
    [t('automations.last_triggered'), when(a.lastTriggered)],
    [t('automations.running'), String(a.current)],
  ], 'facts inline');
}

/** Re-run fn at most once per STORE_DEBOUNCE_MS when any of the entities changes in the store. */
function watchEntities(ids, fn) {
  let timer = null;
  const offs = ids.map((id) => store.onEntity(id, () => {
    clearTimeout(timer);
    timer = setTimeout(fn, STORE_DEBOUNCE_MS);
  }));
  return () => { clearTimeout(timer); offs.forEach((off) => off()); };
}

export async function mount(main, app, param) {
  return param ? mountDetail(main, app, param) : mountList(main, app);
}

async function mountList(main, app) {
  const message = notice({ role: 'status', testid: 'automations-message' });
  const errorsEl = h('div', { testid: 'automations-errors' });
  const listEl = h('div', { testid: 'automations' }, loading());
  const reload = app.isAdmin()
    ? actionButton({ testid: 'automations-reload', on: { click: () => doReload() } }, t('automations.reload'))
    : null;
  main.append(pageTitle('automations.title', reload ? h('div', { class: 'actions' }, reload) : null), message.el, errorsEl, listEl);

  let unwatch = () => {};
  let watched = '';

  function row(a) {
    return h('li', { class: ['item', a.lastError && 'state-failed'], testid: `automation-${a.id}` },
      h('div', { class: 'item-main' },
        h('h3', { class: 'item-title' }, h('a', { href: `#/automations/${api.enc(a.id)}`, testid: `automation-link-${a.id}` }, a.alias), ' ', h('code', {}, a.entityId)),
        h('div', {}, enabledBadge(a), ' ', a.current ? badge(t('automations.state.running'), 'info') : null),
        a.description ? h('p', { class: 'hint' }, a.description) : null,
        facts(a),
        errorText(a.lastError, `automation-error-${a.id}`)),
      h('div', { class: 'actions' }, controls(a, message, refresh)));
  }

  function show(body) {
    const { automations, errors } = readAutomations(body);
    fill(errorsEl, fileErrors(errors));
    const focused = document.activeElement && listEl.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
    fill(listEl, automations.length ? h('ul', { class: 'list' }, automations.map(row)) : emptyState('automations.none'));
    if (focused) listEl.querySelector(`[data-testid="${CSS.escape(focused)}"]`)?.focus();
    const ids = automations.map((a) => a.entityId);
    if (ids.join(',') !== watched) {
      unwatch();
      watched = ids.join(',');
      unwatch = watchEntities(ids, refresh);
    }
  }

  async function refresh() {
    try { show(await api.get('/api/automations')); } catch (err) { fill(listEl, h('p', { class: 'notice notice-error' }, err.message)); }
  }

  async function doReload() {
    message.clear();
    await busy(reload, async () => {
      try {
        show(await api.post('/api/automations/reload'));
        message.show(t('automations.reloaded'), 'ok');
      } catch (err) { message.show(err); }
    });
  }

  await refresh();
  const timer = setInterval(refresh, LIST_POLL_MS);
  const offMembership = store.onMembership(() => { watched = ''; refresh(); });
  return () => { clearInterval(timer); unwatch(); offMembership(); };
}

// ---- detail: runs and one trace ----

/** Runs newest first: time (a button that shows the run below), state, trigger and error. */
function traceList(traces, selected, onPick) {
  if (!traces.length) return emptyState('automations.no_traces');
  return h('ol', { class: 'event-list', 'aria-label': t('automations.traces') }, traces.map((tr) => {
    const pick = h('button', {
      type: 'button', class: 'btn btn-toggle', testid: `trace-${tr.runId}`, 'aria-pressed': String(tr.runId === selected),
      on: { click: () => onPick(tr.runId) },
    }, formatDateTime(tr.started, { dateStyle: 'short', timeStyle: 'medium' }));
    return h('li', { class: 'event', testid: `trace-row-${tr.runId}` },
      h('span', { class: 'event-type' }, pick),
      h('span', { class: 'event-time' }, stateBadge(tr.state)),
      h('span', { class: 'event-summary' }, tr.trigger || '—'),
      tr.error ? h('span', { class: 'event-summary error-text' }, tr.error) : null);
  }));
}

function variablesList(variables) {
  const entries = Object.entries(variables);
  if (!entries.length) return null;
  return h('dl', { class: 'facts', testid: 'trace-variables' }, entries.map(([k, v]) => [h('dt', {}, k), h('dd', {}, h('code', { class: 'json' }, valueText(v)))]));
}

function conditionItem(c, i) {
  return h('li', { class: 'item', testid: `trace-condition-${i}` },
    h('div', { class: 'item-main' },
      h('div', {}, h('code', {}, c.path), ' ', badge(t(c.result ? 'automations.condition_passed' : 'automations.condition_failed'), c.result ? 'ok' : 'warn')),
      c.reason ? h('p', { class: 'hint' }, c.reason) : null));
}

function stepItem(step, i) {
  const title = step.alias || step.action || step.path;
  return h('li', { class: ['item', step.error && 'state-failed'], testid: `trace-step-${i}`, dataset: { depth: String(step.depth) } },
    h('div', { class: 'item-main' },
      h('strong', { class: 'item-title' }, step.depth ? h('span', { 'aria-hidden': 'true' }, `${'› '.repeat(step.depth)}`) : null, title),
      dl([
        [t('automations.path'), h('code', {}, step.path)],
        step.alias && step.action ? [t('automations.action'), h('code', {}, step.action)] : null,
        [t('automations.duration'), formatStepDuration(step.duration)],
        step.result !== null ? [t('automations.result'), h('code', { class: 'json' }, valueText(step.result))] : null,
      ], 'facts inline'),
      step.error ? h('p', { class: 'error-text' }, step.error) : null));
}

/** One run as a timeline: its state, the trigger with its variables, the conditions, then each step. */
function traceView(trace) {
  const took = trace.duration === null ? t('automations.still_running') : t('automations.took', { duration: formatStepDuration(trace.duration) });
  return h('div', { testid: 'trace-detail' },
    h('div', { class: 'actions' }, stateBadge(trace.state, 'trace-state'),
      h('span', {}, formatDateTime(trace.started, { dateStyle: 'medium', timeStyle: 'medium' })), h('span', { class: 'hint' }, took)),
    trace.error ? h('p', { class: 'error-text', testid: 'trace-error' }, trace.error) : null,
    h('h3', {}, t('automations.trigger')),
    h('p', { testid: 'trace-trigger' }, trace.trigger.description || '—'),
    variablesList(trace.trigger.variables),
    h('h3', {}, t('automations.conditions')),
    trace.conditions.length ? h('ol', { class: 'list' }, trace.conditions.map(conditionItem)) : emptyState('automations.no_conditions'),
    h('h3', {}, t('automations.steps')),
    trace.steps.length ? h('ol', { class: 'list', testid: 'trace-steps' }, trace.steps.map(stepItem)) : emptyState('automations.no_steps'));
}

async function mountDetail(main, app, id) {
  const message = notice({ role: 'status', testid: 'automation-message' });
  const heading = h('h1', { tabindex: '-1', testid: 'automation-title' }, id);
  const controlsEl = h('div', { class: 'actions' });
  const infoEl = h('div', { testid: 'automation-info' });
  const tracesEl = h('div', { testid: 'traces' }, loading());
  const detailEl = h('div', { testid: 'trace' });
  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/automations', testid: 'automations-back' }, t('automations.back'))),
    h('div', { class: 'page-head' }, heading, controlsEl), message.el, infoEl,
    section('automations.traces', tracesEl), section('automations.timeline', detailEl));

  let picked = null; // a run chosen by hand; otherwise the newest is shown and followed
  let shownKey = null; // which run (and in which state) the timeline shows, to skip needless reloads
  let unwatch = watchEntities([`automation.${id}`], () => refresh());
  let watchedId = `automation.${id}`;
  let traces = [];

  async function loadInfo() {
    const { automations } = readAutomations(await api.get('/api/automations'));
    const a = automations.find((x) => x.id === id);
    if (!a) {
      fill(controlsEl);
      fill(infoEl, h('p', { class: 'notice notice-warn' }, t('automations.not_found', { id })));
      return;
    }
    heading.textContent = a.alias;
    document.title = `${a.alias} · ${document.title.split(' · ').pop()}`;
    if (a.entityId !== watchedId) { unwatch(); watchedId = a.entityId; unwatch = watchEntities([a.entityId], () => refresh()); }
    fill(controlsEl, controls(a, message, refresh));
    fill(infoEl, h('div', {}, enabledBadge(a)), a.description ? h('p', { class: 'lead' }, a.description) : null, facts(a), errorText(a.lastError, `automation-error-${a.id}`));
  }

  async function showTrace() {
    const runId = chooseRun(traces, picked);
    const summary = traces.find((tr) => tr.runId === runId);
    // A running trace grows with every step, so it is reloaded on every refresh.
    const key = summary ? `${runId}|${summary.state}|${summary.finished}` : null;
    if (key === shownKey && !(summary && summary.state === 'running')) return;
    shownKey = key;
    if (!runId) { fill(detailEl, emptyState('automations.pick_trace')); return; }
    try {
      fill(detailEl, traceView(readTrace(await api.get(`/api/automations/${api.enc(id)}/traces/${api.enc(runId)}`))));
    } catch (err) {
      shownKey = null;
      fill(detailEl, h('p', { class: 'notice notice-error' }, err.message));
    }
  }

  function drawTraces() {
    fill(tracesEl, traceList(traces, chooseRun(traces, picked), (runId) => { picked = runId; drawTraces(); showTrace(); }));
  }

  async function refresh() {
    const [info, list] = await Promise.allSettled([loadInfo(), api.get(`/api/automations/${api.enc(id)}/traces`)]);
    if (info.status === 'rejected') fill(infoEl, h('p', { class: 'notice notice-error' }, info.reason.message));
    if (list.status === 'rejected') { fill(tracesEl, h('p', { class: 'notice notice-error' }, list.reason.message)); return; }
    const focused = document.activeElement && tracesEl.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
    traces = readTraceList(list.value);
    drawTraces();
    if (focused) tracesEl.querySelector(`[data-testid="${CSS.escape(focused)}"]`)?.focus();
    await showTrace();
  }

  await refresh();
  const timer = setInterval(refresh, DETAIL_POLL_MS);
  return () => { clearInterval(timer); unwatch(); };
}

// #/devices: integrations with their load state, config entries, and devices. Residents see
// everything; administrators also get the buttons (the API refuses them to residents anyway).
import { h, field, actionButton, busy, mount as fill } from '../dom.js';
import * as api from '../api.js';
import { t, tOr, formatDateTime, formatRelative } from '../i18n.js';
import { asList } from '../model.js';
import { pageTitle, section, loading, emptyState, notice, badge } from '../components/ui.js';
import { openDialog, confirmDialog } from '../components/dialog.js';

export const titleKey = 'devices.title';

const REFRESH_MS = 10000;
const STATE_KIND = { loaded: 'ok', failed: 'bad', retrying: 'warn', setting_up: 'info', not_loaded: 'muted', unloaded: 'muted', setup_error: 'bad', setup_retry: 'warn', not_ready: 'warn' };

function stateBadge(state) {
  return badge(tOr(`integration.state.${state}`, state), STATE_KIND[state] || 'muted');
}

function errorText(error) {
  return error ? h('p', { class: 'error-text' }, error) : null;
}

function nextRetry(ts) {
  return ts ? h('p', { class: 'hint' }, t('devices.next_retry', { when: formatDateTime(ts, { timeStyle: 'medium' }), in: formatRelative(ts) })) : null;
}

export async function mount(main, app) {
  const admin = app.isAdmin();
  const message = notice({ role: 'status', testid: 'devices-message' });
  const integrationsEl = h('div', { testid: 'integrations' }, loading());
  const entriesEl = h('div', { testid: 'config-entries' }, loading());
  const devicesEl = h('div', { testid: 'devices' }, loading());
  main.append(pageTitle('devices.title'), message.el,
    section('devices.integrations', integrationsEl),
    section('devices.entries', entriesEl),
    section('devices.devices', devicesEl));

  /** Run an admin action, report its outcome, and reload the lists. */
  async function act(btn, fn, doneKey) {
    message.clear();
    await busy(btn, async () => {
      try { await fn(); message.show(t(doneKey), 'ok'); } catch (err) { message.show(err); }
    });
    await refresh();
  }

  function integrationRow(it) {
    const domain = it.domain;
    const actions = [];
    if (admin) {
      // Only what the hub can act on: an integration nobody configured has nothing to retry or reload.
      if (it.state === 'failed' || it.state === 'retrying') {
        const retry = actionButton({ testid: `retry-${domain}`, on: { click: () => act(retry, () => api.post(`/api/integrations/${api.enc(domain)}/retry`), 'devices.retry_sent') } }, t('devices.retry'));
        actions.push(retry);
      }
      if (it.state === 'loaded' || it.state === 'failed' || it.state === 'retrying') {
        const reload = actionButton({ testid: `reload-${domain}`, on: { click: () => act(reload, () => api.post(`/api/integrations/${api.enc(domain)}/reload`), 'devices.reload_sent') } }, t('devices.reload'));
        actions.push(reload);
      }
    }
    return h('li', { class: ['item', `state-${it.state}`], testid: `integration-${domain}` },
      h('div', { class: 'item-main' },
        h('h3', { class: 'item-title' }, it.name || domain, ' ', h('code', {}, domain), it.version ? h('span', { class: 'hint' }, ` ${it.version}`) : null),
        stateBadge(it.state),
        errorText(it.error),
        it.state === 'retrying' ? nextRetry(it.next_retry) : null,
        it.attempts > 1 ? h('p', { class: 'hint' }, t('devices.attempts', { count: it.attempts })) : null),
      actions.length ? h('div', { class: 'actions' }, actions) : null);
  }

  function entryRow(entry) {
    const id = entry.entry_id;
    const actions = [];
    if (admin) {
      const reload = actionButton({ testid: `entry-reload-${id}`, on: { click: () => act(reload, () => api.post(`/api/config_entries/${api.enc(id)}/reload`), 'devices.reload_sent') } }, t('devices.reload'));
      const toggle = actionButton({ testid: `entry-toggle-${id}`, on: { click: () => act(toggle, () => api.patch(`/api/config_entries/${api.enc(id)}`, { disabled: !entry.disabled }), entry.disabled ? 'devices.enabled' : 'devices.disabled') } },
        t(entry.disabled ? 'devices.enable' : 'devices.disable'));
      const remove = actionButton({ class: 'btn-danger', testid: `entry-remove-${id}`, on: { click: async () => {
        const ok = await confirmDialog({ title: t('devices.remove_title'), message: t('devices.remove_confirm', { name: entry.title || entry.domain }), confirmLabel: t('devices.remove'), danger: true });
        if (ok) await act(remove, () => api.del(`/api/config_entries/${api.enc(id)}`), 'devices.removed');
      } } }, t('devices.remove'));
      actions.push(reload, toggle, remove);
    }
    return h('li', { class: 'item', testid: `entry-${id}` },
      h('div', { class: 'item-main' },
        h('h3', { class: 'item-title' }, entry.title || entry.domain, ' ', h('code', {}, entry.domain)),
        entry.disabled ? badge(t('devices.is_disabled'), 'muted') : stateBadge(entry.state),
        errorText(entry.error),
        entry.state === 'setup_retry' || entry.state === 'retrying' ? nextRetry(entry.next_retry) : null),
      actions.length ? h('div', { class: 'actions' }, actions) : null);
  }

  async function rename(device, btn) {
    await openDialog({
      title: t('devices.rename_title'),
      testid: 'rename-dialog',
      build(close) {
        const name = h('input', { name: 'device_name', value: device.name_by_user || device.name || '', testid: 'rename-name', autofocus: true });
        const area = h('input', { name: 'device_area', value: device.area || '', testid: 'rename-area' });
        const error = notice({ role: 'alert' });
        const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'rename-save' }, t('common.save'));
        const form = h('form', { class: 'dialog-body form' },
          field(t('devices.name'), name, t('devices.name_hint')), field(t('devices.area'), area), error.el,
          h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', on: { click: () => close() } }, t('common.cancel')), save));
        form.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          save.disabled = true;
          try {
            await api.patch(`/api/devices/${api.enc(device.id)}`, { name: name.value.trim() || null, area: area.value.trim() || null });
            close(true);
            message.show(t('devices.renamed'), 'ok');
            refresh();
          } catch (err) { error.show(err); } finally { save.disabled = false; }
        });
        return form;
      },
    });
    if (btn.isConnected) btn.focus();
  }

  function deviceRow(d) {
    const shown = d.name_by_user || d.name || d.id;
    const facts = [
      [t('devices.manufacturer'), d.manufacturer], [t('devices.model'), d.model],
      [t('devices.firmware'), d.sw_version], [t('devices.area'), d.area],
    ].filter(([, v]) => v);
    const renameBtn = admin ? actionButton({ testid: `rename-${d.id}`, on: { click: () => rename(d, renameBtn) } }, t('devices.rename')) : null;
    return h('li', { class: 'item', testid: `device-${d.id}` },
      h('div', { class: 'item-main' },
        h('h3', { class: 'item-title' }, shown, d.name_by_user && d.name && d.name !== d.name_by_user ? h('span', { class: 'hint' }, ` (${d.name})`) : null),
        d.disabled_by ? badge(t('devices.is_disabled'), 'muted') : null,
        h('dl', { class: 'facts inline' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))),
      renameBtn ? h('div', { class: 'actions' }, renameBtn) : null);
  }

  function list(el, items, build, emptyKey) {
    // Keep focus on the same button across the periodic refresh.
    const focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
    fill(el, items.length ? h('ul', { class: 'list' }, items.map(build)) : emptyState(emptyKey));
    if (focused) el.querySelector(`[data-testid="${CSS.escape(focused)}"]`)?.focus();
  }

  async function refresh() {
    const [integrations, entries, devices] = await Promise.allSettled([
      api.get('/api/integrations'), api.get('/api/config_entries'), api.get('/api/devices'),
    ]);
    const show = (el, res, keys, build, emptyKey, sort) => {
      if (res.status === 'rejected') { fill(el, h('p', { class: 'notice notice-error' }, res.reason.message)); return; }
      list(el, asList(res.value, ...keys).sort(sort), build, emptyKey);
    };
    const byText = (f) => (a, b) => String(f(a)).localeCompare(String(f(b)));
    show(integrationsEl, integrations, ['integrations'], integrationRow, 'devices.no_integrations', byText((x) => x.domain));
    show(entriesEl, entries, ['config_entries', 'entries'], entryRow, 'devices.no_entries', byText((x) => x.title || x.domain));
    show(devicesEl, devices, ['devices'], deviceRow, 'devices.no_devices', byText((x) => x.name_by_user || x.name || x.id));
  }

  await refresh();
  const timer = setInterval(() => { if (!document.querySelector('dialog[open]')) refresh(); }, REFRESH_MS);
  return () => clearInterval(timer);
}

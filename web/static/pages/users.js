// #/users (administrators): users, long-lived tokens and sessions. A new token's secret is shown
// once, in a dialog with a copy button; the hub keeps only its hash.
import { h, field, actionButton, busy, mount as fill } from '../dom.js';
import * as api from '../api.js';
import { t, tOr, formatDateTime } from '../i18n.js';
import { asList, normalizeTokens } from '../model.js';
import { pageTitle, section, loading, emptyState, notice, badge } from '../components/ui.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { languageSelect } from '../components/header.js';
import { copyText } from '../components/clipboard.js';

export const titleKey = 'users.title';

const ROLES = ['resident', 'admin'];

function roleSelect(name, testid) {
  const sel = h('select', { name, testid });
  for (const role of ROLES) sel.append(h('option', { value: role }, t(`role.${role}`)));
  return sel;
}

function showSecret(token) {
  return openDialog({
    title: t('tokens.created_title'),
    testid: 'token-dialog',
    build(close) {
      const input = h('input', { readonly: true, value: token, class: 'mono', testid: 'token-secret', 'aria-label': t('tokens.secret') });
      const status = h('p', { class: 'hint', role: 'status' });
      const copy = h('button', { type: 'button', class: 'btn btn-primary', testid: 'token-copy', on: { click: async () => {
        try { await copyText(input); status.textContent = t('tokens.copied'); } catch (err) { status.textContent = err.message; }
      } } }, t('tokens.copy'));
      return h('div', { class: 'dialog-body' },
        h('p', { class: 'notice notice-warn' }, t('tokens.shown_once')), input, status,
        h('div', { class: 'actions' }, copy, h('button', { type: 'button', class: 'btn', on: { click: () => close() } }, t('common.done'))));
    },
  });
}

export async function mount(main, app) {
  const message = notice({ role: 'status', testid: 'users-message' });
  const usersEl = h('div', { testid: 'users-list' }, loading());
  const tokensEl = h('div', { testid: 'tokens-list' }, loading());
  const sessionsEl = h('div', { testid: 'sessions-list' }, loading());
  let usersById = new Map();

  // ---- add user ----
  const addError = notice({ role: 'alert' });
  const nu = {
    username: h('input', { name: 'new_username', autocomplete: 'off', required: true, testid: 'user-username', autocapitalize: 'none' }),
    name: h('input', { name: 'new_name', required: true, testid: 'user-name' }),
    password: h('input', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, testid: 'user-password' }),
    role: roleSelect('new_role', 'user-role'),
    language: languageSelect({ name: 'new_language', testid: 'user-language' }),
  };
  const addBtn = actionButton({ type: 'submit', class: 'btn-primary', testid: 'user-add' }, t('users.add'));
  const addForm = h('form', { class: 'form form-grid', novalidate: true },
    field(t('users.username'), nu.username), field(t('users.name'), nu.name), field(t('users.password'), nu.password),
    field(t('users.role'), nu.role), field(t('users.language'), nu.language), addError.el, h('div', { class: 'actions' }, addBtn));
  addForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    addError.clear();
    await busy(addBtn, async () => {
      try {
        await api.post('/api/users', { username: nu.username.value.trim(), name: nu.name.value.trim(), password: nu.password.value, role: nu.role.value, language: nu.language.value });
        message.show(t('users.added', { username: nu.username.value.trim() }), 'ok');
        for (const k of ['username', 'name', 'password']) nu[k].value = '';
        await refresh();
      } catch (err) { addError.show(err); }
    });
  });

  // ---- create token ----
  const tokError = notice({ role: 'alert' });
  const nt = {
    name: h('input', { name: 'token_name', required: true, testid: 'token-name' }),
    role: roleSelect('token_role', 'token-role'),
    days: h('input', { name: 'token_days', type: 'number', min: '1', max: '3650', value: '365', inputmode: 'numeric', testid: 'token-days' }),
  };
  const tokBtn = actionButton({ type: 'submit', class: 'btn-primary', testid: 'token-create' }, t('tokens.create'));
  const tokForm = h('form', { class: 'form form-grid', novalidate: true },
    field(t('tokens.name'), nt.name), field(t('tokens.role'), nt.role, t('tokens.role_hint')), field(t('tokens.lifespan'), nt.days, t('tokens.lifespan_hint')),
    tokError.el, h('div', { class: 'actions' }, tokBtn));
  tokForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    tokError.clear();
    let created = null;
    await busy(tokBtn, async () => {
      try {
        created = await api.post('/api/tokens', { name: nt.name.value.trim(), role: nt.role.value, lifespan_days: Number(nt.days.value) });
        nt.name.value = '';
      } catch (err) { tokError.show(err); }
    });
    if (created) {
      await showSecret(created.token || created.access_token || created.refresh_token || '');
      await refresh();
    }
  });

  main.append(pageTitle('users.title'), message.el,
    section('users.list', usersEl, h('h3', {}, t('users.add_title')), addForm),
    section('tokens.title', tokensEl, h('h3', {}, t('tokens.create_title')), tokForm),
    section('sessions.title', sessionsEl));

  async function act(btn, fn, doneKey, params) {
    message.clear();
    await busy(btn, async () => {
      try { await fn(); message.show(t(doneKey, params), 'ok'); } catch (err) { message.show(err); }
    });
    await refresh();
  }

  function userRow(u) {
    const self = app.me && u.id === app.me.id;
    const active = u.active !== false;
    const actions = [];
    if (!self) {
      const toggle = actionButton({ testid: `user-toggle-${u.username}`, on: { click: () => act(toggle, () => api.patch(`/api/users/${api.enc(u.id)}`, { active: !active }), active ? 'users.deactivated' : 'users.activated', { username: u.username }) } },
        t(active ? 'users.deactivate' : 'users.activate'));
      const remove = actionButton({ class: 'btn-danger', testid: `user-remove-${u.username}`, on: { click: async () => {
        if (await confirmDialog({ title: t('users.remove_title'), message: t('users.remove_confirm', { username: u.username }), confirmLabel: t('users.remove'), danger: true })) {
          await act(remove, () => api.del(`/api/users/${api.enc(u.id)}`), 'users.removed', { username: u.username });
        }
      } } }, t('users.remove'));
      actions.push(toggle, remove);
    }
    return h('tr', { testid: `user-${u.username}` },
      h('th', { scope: 'row' }, u.name || u.username, self ? h('span', { class: 'hint' }, ` (${t('users.you')})`) : null),
      h('td', {}, h('code', {}, u.username)),
      h('td', {}, t(`role.${u.role}`)),
      h('td', {}, active ? badge(t('users.active'), 'ok') : badge(t('users.inactive'), 'muted')),
      h('td', { class: 'actions-cell' }, actions));
  }

  function tokenRow(tok, isSession) {
    const who = usersById.get(tok.user_id);
    const revoke = actionButton({ class: 'btn-danger', testid: `revoke-${tok.id}`, on: { click: async () => {
      if (await confirmDialog({ title: t('tokens.revoke_title'), message: t(isSession ? 'sessions.revoke_confirm' : 'tokens.revoke_confirm', { name: tok.name || (who && who.username) || tok.id }), confirmLabel: t('tokens.revoke'), danger: true })) {
        await act(revoke, () => api.del(`/api/tokens/${api.enc(tok.id)}`), 'tokens.revoked');
      }
    } } }, t('tokens.revoke'));
    const cells = isSession
      ? [h('th', { scope: 'row' }, (who && (who.name || who.username)) || tok.username || tok.user_id || '—'), h('td', {}, formatDateTime(tok.created)),
        h('td', {}, tok.last_used ? formatDateTime(tok.last_used) : '—'), h('td', {}, tok.last_used_address || tok.last_used_ip || '—')]
      : [h('th', { scope: 'row' }, tok.name || '—'), h('td', {}, tOr(`role.${tok.role}`, tok.role || '—')), h('td', {}, formatDateTime(tok.created)),
        h('td', {}, formatDateTime(tok.expires ?? tok.expires_at ?? tok.expiry)), h('td', {}, tok.last_used ? formatDateTime(tok.last_used) : '—')];
    return h('tr', { testid: `${isSession ? 'session' : 'token'}-${tok.id}` }, cells, h('td', { class: 'actions-cell' }, revoke));
  }

  const table = (captionKey, heads, rows) => h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('caption', { class: 'visually-hidden' }, t(captionKey)),
    h('thead', {}, h('tr', {}, heads.map((k) => h('th', { scope: 'col' }, k ? t(k) : h('span', { class: 'visually-hidden' }, t('common.actions')))))),
    h('tbody', {}, rows)));

  async function refresh() {
    const [users, tokens] = await Promise.allSettled([api.get('/api/users'), api.get('/api/tokens')]);
    if (users.status === 'fulfilled') {
      const list = asList(users.value, 'users');
      usersById = new Map(list.map((u) => [u.id, u]));
      fill(usersEl, table('users.list', ['users.name', 'users.username', 'users.role', 'users.status', null], list.map(userRow)));
    } else fill(usersEl, h('p', { class: 'notice notice-error' }, users.reason.message));
    if (tokens.status === 'fulfilled') {
      const { tokens: toks, sessions } = normalizeTokens(tokens.value);
      fill(tokensEl, toks.length ? table('tokens.title', ['tokens.name', 'tokens.role', 'tokens.created', 'tokens.expires', 'tokens.last_used', null], toks.map((x) => tokenRow(x, false))) : emptyState('tokens.none'));
      fill(sessionsEl, sessions.length ? table('sessions.title', ['sessions.user', 'tokens.created', 'tokens.last_used', 'sessions.address', null], sessions.map((x) => tokenRow(x, true))) : emptyState('sessions.none'));
    } else {
      fill(tokensEl, h('p', { class: 'notice notice-error' }, tokens.reason.message));
      fill(sessionsEl);
    }
  }

  await refresh();
}

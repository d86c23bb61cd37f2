// #/discovered: devices the hub found on the network and not yet set up. Admins pair one (a
// dialog with exactly what the device asks), ignore it or forget it; residents see the list. What a
// pairing answer reveals (a BLE proxy's token for its setup page) is shown once in a dialog with a
// copy button and kept nowhere: not in storage, not in the page after the dialog closes.
import { h, field, actionButton, busy, mount as fill } from '../dom.js';
import * as api from '../api.js';
import { t, formatDateTime } from '../i18n.js';
import {
  readDiscoveredList, kindIcon, kindLabel, addressText, seenText, firstSeenText, presence, formFields, pairBody,
  pairError, pairedLink, pairedTitle, revealItems, cannotPair, detailFacts, networkNotes, POLL_MS, DISCOVERED_EVENT,
} from '../discovered-model.js';
import { pageTitle, emptyState, notice, badge, dl } from '../components/ui.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { icon } from '../components/icons.js';
import { copyText } from '../components/clipboard.js';

export const titleKey = 'discovered.title';

const EVENT_DEBOUNCE_MS = 300;

function seen(value, relative) {
  return value === null ? relative : h('span', { title: formatDateTime(value) }, relative);
}

/** Shows what the pairing revealed, once: each value read-only with a copy button; resolves when closed. */
function revealDialog(title, items) {
  return openDialog({
    title: t('discovered.added', { title }),
    testid: 'reveal-dialog',
    build(close) {
      const status = h('p', { class: 'hint', role: 'status', testid: 'reveal-status' });
      const rows = items.map((item, i) => {
        const input = h('input', { readonly: true, value: item.value, class: 'mono', testid: `reveal-value-${i}`, spellcheck: 'false', autocomplete: 'off' });
        const copy = h('button', { type: 'button', class: 'btn', testid: `reveal-copy-${i}`, on: { click: async () => {
          try { await copyText(input); status.textContent = t('tokens.copied'); } catch (err) { status.textContent = err.message; }
        } } }, t('tokens.copy'));
        return h('div', { class: 'reveal-item' }, field(item.label, input), copy);
      });
      return h('div', { class: 'dialog-body' },
        h('p', { class: 'notice notice-warn', testid: 'reveal-once' }, t('tokens.shown_once')),
        h('p', { class: 'hint' }, t('discovered.reveal_hint')), rows, status,
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-primary', testid: 'reveal-done', on: { click: () => close() } }, t('common.done'))));
    },
  });
}

/** After a pairing: what it revealed (if anything) in its dialog, then the note on the page. */
async function paired(made, row, say) {
  const shown = revealItems(made);
  if (shown.length) await revealDialog(pairedTitle(made, row), shown);
  say(t('discovered.added', { title: pairedTitle(made, row) }), pairedLink(row));
}

/** The pairing dialog: resolves with the server's 201 body, or undefined when cancelled. */
function pairDialog(row) {
  const fields = formFields(row.asks);
  return openDialog({
    title: t('discovered.pair_title', { title: row.title }),
    testid: 'pair-dialog',
    build: (close) => {
      const top = notice({ role: 'alert', testid: 'pair-error' });
      const inputs = new Map();
      const errors = new Map();
      const body = fields.length ? fields.map((f) => {
        const input = h('input', {
          name: f.name, type: f.type, autocomplete: f.autocomplete, value: f.value, required: f.required,
          pattern: f.pattern, testid: `pair-field-${f.name}`, spellcheck: 'false', autocapitalize: 'off',
        });
        const err = h('p', { class: 'field-error', role: 'alert', testid: `pair-error-${f.name}`, hidden: true });
        err.id = `pair-err-${f.name}`;
        inputs.set(f.name, input);
        errors.set(f.name, err);
        const wrap = field(f.label, input, f.required ? null : t('discovered.optional', { value: f.value }));
        wrap.append(err);
        return wrap;
      }) : h('p', {}, t('discovered.pair_confirm', { title: row.title }));
      const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'pair-submit' }, t('discovered.pair_submit'));
      const clearErrors = () => {
        top.clear();
        for (const [name, el] of errors) { el.hidden = true; el.textContent = ''; inputs.get(name).removeAttribute('aria-invalid'); }
      };
      const form = h('form', { class: 'dialog-body form' },
        top.el, body,
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn', on: { click: () => close(undefined) } }, t('common.cancel')), submit));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearErrors();
        const values = Object.fromEntries([...inputs].map(([name, input]) => [name, input.value]));
        try {
          const made = await busy(submit, () => api.post(`/api/discovered/${api.enc(row.id)}/pair`, pairBody(fields, values)));
          close(made || {});
        } catch (err) {
          const where = pairError(err, fields);
          if (where.field === null) { top.show(where.message); return; }
          const input = inputs.get(where.field);
          const el = errors.get(where.field);
          el.textContent = where.message;
          el.hidden = false;
          input.setAttribute('aria-invalid', 'true');
          input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), el.id].filter(Boolean).join(' '));
          input.focus();
          input.select();
        }
      });
      return form;
    },
  });
}

export async function mount(main, app) {
  const admin = app.isAdmin();
  const status = h('div', { class: 'discovered-status', 'aria-live': 'polite', testid: 'discovered-status' });
  const errorBox = notice({ role: 'alert', testid: 'discovered-error' });
  const listEl = h('div', { class: 'discovered-list', testid: 'discovered-list' });
  const netEl = h('div', { class: 'discovered-network', testid: 'discovered-network' });
  let showIgnored = false;
  const toggle = h('input', { type: 'checkbox', name: 'show_ignored', testid: 'show-ignored' });
  const ignoredHint = h('p', { class: 'hint', hidden: true }, t('discovered.ignored_hint'));
  toggle.addEventListener('change', () => { showIgnored = toggle.checked; ignoredHint.hidden = !showIgnored; refresh(); });

  fill(main,
    pageTitle('discovered.title'),
    h('p', { class: 'hint' }, t('discovered.intro')),
    admin ? null : h('p', { class: 'notice notice-info', testid: 'discovered-resident-hint' }, t('discovered.resident_hint')),
    admin ? h('div', { class: 'field field-check discovered-toggle' }, h('label', {}, toggle, t('discovered.show_ignored')), ignoredHint) : null,
    netEl, status, errorBox.el, listEl);

  const say = (message, link) => fill(status, h('p', { class: 'notice notice-ok', role: 'status' }, message,
    link ? [' ', h('a', { href: link, testid: 'discovered-added-link' }, t('discovered.added_link'))] : null));

  async function pair(row, btn) {
    status.textContent = '';
    if (!row.asks.length) {
      // Nothing to ask: a plain confirmation, the error (if any) shown on the page.
      const ok = await confirmDialog({ title: t('discovered.pair_title', { title: row.title }), message: t('discovered.pair_confirm', { title: row.title }), confirmLabel: t('discovered.pair_submit') });
      if (!ok) return;
      try {
        const made = await busy(btn, () => api.post(`/api/discovered/${api.enc(row.id)}/pair`, { answers: {} }));
        await paired(made || {}, row, say);
      } catch (err) {
        errorBox.show(pairError(err, []).message);
      }
      await refresh();
      return;
    }
    const made = await pairDialog(row);
    if (made === undefined) return;
    await paired(made, row, say);
    await refresh();
  }

  async function act(row, btn, method, suffix, doneKey) {
    status.textContent = '';
    try {
      await busy(btn, () => (method === 'DELETE' ? api.del(`/api/discovered/${api.enc(row.id)}`) : api.post(`/api/discovered/${api.enc(row.id)}/${suffix}`)));
      say(t(doneKey, { title: row.title }));
    } catch (err) {
      errorBox.show(err);
    }
    await refresh();
  }

  async function forget(row, btn) {
    const ok = await confirmDialog({ title: t('discovered.forget_title', { title: row.title }), message: t('discovered.forget_message'), confirmLabel: t('discovered.forget'), danger: true });
    if (ok) await act(row, btn, 'DELETE', '', 'discovered.forgotten');
  }

  function card(row) {
    const where = addressText(row);
    const mark = presence(row);
    const why = cannotPair(row);
    const actions = admin ? h('div', { class: 'actions' },
      row.ignored || why ? null : actionButton({ class: 'btn-primary', testid: `pair-${row.id}`, on: { click: (ev) => pair(row, ev.currentTarget) } }, t('discovered.pair')),
      row.ignored ? null : actionButton({ testid: `ignore-${row.id}`, on: { click: (ev) => act(row, ev.currentTarget, 'POST', 'ignore', 'discovered.ignored_done') } }, t('discovered.ignore')),
      actionButton({ class: 'btn-danger', testid: `forget-${row.id}`, on: { click: (ev) => forget(row, ev.currentTarget) } }, t('discovered.forget'))) : null;
    return h('article', { class: ['card', 'discovered-card', row.present ? null : 'is-gone'], testid: `discovered-${row.id}`, dataset: { domain: row.domain } },
      h('div', { class: 'card-head' }, icon(kindIcon(row.kind)), h('h2', { class: 'card-title' }, row.title),
        badge(mark.text, mark.kind), row.ignored ? badge(t('discovered.ignored'), 'warn') : null),
      dl([
        [t('discovered.kind_label'), kindLabel(row.kind)],
        [t('discovered.integration'), row.domain || '—'],
        where ? [t('discovered.address'), h('span', { class: 'mono' }, where)] : null,
        ...detailFacts(row).map(([key, value]) => [t(`discovered.detail.${key}`), value]),
      ], 'facts inline'),
      why ? h('p', { class: 'notice notice-info', testid: `discovered-cannot-${row.id}` }, t('discovered.cannot_pair', { why })) : null,
      h('p', { class: 'card-detail', testid: `discovered-seen-${row.id}` },
        seen(row.lastSeen, seenText(row)), ' · ', seen(row.firstSeen, firstSeenText(row))),
      actions);
  }

  let seq = 0;
  async function refresh() {
    const mine = ++seq;
    let rows;
    let network = null;
    try {
      const [list, net] = await Promise.all([
        api.get(showIgnored ? '/api/discovered?ignored=1' : '/api/discovered'),
        api.get('/api/network').catch(() => null), // the list matters more than the note about it
      ]);
      rows = readDiscoveredList(list);
      network = net;
    } catch (err) {
      if (mine === seq) errorBox.show(err);
      return;
    }
    if (mine !== seq) return; // an older answer arriving after a newer one
    errorBox.clear();
    fill(netEl, networkNotes(network).map((n) => h('p', { class: n.kind === 'warn' ? 'notice notice-warn' : 'hint' }, n.text)));
    if (!rows.length) fill(listEl, emptyState(showIgnored ? 'discovered.none_ignored' : 'discovered.none'));
    else fill(listEl, rows.map(card));
  }

  // New rows arrive as events (admins may subscribe to any event type); the poll catches the rest
  // (a refreshed sighting, a goodbye) and covers a dropped socket.
  let debounce = null;
  const disposers = [];
  const soon = () => { clearTimeout(debounce); debounce = setTimeout(refresh, EVENT_DEBOUNCE_MS); };
  if (app.socket && admin) disposers.push(app.socket.subscribeEvents(DISCOVERED_EVENT, soon, () => {}));
  await refresh();
  const timer = setInterval(() => {
    if (document.querySelector('dialog[open]')) return; // do not redraw the list under a dialog
    refresh();
  }, POLL_MS);
  return () => { clearInterval(timer); clearTimeout(debounce); disposers.forEach((off) => off()); };
}

// Small pieces shared by pages: headings, notices, definition lists and status badges.
import { h } from '../dom.js';
import { t } from '../i18n.js';

export function pageTitle(key, ...extra) {
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, t(key)), ...extra);
}

export function section(titleKey, ...children) {
  const id = `sec-${titleKey.replace(/\W/g, '-')}`;
  return h('section', { class: 'section', 'aria-labelledby': id }, h('h2', { id }, t(titleKey)), ...children);
}

/** A message area; show(err|string, kind) fills it. role=alert for errors is set by the caller. */
export function notice(props = {}) {
  const el = h('p', { class: 'notice', hidden: true, ...props });
  return {
    el,
    show(message, kind = 'error') {
      el.textContent = message instanceof Error ? (message.message || t('error.generic')) : message;
      el.className = `notice notice-${kind}`;
      el.hidden = false;
    },
    clear() {
      el.textContent = '';
      el.hidden = true;
    },
  };
}

export function loading() {
  return h('p', { class: 'loading', role: 'status' }, t('common.loading'));
}

export function emptyState(key) {
  return h('p', { class: 'empty' }, t(key));
}

export function badge(text, kind) {
  return h('span', { class: ['badge', kind && `badge-${kind}`] }, text);
}

/** <dl> of [label, value] pairs; values may be nodes. */
export function dl(pairs, cls = 'facts') {
  return h('dl', { class: cls }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

/** Flash message left by another page (e.g. "your session has ended"), shown once. */
export function takeFlash(app) {
  const key = app.flash;
  app.flash = null;
  if (!key) return null;
  return h('p', { class: 'notice notice-info', role: 'status' }, t(key));
}

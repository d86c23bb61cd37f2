// Modal dialogs on the native <dialog>: showModal() makes the page behind it inert and Escape
// fires "cancel". We also wrap Tab inside the dialog and give focus back to the opener.
import { h } from '../dom.js';
import { t } from '../i18n.js';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Open a dialog; build(close) returns its body. Resolves with the value passed to close(). */
export function openDialog({ title, build, testid, className }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const dlg = h('dialog', { class: ['dialog', className], 'aria-labelledby': titleId, testid });
    let result;
    const close = (value) => { result = value; dlg.close(); };
    const header = h('div', { class: 'dialog-head' },
      h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('common.close'), on: { click: () => close(undefined) } }, '×'));
    dlg.append(header, build(close));
    dlg.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Tab') return;
      const items = [...dlg.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null);
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
      else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
    const autofocus = dlg.querySelector('[autofocus]') || dlg.querySelector('input, select, textarea') || dlg.querySelector(FOCUSABLE);
    if (autofocus) autofocus.focus();
  });
}

/** Yes/no confirmation; resolves true when confirmed. */
export function confirmDialog({ title, message, confirmLabel, danger = false }) {
  return openDialog({
    title,
    testid: 'confirm-dialog',
    build: (close) => h('div', { class: 'dialog-body' },
      h('p', {}, message),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn', on: { click: () => close(false) } }, t('common.cancel')),
        h('button', { type: 'button', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], testid: 'confirm-ok', on: { click: () => close(true) } }, confirmLabel))),
  }).then(Boolean);
}

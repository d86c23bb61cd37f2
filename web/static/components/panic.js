// The panic button of the alarm card and the alarm page. A panic asks for no PIN (the person may
// be under threat), so a confirmation dialog is what stops a stray tap from calling the centre.
import { h, actionButton } from '../dom.js';
import * as api from '../api.js';
import { t } from '../i18n.js';
import { panicBody } from '../alarms-model.js';
import { openDialog } from './dialog.js';
import { icon } from './icons.js';

/**
 * Ask first, then call alarm_panel.panic for entityId. A refusal is shown in the dialog, which
 * stays open. Resolves true once the hub took it, false when the person changed their mind.
 */
export function confirmPanic(entityId) {
  return openDialog({
    title: t('panic.title'),
    testid: 'panic-dialog',
    className: 'dialog-panic',
    build(close) {
      const silent = h('input', { type: 'checkbox', name: 'panic_silent', testid: 'panic-silent', id: 'panic-silent' });
      const error = h('p', { class: 'form-error', role: 'alert', testid: 'panic-error', hidden: true });
      const cancel = h('button', { type: 'button', class: 'btn', autofocus: true, on: { click: () => close(false) } }, t('common.cancel'));
      const send = h('button', { type: 'submit', class: 'btn btn-panic', testid: 'panic-confirm' }, icon('alert'), t('panic.confirm'));
      const form = h('form', { class: 'dialog-body form' },
        h('p', {}, t('panic.text')),
        h('div', { class: 'field field-check' }, h('label', { for: 'panic-silent' }, silent, t('panic.silent'))),
        error,
        // Cancel first and focused: Enter on an opened dialog must not send a panic.
        h('div', { class: 'actions' }, cancel, send));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        error.hidden = true;
        send.disabled = true;
        try {
          await api.post('/api/services/alarm_panel/panic', panicBody(entityId, silent.checked));
          close(true);
        } catch (err) {
          error.textContent = err.message || t('error.generic');
          error.hidden = false;
        } finally {
          send.disabled = false;
        }
      });
      return form;
    },
  }).then(Boolean);
}

/** A danger button that confirms and sends a panic; onSent() runs after the hub took it. */
export function panicButton(entityId, { testid, label, onSent } = {}) {
  const btn = actionButton({
    class: 'btn-panic', testid,
    on: { click: async () => { if (await confirmPanic(entityId) && onSent) onSent(); } },
  }, icon('alert'), label || t('panic.button'));
  return btn;
}

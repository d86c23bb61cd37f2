// PIN pad dialog for the alarm panel. Digits are buttons (touch panels by the door have no
// keyboard) and the field also accepts typing; the code is never stored.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { openDialog } from './dialog.js';
import { icon } from './icons.js';

/**
 * Ask for a code and run submit(code) (which may throw an ApiError: its message is shown and the
 * pad stays open). Resolves true once submit succeeded, false when cancelled.
 */
export function pinPad({ title, submit }) {
  return openDialog({
    title,
    testid: 'pinpad',
    className: 'dialog-pin',
    build(close) {
      const input = h('input', {
        type: 'password', inputmode: 'numeric', autocomplete: 'off', class: 'pin-input',
        'aria-label': t('alarm.code'), testid: 'pin-input', autofocus: true,
      });
      const error = h('p', { class: 'form-error', role: 'alert', testid: 'pin-error' });
      const press = (digit) => { input.value += digit; input.focus(); };
      const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((d) =>
        h('button', { type: 'button', class: 'btn pin-key', on: { click: () => press(d) } }, d));
      const back = h('button', {
        type: 'button', class: 'btn pin-key', 'aria-label': t('alarm.delete_digit'),
        on: { click: () => { input.value = input.value.slice(0, -1); input.focus(); } },
      }, icon('backspace'));
      const zero = h('button', { type: 'button', class: 'btn pin-key', on: { click: () => press('0') } }, '0');
      const ok = h('button', { type: 'submit', class: 'btn btn-primary pin-key', testid: 'pin-submit' }, t('alarm.enter'));
      const form = h('form', { class: 'dialog-body pin-form' },
        input, error,
        h('div', { class: 'pin-grid' }, ...keys, back, zero, ok));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        error.textContent = '';
        ok.disabled = true;
        try {
          await submit(input.value);
          close(true);
        } catch (err) {
          error.textContent = err.message || t('error.generic');
          input.value = '';
          input.focus();
        } finally {
          ok.disabled = false;
        }
      });
      return form;
    },
  }).then(Boolean);
}

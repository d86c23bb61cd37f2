// #/login. The server's message is shown as it comes (it is deliberately the same for a wrong
// user and a wrong password); a lockout (429) counts down from Retry-After and keeps the
// button disabled until then.
import { h, field } from '../dom.js';
import * as api from '../api.js';
import { t, formatNumber } from '../i18n.js';
import { pageTitle, takeFlash } from '../components/ui.js';

export const titleKey = 'login.title';

let lockedUntil = 0; // survives re-renders (a language switch) but not a reload, like the server's lock

export function countdownText(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${formatNumber(m)}:${formatNumber(s, { minimumIntegerDigits: 2 })}`;
}

export function mount(main, app) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, testid: 'login-username', autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, testid: 'login-password' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'login-submit' }, t('login.submit'));
  const error = h('div', { class: 'form-error', role: 'alert', testid: 'login-error', hidden: true });
  const message = h('p', {});
  const countdown = h('p', { class: 'countdown', testid: 'login-countdown' });
  error.append(message, countdown);
  let timer = null;

  function tick() {
    const left = Math.ceil((lockedUntil - Date.now()) / 1000);
    if (left <= 0) {
      clearInterval(timer);
      timer = null;
      submit.disabled = false;
      countdown.textContent = t('login.lock_over');
      return;
    }
    submit.disabled = true;
    countdown.textContent = t('login.locked_countdown', { time: countdownText(left) });
  }

  function showError(err) {
    error.hidden = false;
    // A lockout is worded in the page's language; the server's English text would repeat it.
    message.textContent = err.status === 429 ? t('login.locked') : (err.message || t('error.generic'));
    countdown.textContent = '';
    if (err.status === 429) {
      lockedUntil = Date.now() + (err.retryAfter ?? 60) * 1000;
      clearInterval(timer);
      timer = setInterval(tick, 1000);
      tick();
    }
  }

  const form = h('form', { class: 'form card-form', novalidate: true },
    field(t('login.username'), username),
    field(t('login.password'), password),
    error,
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (Date.now() < lockedUntil) return;
    if (!username.value || !password.value) {
      showError(new Error(t('login.missing')));
      (username.value ? password : username).focus();
      return;
    }
    submit.disabled = true;
    error.hidden = true;
    try {
      await api.login(username.value.trim(), password.value);
      await app.loggedIn();
    } catch (err) {
      showError(err);
      password.value = '';
      password.focus();
    } finally {
      if (Date.now() >= lockedUntil) submit.disabled = false;
    }
  });

  main.append(h('div', { class: 'narrow' }, pageTitle('login.title'), takeFlash(app), form));
  if (Date.now() < lockedUntil) {
    error.hidden = false;
    message.textContent = t('login.locked');
    timer = setInterval(tick, 1000);
    tick();
  }
  username.focus();
  return () => clearInterval(timer);
}

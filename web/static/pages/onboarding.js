// #/onboarding: create the first administrator while the hub has no user. The language chosen
// here applies at once and becomes the administrator's setting.
import { h, field } from '../dom.js';
import * as api from '../api.js';
import { t, getLanguage } from '../i18n.js';
import { pageTitle } from '../components/ui.js';
import { languageSelect } from '../components/header.js';

export const titleKey = 'onboarding.title';

export function mount(main, app) {
  const name = h('input', { name: 'name', autocomplete: 'name', required: true, testid: 'onboarding-name' });
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, testid: 'onboarding-username', autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, testid: 'onboarding-password' });
  const password2 = h('input', { name: 'password2', type: 'password', autocomplete: 'new-password', required: true, testid: 'onboarding-password2' });
  const language = languageSelect({ name: 'language', testid: 'onboarding-language' });
  language.addEventListener('change', () => app.changeLanguage(language.value));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'onboarding-submit' }, t('onboarding.submit'));
  const error = h('p', { class: 'form-error', role: 'alert', testid: 'onboarding-error', hidden: true });
  const fields = { name, username, password };

  const fail = (text, input) => {
    error.textContent = text;
    error.hidden = false;
    if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
  };

  const form = h('form', { class: 'form card-form', novalidate: true },
    h('p', { class: 'lead' }, t('onboarding.intro')),
    field(t('onboarding.name'), name),
    field(t('onboarding.username'), username),
    field(t('onboarding.password'), password, t('onboarding.password_hint')),
    field(t('onboarding.password2'), password2),
    field(t('onboarding.language'), language),
    error,
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    for (const input of [name, username, password, password2]) input.removeAttribute('aria-invalid');
    for (const input of [name, username, password, password2]) {
      if (!input.value.trim()) return fail(t('form.required'), input);
    }
    if (password.value !== password2.value) return fail(t('onboarding.mismatch'), password2);
    submit.disabled = true;
    try {
      await api.onboard({ name: name.value.trim(), username: username.value.trim(), password: password.value, language: getLanguage() });
      app.onboardingDone = true;
      await app.loggedIn();
    } catch (err) {
      if (err.status === 403) {
        // Someone finished onboarding first: this hub already has an administrator.
        app.onboardingDone = true;
        app.flash = 'onboarding.already_done';
        app.navigate('#/login');
        return;
      }
      fail(err.message || t('error.generic'), fields[err.field]);
    } finally {
      submit.disabled = false;
    }
  });

  main.append(h('div', { class: 'narrow' }, pageTitle('onboarding.title'), form));
  name.focus();
}

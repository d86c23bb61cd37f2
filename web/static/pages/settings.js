// #/settings: the user's own name, language and password, and what the hub says about itself.
import { h, field, actionButton, busy } from '../dom.js';
import * as api from '../api.js';
import { t, getLanguage } from '../i18n.js';
import * as store from '../store.js';
import { pageTitle, section, notice, dl } from '../components/ui.js';
import { languageSelect } from '../components/header.js';
import { alarmPanels, pinProblem, setCodeBody } from '../alarms-model.js';

export const titleKey = 'settings.title';

export async function mount(main, app) {
  const me = app.me || (await api.get('/api/me'));

  // ---- profile: name and language ----
  const profileMsg = notice({ role: 'status', testid: 'profile-message' });
  const name = h('input', { name: 'profile_name', value: me.name || '', autocomplete: 'name', testid: 'settings-name' });
  const language = languageSelect({ name: 'profile_language', testid: 'settings-language' });
  const saveProfile = actionButton({ type: 'submit', class: 'btn-primary', testid: 'settings-save' }, t('common.save'));
  const profile = h('form', { class: 'form', novalidate: true },
    dl([[t('users.username'), h('code', {}, me.username)], [t('users.role'), t(`role.${me.role}`)]]),
    field(t('settings.name'), name), field(t('settings.language'), language, t('settings.language_hint')),
    profileMsg.el, h('div', { class: 'actions' }, saveProfile));
  // The language applies at once, like the switch in the header (which also saves it).
  language.addEventListener('change', () => app.changeLanguage(language.value));
  profile.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    profileMsg.clear();
    await busy(saveProfile, async () => {
      try {
        const updated = await api.patch('/api/me', { name: name.value.trim(), language: getLanguage() });
        app.me = { ...app.me, ...(updated || {}), name: name.value.trim(), language: getLanguage() };
        profileMsg.show(t('settings.saved'), 'ok');
      } catch (err) { profileMsg.show(err, 'error'); }
    });
  });

  // ---- password ----
  const pwMsg = notice({ role: 'status', testid: 'password-message' });
  const current = h('input', { name: 'current_password', type: 'password', autocomplete: 'current-password', testid: 'settings-current-password' });
  const next = h('input', { name: 'new_password', type: 'password', autocomplete: 'new-password', testid: 'settings-new-password' });
  const next2 = h('input', { name: 'new_password2', type: 'password', autocomplete: 'new-password', testid: 'settings-new-password2' });
  const savePw = actionButton({ type: 'submit', class: 'btn-primary', testid: 'settings-password-save' }, t('settings.change_password'));
  const pwForm = h('form', { class: 'form', novalidate: true },
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: me.username, hidden: true }), // lets password managers pair the new password
    field(t('settings.current_password'), current), field(t('settings.new_password'), next), field(t('settings.new_password2'), next2),
    pwMsg.el, h('div', { class: 'actions' }, savePw));
  pwForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    pwMsg.clear();
    if (!current.value || !next.value) { pwMsg.show(t('form.required'), 'error'); return; }
    if (next.value !== next2.value) { pwMsg.show(t('onboarding.mismatch'), 'error'); next2.focus(); return; }
    await busy(savePw, async () => {
      try {
        await api.patch('/api/me', { password: next.value, current_password: current.value });
        current.value = next.value = next2.value = '';
        pwMsg.show(t('settings.password_changed'), 'ok');
      } catch (err) { pwMsg.show(err, 'error'); }
    });
  });

  // ---- alarm PIN (only where there is an alarm panel) ----
  const pin = alarmPinForm();
  const pinSection = section('settings.alarm_pin', pin);
  const showPin = () => { pinSection.hidden = alarmPanels(store.allStates()).length === 0; };
  showPin();

  // ---- hub ----
  const hubBox = h('div', { testid: 'hub-info' });
  main.append(pageTitle('settings.title'),
    section('settings.profile', profile),
    section('settings.password', pwForm),
    pinSection,
    section('settings.hub', hubBox));
  const offMembership = store.onMembership(showPin);
  try {
    const hub = await api.get('/api/');
    app.hub = hub;
    hubBox.append(dl([[t('settings.hub_name'), hub.name], [t('settings.version'), hub.version], [t('settings.time_zone'), hub.time_zone]]));
  } catch (err) {
    hubBox.append(h('p', { class: 'notice notice-error' }, err.message));
  }
  return offMembership;
}

/** The user's own alarm PIN (alarm_panel.set_code): new PIN twice, the current one when there is one. */
function alarmPinForm() {
  const msg = notice({ role: 'status', testid: 'settings-pin-message' });
  const pinInput = (name, testid) => h('input', {
    name, type: 'password', inputmode: 'numeric', autocomplete: 'off', maxlength: '8', testid,
  });
  const current = pinInput('alarm_pin_current', 'settings-pin-current');
  const pin = pinInput('alarm_pin', 'settings-pin');
  const pin2 = pinInput('alarm_pin2', 'settings-pin2');
  const save = actionButton({ type: 'submit', class: 'btn-primary', testid: 'settings-pin-save' }, t('settings.alarm_pin_save'));
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'hint' }, t('settings.alarm_pin_hint')),
    field(t('settings.alarm_pin_current'), current, t('settings.alarm_pin_current_hint')),
    field(t('settings.alarm_pin_new'), pin, t('settings.alarm_pin_format')),
    field(t('settings.alarm_pin_new2'), pin2),
    msg.el, h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.clear();
    const problem = pinProblem(pin.value, pin2.value);
    if (problem) {
      msg.show(t(problem === 'required' ? 'form.required' : problem === 'format' ? 'settings.alarm_pin_format' : 'settings.alarm_pin_mismatch'), 'error');
      (problem === 'mismatch' ? pin2 : pin).focus();
      return;
    }
    await busy(save, async () => {
      try {
        await api.post('/api/services/alarm_panel/set_code', setCodeBody(pin.value, current.value));
        current.value = pin.value = pin2.value = '';
        msg.show(t('settings.alarm_pin_saved'), 'ok');
      } catch (err) { msg.show(err, 'error'); } // "wrong code", "code entry locked until 14:07"
    });
  });
  return form;
}

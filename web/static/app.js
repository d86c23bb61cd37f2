// Boot, session, websocket wiring and the hash router. Pages are modules exporting
// mount(main, app, param) -> cleanup; they get `app` instead of reaching for globals.
import * as api from './api.js';
import * as store from './store.js';
import { HubSocket } from './ws.js';
import { h, mount, setConnectionUp } from './dom.js';
import { t, setLanguage, pickLanguage, storedLanguage, getLanguage, onLanguageChange, setTimeZone, translateStatic } from './i18n.js';
import { createConnectionBanner, createLinkBanner } from './components/banner.js';
import { LINK_ENTITY } from './alarms-model.js';
import { renderHeader } from './components/header.js';
import * as onboarding from './pages/onboarding.js';
import * as login from './pages/login.js';
import * as overview from './pages/overview.js';
import * as entity from './pages/entity.js';
import * as devices from './pages/devices.js';
import * as discovered from './pages/discovered.js';
import * as orders from './pages/orders.js';
import * as alarms from './pages/alarms.js';
import * as cameras from './pages/cameras.js';
import * as automations from './pages/automations.js';
import * as users from './pages/users.js';
import * as settings from './pages/settings.js';

const ROUTES = { onboarding, login, overview, entity, orders, alarms, cameras, automations, devices, discovered, users, settings };
const PUBLIC = new Set(['onboarding', 'login']);

const main = document.getElementById('main');
const headerEl = document.getElementById('app-header');
const banner = createConnectionBanner(document.getElementById('connection-banner'));
// The command-centre link trouble concerns the whole home, so it sits above every page.
const linkBanner = createLinkBanner(h('div', { class: 'trouble-banner', testid: 'link-banner', role: 'alert', hidden: true }));
main.before(linkBanner.el);
store.onEntity(LINK_ENTITY, (st) => linkBanner.update(st));

let header = null;
let cleanup = null;
let renderSeq = 0;
let firstRender = true;
let currentRoute = null;
let returnTo = null; // where to go after logging in

const app = {
  me: null,
  hub: null,
  socket: null,
  status: 'idle',
  onboardingDone: true,
  flash: null, // one message for the next page (e.g. "your session ended")
  isAdmin: () => Boolean(app.me && app.me.role === 'admin'),
  navigate(route) {
    if (location.hash === route) render(); else location.hash = route;
  },
  /** Called by login and onboarding once a token is held. */
  async loggedIn() {
    await startSession();
    const target = returnTo && !/^#\/(login|onboarding)/.test(returnTo) ? returnTo : '#/overview';
    returnTo = null;
    app.navigate(target);
  },
  async changeLanguage(lang) {
    await setLanguage(lang);
    if (api.isLoggedIn() && app.me && app.me.language !== lang) {
      try {
        app.me = { ...app.me, ...(await api.patch('/api/me', { language: lang })), language: lang };
      } catch { /* the choice still applies in this browser; the setting page shows errors */ }
    }
  },
  async logout() {
    try { await api.logout(); } catch { /* logged out locally anyway */ }
  },
};

export function parseHash(hash) {
  const path = (hash || '').replace(/^#\/?/, '');
  const [name, ...rest] = path.split('/');
  return { name: name || 'overview', param: rest.length ? decodeURIComponent(rest.join('/')) : null };
}

function drawHeader() {
  header = renderHeader(headerEl, {
    hubName: app.hub && app.hub.name,
    user: app.me,
    isAdmin: app.isAdmin(),
    route: currentRoute,
    status: app.status,
    onLanguage: (lang) => app.changeLanguage(lang),
    onLogout: () => app.logout(),
  });
}

function onStatus(status) {
  if (status === 'auth_failed') {
    // The websocket refused our token: a refresh either revives the session or logs us out.
    api.refresh().then((ok) => { if (ok && app.socket) app.socket.start(); }).catch(() => {});
    return;
  }
  app.status = status;
  setConnectionUp(status === 'connected');
  banner.update(status);
  if (header) header.setStatus(status);
}

async function startSession() {
  const [me, hub] = await Promise.all([api.get('/api/me'), api.get('/api/').catch(() => null)]);
  app.me = me;
  app.hub = hub;
  if (hub && hub.time_zone) setTimeZone(hub.time_zone);
  const lang = pickLanguage({ user: me.language, stored: storedLanguage(), navigatorLanguages: navigator.languages });
  if (lang !== getLanguage()) await setLanguage(lang);
  if (!app.socket) {
    app.socket = new HubSocket({ getToken: (opts) => api.getAccessToken(opts) });
    app.socket.onStatus(onStatus);
    app.socket.subscribeStates((states) => store.replaceAll(states, 'ws'), (id, st) => store.update(id, st));
  }
  app.socket.start();
  drawHeader();
}

function endSession(reason) {
  if (app.socket) { app.socket.stop(); app.socket = null; }
  store.reset();
  linkBanner.update(null);
  app.me = null;
  app.status = 'idle';
  setConnectionUp(true);
  banner.update('idle');
  if (reason === 'expired') app.flash = 'login.session_expired';
  drawHeader();
  const { name } = parseHash(location.hash);
  if (!PUBLIC.has(name)) returnTo = location.hash;
  app.navigate('#/login');
}

/** Keep what the user typed across a re-render (a language switch rebuilds the page). */
function saveForm() {
  const values = new Map();
  for (const el of main.querySelectorAll('input[name], select[name], textarea[name]')) {
    if (el.type === 'checkbox' || el.type === 'radio') values.set(el.name, el.checked);
    else values.set(el.name, el.value);
  }
  const active = document.activeElement;
  return { values, focus: active && main.contains(active) ? (active.name || active.dataset.testid) : null };
}

function restoreForm({ values, focus }) {
  for (const el of main.querySelectorAll('input[name], select[name], textarea[name]')) {
    // A language select shows the language now in force, not the one it had before the switch.
    if (!values.has(el.name) || el.classList.contains('lang-select')) continue;
    if (el.type === 'checkbox' || el.type === 'radio') el.checked = values.get(el.name); else el.value = values.get(el.name);
  }
  if (focus) {
    const el = main.querySelector(`[name="${CSS.escape(focus)}"], [data-testid="${CSS.escape(focus)}"]`);
    if (el) el.focus();
  }
}

async function render({ keepForm = false } = {}) {
  const seq = ++renderSeq;
  let { name, param } = parseHash(location.hash);
  if (!ROUTES[name]) name = 'overview';
  // Guards: onboarding first, then login; signed-in users skip the public pages.
  if (!app.onboardingDone && name !== 'onboarding') return app.navigate('#/onboarding');
  if (app.onboardingDone && name === 'onboarding') return app.navigate(api.isLoggedIn() ? '#/overview' : '#/login');
  if (!PUBLIC.has(name) && !api.isLoggedIn()) {
    returnTo = location.hash;
    return app.navigate('#/login');
  }
  if (name === 'login' && api.isLoggedIn()) return app.navigate('#/overview');
  if (name === 'users' && !app.isAdmin()) {
    app.flash = 'users.admin_only';
    return app.navigate('#/overview');
  }

  const saved = keepForm ? saveForm() : null;
  if (cleanup) { try { cleanup(); } catch { /* a page's cleanup must not block the next page */ } cleanup = null; }
  currentRoute = name;
  if (header) header.setRoute(name);
  const page = ROUTES[name];
  document.title = `${t(page.titleKey)} · ${(app.hub && app.hub.name) || 'Maderas Hub'}`;
  mount(main);
  main.setAttribute('aria-busy', 'true');
  try {
    const result = await page.mount(main, app, param);
    if (seq !== renderSeq) { if (typeof result === 'function') result(); return; }
    cleanup = typeof result === 'function' ? result : null;
  } catch (err) {
    if (seq !== renderSeq) return;
    mount(main, h('h1', { tabindex: '-1' }, t('error.title')), h('p', { class: 'form-error', role: 'alert' }, err.message || t('error.generic')));
  } finally {
    if (seq === renderSeq) main.removeAttribute('aria-busy');
  }
  if (saved) restoreForm(saved);
  else if (!firstRender && !main.contains(document.activeElement)) {
    // After navigation, move focus to the page heading so screen readers announce the new page
    // (unless the page already focused its first field).
    const heading = main.querySelector('h1');
    if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus({ preventScroll: false }); }
  }
  firstRender = false;
}

function bootError(err) {
  mount(main,
    h('h1', { tabindex: '-1' }, t('boot.unreachable_title')),
    h('p', { role: 'alert' }, t('boot.unreachable'), ' ', err && err.message ? `(${err.message})` : ''),
    h('button', { type: 'button', class: 'btn btn-primary', on: { click: () => location.reload() } }, t('common.retry')));
}

async function boot() {
  await setLanguage(pickLanguage({ stored: storedLanguage(), navigatorLanguages: navigator.languages }), { remember: false });
  document.querySelector('.skip-link').addEventListener('click', (ev) => {
    // The router owns the hash; moving focus is what the skip link is for.
    ev.preventDefault();
    main.focus();
  });
  drawHeader();
  try {
    const state = await api.publicRequest('GET', '/api/onboarding');
    app.onboardingDone = !(state && state.done === false);
    if (app.onboardingDone && (await api.refresh())) await startSession();
  } catch (err) {
    bootError(err);
    return;
  }
  api.onAuth('logout', (ev) => endSession(ev.detail && ev.detail.reason));
  onLanguageChange(() => {
    translateStatic(document);
    drawHeader();
    banner.retranslate();
    linkBanner.retranslate();
    render({ keepForm: true });
  });
  window.addEventListener('hashchange', () => render());
  render();
}

boot();

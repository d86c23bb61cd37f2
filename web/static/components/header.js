// The app header: hub name, connection indicator, navigation, language switch and user menu.
// Under 960 px (Spanish labels are long) the navigation and tools collapse behind a menu button (see style.css).
import { h, clear } from '../dom.js';
import { t, LANGUAGES, getLanguage } from '../i18n.js';
import { icon } from './icons.js';

const NAV = [
  { route: 'overview', key: 'nav.overview' },
  { route: 'devices', key: 'nav.devices' },
  { route: 'discovered', key: 'nav.discovered' },
  { route: 'orders', key: 'nav.orders' },
  { route: 'alarms', key: 'nav.alarms' },
  { route: 'cameras', key: 'nav.cameras' },
  { route: 'automations', key: 'nav.automations' },
  { route: 'users', key: 'nav.users', admin: true },
  { route: 'settings', key: 'nav.settings' },
];

/** A <select> of the supported languages, each named in its own language. */
export function languageSelect(props = {}) {
  const select = h('select', { class: 'lang-select', ...props });
  for (const lang of LANGUAGES) select.append(h('option', { value: lang, lang }, t(`language.name.${lang}`)));
  select.value = getLanguage();
  return select;
}

/**
 * Render the header. opts: {hubName, user, isAdmin, route, status, onLanguage(lang), onLogout()}.
 * Returns {setStatus(status), setRoute(route)} so live changes do not rebuild it.
 */
export function renderHeader(el, opts) {
  clear(el);
  const loggedIn = Boolean(opts.user);
  const brand = h('a', { class: 'brand', href: loggedIn ? '#/overview' : '#/login' }, icon('drop', 'icon brand-icon'), h('span', {}, opts.hubName || 'Maderas Hub'));
  const statusText = h('span', { class: 'status-text' });
  const indicator = h('span', { class: 'conn', testid: 'connection-status', hidden: !loggedIn }, h('span', { class: 'conn-dot', 'aria-hidden': 'true' }), statusText);

  const lang = languageSelect({ testid: 'lang-switch', 'aria-label': t('language.switch'), id: 'lang-switch' });
  lang.addEventListener('change', () => opts.onLanguage(lang.value));

  const collapsible = h('div', { class: 'header-collapsible', id: 'header-collapsible' });
  const menuButton = h('button', {
    type: 'button', class: 'btn btn-icon menu-button', testid: 'menu-button',
    'aria-expanded': 'false', 'aria-controls': 'header-collapsible', 'aria-label': t('nav.menu'),
  }, icon('menu'));
  const setOpen = (open) => {
    el.classList.toggle('is-open', open);
    menuButton.setAttribute('aria-expanded', String(open));
  };
  menuButton.addEventListener('click', () => setOpen(!el.classList.contains('is-open')));

  const links = new Map();
  if (loggedIn) {
    const nav = h('nav', { class: 'nav', 'aria-label': t('nav.label') });
    const list = h('ul', {});
    for (const item of NAV) {
      if (item.admin && !opts.isAdmin) continue;
      const a = h('a', { href: `#/${item.route}`, testid: `nav-${item.route}` }, t(item.key));
      a.addEventListener('click', () => setOpen(false));
      links.set(item.route, a);
      list.append(h('li', {}, a));
    }
    nav.append(list);
    collapsible.append(nav);
  }
  const tools = h('div', { class: 'header-tools' }, lang);
  if (loggedIn) tools.append(userMenu(opts));
  collapsible.append(tools);

  el.append(h('div', { class: 'header-bar' }, brand, indicator, loggedIn ? menuButton : null), collapsible);
  el.classList.toggle('logged-out', !loggedIn);
  el.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && el.classList.contains('is-open')) { setOpen(false); menuButton.focus(); } });

  const api = {
    setStatus(status) {
      indicator.dataset.status = status;
      statusText.textContent = t(`connection.status.${status}`);
    },
    setRoute(route) {
      for (const [name, a] of links) {
        if (name === route) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
      }
    },
  };
  api.setStatus(opts.status || 'idle');
  api.setRoute(opts.route);
  return api;
}

function userMenu(opts) {
  const menuId = 'user-menu-list';
  const button = h('button', {
    type: 'button', class: 'btn user-button', testid: 'user-menu', 'aria-expanded': 'false', 'aria-controls': menuId,
  }, icon('user'), h('span', {}, opts.user.name || opts.user.username));
  const logout = h('button', { type: 'button', class: 'btn menu-item', testid: 'logout', on: { click: () => opts.onLogout() } }, t('nav.logout'));
  const settings = h('a', { href: '#/settings', class: 'menu-item' }, t('nav.settings'));
  const list = h('div', { class: 'user-menu-list', id: menuId, hidden: true },
    h('p', { class: 'menu-meta' }, t(`role.${opts.user.role}`)), settings, logout);
  const wrap = h('div', { class: 'user-menu' }, button, list);
  const set = (open) => {
    list.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
  };
  button.addEventListener('click', () => {
    const open = list.hidden;
    set(open);
    if (open) settings.focus();
  });
  settings.addEventListener('click', () => set(false));
  wrap.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && !list.hidden) { set(false); button.focus(); ev.stopPropagation(); } });
  // Tabbing away closes it; so does a pointer press elsewhere (Safari does not focus clicked buttons,
  // so focusout alone would close the menu before a click inside it lands).
  wrap.addEventListener('focusout', (ev) => { if (ev.relatedTarget && !wrap.contains(ev.relatedTarget)) set(false); });
  const outside = (ev) => {
    if (!wrap.isConnected) { document.removeEventListener('pointerdown', outside); return; }
    if (!wrap.contains(ev.target)) set(false);
  };
  document.addEventListener('pointerdown', outside);
  return wrap;
}

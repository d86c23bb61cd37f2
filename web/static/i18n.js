// Every visible string comes from i18n/<lang>.json by key. Keys are flat ("login.title"); a value
// may be an object keyed by plural category ("one", "other", ...) chosen with Intl.PluralRules.
// Nothing here touches the DOM at import time, so web/tests can import it under node.

export const LANGUAGES = ['en', 'es-MX'];
export const DEFAULT_LANGUAGE = 'en';
const STORAGE_KEY = 'hub.language';

const dictionaries = new Map(); // language -> dict
let current = DEFAULT_LANGUAGE;
let timeZone; // the hub's zone: times in the dashboard are the home's wall clock
const listeners = new Set();

/** Map any BCP 47 tag to a supported language: es* -> es-MX, everything else -> en. */
export function normalizeLanguage(tag) {
  if (typeof tag !== 'string' || !tag) return null;
  const lower = tag.toLowerCase().replace('_', '-');
  if (lower === 'es' || lower.startsWith('es-')) return 'es-MX';
  if (lower === 'en' || lower.startsWith('en-')) return 'en';
  return null;
}

/** The user's setting wins, then the switch's stored choice, then the browser's list. */
export function pickLanguage({ user, stored, navigatorLanguages } = {}) {
  for (const candidate of [user, stored]) {
    const lang = normalizeLanguage(candidate);
    if (lang) return lang;
  }
  for (const tag of navigatorLanguages || []) {
    const lang = normalizeLanguage(tag);
    if (lang) return lang;
  }
  return DEFAULT_LANGUAGE;
}

export function installDictionary(lang, dict) {
  dictionaries.set(lang, dict);
}

function interpolate(text, params) {
  return text.replace(/\{(\w+)\}/g, (m, name) => (params && name in params ? String(params[name]) : m));
}

/** Translate with a given language; missing keys fall back to English, then to the key itself. */
export function translate(lang, key, params) {
  for (const l of [lang, DEFAULT_LANGUAGE]) {
    const dict = dictionaries.get(l);
    if (!dict || !(key in dict)) continue;
    let value = dict[key];
    if (value && typeof value === 'object') {
      const count = params && typeof params.count === 'number' ? params.count : 0;
      const category = new Intl.PluralRules(l).select(count);
      value = value[category] ?? value.other;
    }
    const shown = params && typeof params.count === 'number' && !('n' in params)
      ? { ...params, n: formatNumber(params.count, {}, l) } : params;
    return interpolate(String(value), shown);
  }
  return key;
}

export function t(key, params) {
  return translate(current, key, params);
}

/** Translate a key built from data (a state value); the raw text when there is no such key. */
export function tOr(key, fallback) {
  const text = translate(current, key);
  return text === key ? fallback : text;
}

export function getLanguage() {
  return current;
}

export function getTimeZone() {
  return timeZone;
}

/** Use the hub's time zone for dates when the browser knows it. */
export function setTimeZone(zone) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    timeZone = zone;
  } catch {
    timeZone = undefined;
  }
}

export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

async function loadDictionary(lang) {
  if (dictionaries.has(lang)) return;
  const res = await fetch(`/static/i18n/${lang}.json`, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`i18n ${lang}: HTTP ${res.status}`);
  installDictionary(lang, await res.json());
}

export function storedLanguage() {
  try {
    return globalThis.localStorage ? localStorage.getItem(STORAGE_KEY) : null;
  } catch {
    return null; // storage disabled (private mode): the choice lasts for this page only
  }
}

/** Switch language now: load its file, update <html lang>, remember it, tell the page. */
export async function setLanguage(lang, { remember = true } = {}) {
  const chosen = normalizeLanguage(lang) || DEFAULT_LANGUAGE;
  await loadDictionary(DEFAULT_LANGUAGE);
  await loadDictionary(chosen);
  const changed = chosen !== current;
  current = chosen;
  if (remember) {
    try { localStorage.setItem(STORAGE_KEY, chosen); } catch { /* see storedLanguage */ }
  }
  if (globalThis.document) {
    document.documentElement.lang = chosen;
    translateStatic(document);
  }
  if (changed) for (const fn of listeners) fn(chosen);
  return chosen;
}

/** Fill elements of the static shell marked data-i18n="key" (text) or data-i18n-label (aria-label). */
export function translateStatic(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}

// ---- formatting: always through Intl in the chosen locale ----

export function formatNumber(value, options = {}, lang = current) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  return new Intl.NumberFormat(lang, options).format(value);
}

/** Decimals a state string was written with, so "21.50" stays "21.50" and "3" stays "3". */
export function decimalsOf(text) {
  const m = /\.(\d+)$/.exec(String(text));
  return m ? m[1].length : 0;
}

export function formatState(text) {
  const n = Number(text);
  if (text === '' || text === null || !Number.isFinite(n)) return String(text);
  const d = Math.min(decimalsOf(text), 6);
  return formatNumber(n, { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** Time values from the hub are epoch seconds; ISO strings are accepted too. */
export function toDate(value) {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value < 1e11 ? value * 1000 : value);
  if (typeof value === 'string' && value) {
    const n = Number(value);
    if (Number.isFinite(n)) return toDate(n);
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}

export function formatDateTime(value, options = { dateStyle: 'medium', timeStyle: 'short' }) {
  const d = toDate(value);
  if (!d) return '—';
  return new Intl.DateTimeFormat(current, { ...options, timeZone }).format(d);
}

export function formatTime(value, options = { hour: '2-digit', minute: '2-digit' }) {
  return formatDateTime(value, options);
}

/** "in 5 minutes" / "hace 3 horas" relative to now. */
export function formatRelative(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return '—';
  const seconds = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const rtf = new Intl.RelativeTimeFormat(current, { numeric: 'auto' });
  if (abs < 60) return rtf.format(seconds, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}

/** A duration such as an uptime: the two largest units, "3 d 4 h". */
export function formatDuration(totalSeconds) {
  if (typeof totalSeconds !== 'number' || !Number.isFinite(totalSeconds)) return '—';
  const parts = [];
  let rest = Math.max(0, Math.floor(totalSeconds));
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]]) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || (unit === 'second' && parts.length === 0)) {
      parts.push(new Intl.NumberFormat(current, { style: 'unit', unit, unitDisplay: 'narrow' }).format(n));
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '—';
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'];
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return new Intl.NumberFormat(current, {
    style: 'unit', unit: units[i], unitDisplay: 'short', maximumFractionDigits: i === 0 ? 0 : 1,
  }).format(v);
}

export function formatLitres(litres) {
  return formatNumber(litres, { style: 'unit', unit: 'liter', unitDisplay: 'short', maximumFractionDigits: 0 });
}

export function formatPercent(pct, digits = 0) {
  return formatNumber(pct / 100, { style: 'percent', maximumFractionDigits: digits, minimumFractionDigits: digits });
}

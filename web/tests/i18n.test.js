// Both translations have the same keys, plural forms and placeholders, and every key the
// dashboard's JS names exists. Run: node --test web/tests/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsFiles } from './helpers.js';
import { normalizeLanguage, pickLanguage, installDictionary, translate, LANGUAGES } from '../static/i18n.js';

const STATIC = join(dirname(fileURLToPath(import.meta.url)), '..', 'static');
const dicts = Object.fromEntries(LANGUAGES.map((l) => [l, JSON.parse(readFileSync(join(STATIC, 'i18n', `${l}.json`), 'utf8'))]));
for (const [l, d] of Object.entries(dicts)) installDictionary(l, d);

const placeholders = (v) => new Set((typeof v === 'string' ? [v] : Object.values(v)).flatMap((s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1])));

test('en and es-MX have exactly the same keys', () => {
  const en = Object.keys(dicts.en).sort();
  const es = Object.keys(dicts['es-MX']).sort();
  assert.deepEqual(en.filter((k) => !es.includes(k)), [], 'keys missing from es-MX.json');
  assert.deepEqual(es.filter((k) => !en.includes(k)), [], 'keys missing from en.json');
});

test('values are strings or plural objects with one and other, same placeholders in both', () => {
  for (const key of Object.keys(dicts.en)) {
    const values = LANGUAGES.map((l) => dicts[l][key]);
    for (const [i, v] of values.entries()) {
      if (typeof v === 'object') {
        assert.ok(v && typeof v.one === 'string' && typeof v.other === 'string', `${LANGUAGES[i]} ${key}: plural needs one and other`);
      } else {
        assert.equal(typeof v, 'string', `${LANGUAGES[i]} ${key}`);
        assert.ok(v.length > 0, `${LANGUAGES[i]} ${key} is empty`);
      }
    }
    assert.deepEqual([...placeholders(values[1])].sort(), [...placeholders(values[0])].sort(), `placeholders differ for ${key}`);
  }
});

test('every key named in the JS exists; every key prefix built in the JS has keys', () => {
  const keys = Object.keys(dicts.en);
  // A quoted 'a.b' literal whose first part is a namespace of the dictionary is taken as a key.
  const namespaces = new Set(keys.map((k) => k.split('.')[0]));
  const missing = [];
  for (const file of jsFiles()) {
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/'([a-z][a-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+)'/g)) {
      if (namespaces.has(m[1].split('.')[0]) && !keys.includes(m[1])) missing.push(`${file}: ${m[1]}`);
    }
    for (const m of src.matchAll(/\b(?:t|tOr)\(\s*`([a-z][a-z0-9_.-]*\.)\$\{/g)) {
      if (!keys.some((k) => k.startsWith(m[1]))) missing.push(`${file}: ${m[1]}*`);
    }
  }
  assert.deepEqual(missing, []);
});

test('the static shell names only existing keys', () => {
  const html = readFileSync(join(STATIC, '..', 'index.html'), 'utf8');
  for (const m of html.matchAll(/data-i18n(?:-label)?="([^"]+)"/g)) assert.ok(m[1] in dicts.en, m[1]);
});

test('language choice: user setting, then stored switch, then browser; es* -> es-MX', () => {
  assert.equal(normalizeLanguage('es'), 'es-MX');
  assert.equal(normalizeLanguage('es-ES'), 'es-MX');
  assert.equal(normalizeLanguage('es_mx'), 'es-MX');
  assert.equal(normalizeLanguage('en-GB'), 'en');
  assert.equal(normalizeLanguage('fr'), null);
  assert.equal(pickLanguage({ navigatorLanguages: ['fr-FR', 'es-AR', 'en'] }), 'es-MX');
  assert.equal(pickLanguage({ navigatorLanguages: ['de'] }), 'en');
  assert.equal(pickLanguage({ stored: 'es-MX', navigatorLanguages: ['en-US'] }), 'es-MX');
  assert.equal(pickLanguage({ user: 'en', stored: 'es-MX', navigatorLanguages: ['es'] }), 'en');
  assert.equal(pickLanguage({}), 'en');
});

test('translate interpolates, picks plural forms and falls back to English then the key', () => {
  assert.equal(translate('es-MX', 'card.unavailable_reason', { reason: 'timeout' }), 'No disponible: timeout');
  assert.equal(translate('en', 'devices.attempts', { count: 1 }), '1 attempt');
  assert.equal(translate('en', 'devices.attempts', { count: 1200 }), '1,200 attempts');
  assert.equal(translate('es-MX', 'devices.attempts', { count: 3 }), '3 intentos');
  assert.equal(translate('es-MX', 'no.such.key'), 'no.such.key');
});

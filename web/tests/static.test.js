// The dashboard must run under the hub's CSP with no build step: no inline script, handler or
// style, no eval, nothing from another host, every module parses and every import resolves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsFiles } from './helpers.js';

const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
const STATIC = join(WEB, 'static');
const MAX_LINES = 400;

test('index.html: external module script, stylesheet, noscript; nothing inline', () => {
  const html = readFileSync(join(WEB, 'index.html'), 'utf8');
  assert.match(html, /<link rel="stylesheet" href="\/static\/style\.css">/);
  assert.match(html, /<script type="module" src="\/static\/app\.js"><\/script>/);
  assert.match(html, /<noscript>/);
  assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'inline <script>');
  assert.doesNotMatch(html, /<style/i, '<style> element');
  assert.doesNotMatch(html, /\sstyle=/i, 'style attribute');
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'inline event handler');
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i, 'resource from another host');
});

test('every module passes node --check and stays small', () => {
  for (const file of jsFiles()) {
    const run = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
    assert.equal(run.status, 0, `${file}\n${run.stderr}`);
    const lines = readFileSync(file, 'utf8').split('\n').length;
    assert.ok(lines <= MAX_LINES, `${file} has ${lines} lines`);
  }
});

test('no eval, no Function constructor, no innerHTML, no inline style text, no other hosts', () => {
  for (const file of jsFiles()) {
    const src = readFileSync(file, 'utf8');
    assert.doesNotMatch(src, /\beval\s*\(|new\s+Function\s*\(|setTimeout\(\s*['"`]/, `${file}: code from strings`);
    assert.doesNotMatch(src, /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML/, `${file}: HTML from strings`);
    assert.doesNotMatch(src, /setAttribute\(\s*'style'|\bstyle:\s*(['"`])[^'"`]*:/, `${file}: style attribute text`);
    for (const m of src.matchAll(/https?:\/\/[^\s'"`)]+/g)) {
      assert.equal(m[0], 'http://www.w3.org/2000/svg', `${file}: ${m[0]}`);
    }
  }
  const css = readFileSync(join(STATIC, 'style.css'), 'utf8');
  assert.doesNotMatch(css, /@import|url\(\s*['"]?(https?:)?\/\//, 'style.css loads from another host');
});

test('every relative import resolves to a file', () => {
  for (const file of jsFiles()) {
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) {
      const spec = m[1] || m[2];
      assert.ok(spec.startsWith('./') || spec.startsWith('../'), `${file}: bare import ${spec} needs a build step`);
      assert.ok(existsSync(resolve(dirname(file), spec)), `${file}: ${spec} not found`);
    }
  }
});

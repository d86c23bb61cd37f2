// Shared by the tests (not itself a test file: node --test runs only *.test.js here).
import { readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
export const STATIC = join(WEB, 'static');

/** Every .js file under dir (default web/static), recursively. */
export function jsFiles(dir = STATIC) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return jsFiles(p);
    return name.endsWith('.js') ? [p] : [];
  });
}


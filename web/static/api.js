// REST client. The access token lives only in this module's memory (never in storage, so a
// script injected elsewhere cannot read it later); the refresh token is the HttpOnly cookie
// hub_refresh, scoped to /auth, which only POST /auth/token reads.

const REFRESH_MARGIN_S = 60; // renew a minute before expiry: clocks drift and requests take time

let accessToken = null;
let expiresAt = 0; // epoch ms
let refreshTimer = null;
let refreshing = null; // the in-flight refresh, shared by concurrent callers
const events = new EventTarget();

export class ApiError extends Error {
  constructor(status, code, message, { field, retryAfter } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter; // seconds, for 429
  }
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(header, now = Date.now()) {
  if (!header) return null;
  const n = Number(header);
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/** exp from our access token format v1.<b64url JSON>.<sig>; null if it cannot be read. */
export function tokenExpiry(token) {
  try {
    const payload = token.split('.')[1];
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const exp = JSON.parse(json).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** 'login' | 'logout' events; detail.reason on logout ('expired' when the session ended). */
export function onAuth(type, fn) {
  events.addEventListener(type, fn);
  return () => events.removeEventListener(type, fn);
}

export function isLoggedIn() {
  return accessToken !== null;
}

function setToken(body) {
  const token = body && (body.access_token || body.token);
  if (!token) throw new ApiError(0, 'bad_response', 'no access token in the response');
  const wasLoggedIn = accessToken !== null;
  accessToken = token;
  const fromBody = typeof body.expires_in === 'number' ? Date.now() + body.expires_in * 1000 : null;
  expiresAt = fromBody || tokenExpiry(token) || Date.now() + 30 * 60 * 1000;
  scheduleRefresh();
  if (!wasLoggedIn) events.dispatchEvent(new CustomEvent('login'));
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const delay = Math.max(5000, expiresAt - Date.now() - REFRESH_MARGIN_S * 1000);
  refreshTimer = setTimeout(() => { refresh().catch(() => {}); }, delay);
}

function dropToken(reason) {
  clearTimeout(refreshTimer);
  const wasLoggedIn = accessToken !== null;
  accessToken = null;
  expiresAt = 0;
  if (wasLoggedIn) events.dispatchEvent(new CustomEvent('logout', { detail: { reason } }));
}

// Background tabs throttle timers; on return, renew at once if the token is (nearly) stale.
if (globalThis.document) {
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && accessToken && Date.now() > expiresAt - REFRESH_MARGIN_S * 1000) {
      refresh().catch(() => {});
    }
  });
}

async function errorFrom(res) {
  let code = 'http_' + res.status;
  let message = res.statusText || `HTTP ${res.status}`;
  let field;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
      field = body.error.field;
    }
  } catch { /* not JSON: keep the status text */ }
  return new ApiError(res.status, code, message, { field, retryAfter: parseRetryAfter(res.headers.get('Retry-After')) });
}

async function rawFetch(method, path, body, headers = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'network', err && err.message ? err.message : 'network error');
  }
}

async function parse(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/** Get a new access token from the cookie. Resolves true when logged in, false when not. */
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const res = await rawFetch('POST', '/auth/token', { grant_type: 'refresh_token' });
        if (res.ok) {
          setToken(await parse(res));
          return true;
        }
        if (res.status === 400 || res.status === 401 || res.status === 403) {
          dropToken('expired');
          return false;
        }
        throw await errorFrom(res);
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

/** A valid access token, renewed first if it is about to expire; null when logged out. */
export async function getAccessToken({ force = false } = {}) {
  if (accessToken && !force && Date.now() < expiresAt - 5000) return accessToken;
  if (!accessToken && !force) return null;
  return (await refresh()) ? accessToken : null;
}

/** Call the API with the bearer token; on 401 refresh once and retry. */
export async function request(method, path, body) {
  let token = await getAccessToken();
  if (!token) throw new ApiError(401, 'unauthorized', 'not logged in');
  let res = await rawFetch(method, path, body, { Authorization: `Bearer ${token}` });
  if (res.status === 401) {
    token = await getAccessToken({ force: true });
    if (!token) throw await errorFrom(res);
    res = await rawFetch(method, path, body, { Authorization: `Bearer ${token}` });
    if (res.status === 401) dropToken('expired');
  }
  if (!res.ok) throw await errorFrom(res);
  return parse(res);
}

export const get = (path) => request('GET', path);
export const post = (path, body = {}) => request('POST', path, body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

/** Fetch a protected binary (a camera picture) as a blob: <img> cannot send a bearer token. */
export async function getBlob(path) {
  const token = await getAccessToken();
  const res = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {}, credentials: 'same-origin' });
  if (!res.ok) throw await errorFrom(res);
  return res.blob();
}

/** Public endpoints: no token. */
export async function publicRequest(method, path, body) {
  const res = await rawFetch(method, path, body);
  if (!res.ok) throw await errorFrom(res);
  return parse(res);
}

export async function login(username, password) {
  const res = await rawFetch('POST', '/auth/login', { username, password, client: 'browser' });
  if (!res.ok) throw await errorFrom(res);
  setToken(await parse(res));
}

export async function onboard({ name, username, password, language }) {
  const res = await rawFetch('POST', '/api/onboarding', { name, username, password, language });
  if (!res.ok) throw await errorFrom(res);
  setToken(await parse(res));
}

export async function logout() {
  const headers = accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
  try {
    await rawFetch('POST', '/auth/logout', {}, headers);
  } finally {
    dropToken('logout');
  }
}

export const enc = encodeURIComponent;

// Live camera view without a plugin: GET /api/rtsp_camera/{id}/live is a
// multipart/x-mixed-replace stream of JPEGs. An <img> cannot send the bearer token, so the
// dashboard reads it with fetch(), splits the parts here and paints each JPEG on a <canvas>.
// Nothing touches the DOM at import time, so web/tests can import this under node.
import { getAccessToken } from './api.js';

export const MAX_PART_BYTES = 5 * 1024 * 1024; // a JPEG this big is a broken stream, not a frame
const MAX_HEADER_BYTES = 16 * 1024;
export const BACKOFF_FIRST_MS = 1000;
export const BACKOFF_MAX_MS = 15000;

const CR = 13;
const LF = 10;
const DASH = 45;
const SP = 32;
const HT = 9;

function ascii(text) {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function partError(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

/** Index of `pattern` in bytes[from, to), or -1. Uses the native byte search for the first byte. */
function find(bytes, pattern, from, to) {
  const first = pattern[0];
  const last = to - pattern.length;
  for (let i = bytes.indexOf(first, from); i !== -1 && i <= last; i = bytes.indexOf(first, i + 1)) {
    let j = 1;
    while (j < pattern.length && bytes[i + j] === pattern[j]) j += 1;
    if (j === pattern.length) return i;
  }
  return -1;
}

/**
 * An incremental parser of a multipart/x-mixed-replace body fed Uint8Array chunks of any size.
 * onPart({headers, body}) gets each complete part (headers lower-cased; body a Uint8Array of its
 * own). A part with Content-Length is cut at that length; without one, at the next boundary.
 * Bytes before a boundary (a preamble, the CRLF after a part, garbage) are skipped; a part over
 * maxPartBytes is dropped unbuffered and reported to onError. Returns {push(chunk), done}.
 */
export function createMultipartReader(onPart, { boundary = 'frame', maxPartBytes = MAX_PART_BYTES, onError = () => {} } = {}) {
  const marker = ascii(`--${boundary}`);
  const delimiter = ascii(`\n--${boundary}`); // a part without length ends where a boundary line starts
  let bytes = new Uint8Array(64 * 1024);
  let pos = 0; // first unread byte
  let len = 0; // end of the bytes held
  let scan = 0; // where the next search may start (what lies before was searched already)
  let state = 'boundary'; // 'boundary' | 'headers' | 'body' | 'skip' | 'done'
  let headers = {};
  let headerBytes = 0;
  let need = -1; // Content-Length of the current part, -1 when absent
  let skip = 0; // bytes of an oversized part still to throw away

  function append(chunk) {
    if (len + chunk.length > bytes.length) {
      // Move what is still unread to the front; a new buffer only when that is not enough (doubling)
      // or when a past oversized part left a big one behind (shrink back).
      const held = len - pos;
      const want = held + chunk.length;
      if (want > bytes.length || (bytes.length > 1024 * 1024 && want < bytes.length / 4)) {
        const next = new Uint8Array(want > bytes.length ? Math.max(want, bytes.length * 2) : Math.max(want * 2, 64 * 1024));
        next.set(bytes.subarray(pos, len));
        bytes = next;
      } else {
        bytes.copyWithin(0, pos, len);
      }
      scan = Math.max(0, scan - pos);
      len = held;
      pos = 0;
    }
    bytes.set(chunk, len);
    len += chunk.length;
  }

  function emit(body) {
    const part = { headers, body };
    headers = {};
    headerBytes = 0;
    state = 'boundary';
    scan = pos;
    if (body.length) onPart(part);
  }

  function startBody() {
    const length = Number.parseInt(headers['content-length'], 10);
    need = Number.isFinite(length) && length >= 0 && /^\s*\d+\s*$/.test(headers['content-length']) ? length : -1;
    if (need > maxPartBytes) {
      onError(partError('too_large', `a part of ${need} bytes is over the ${maxPartBytes} byte limit`));
      skip = need;
      headers = {};
      headerBytes = 0;
      state = 'skip';
    } else {
      state = 'body';
      scan = pos;
    }
  }

  // Returns false when more bytes are needed.
  function stepBoundary() {
    const at = find(bytes, marker, Math.max(pos, scan), len);
    if (at === -1) {
      pos = Math.max(pos, len - (marker.length - 1)); // keep a tail that may be half a boundary
      scan = pos;
      return false;
    }
    let i = at + marker.length;
    while (i < len && (bytes[i] === SP || bytes[i] === HT)) i += 1; // transport padding
    if (i + 1 >= len) { pos = at; scan = at; return false; }
    if (bytes[i] === DASH && bytes[i + 1] === DASH) { state = 'done'; pos = len; return false; }
    if (bytes[i] === LF || (bytes[i] === CR && bytes[i + 1] === LF)) {
      pos = bytes[i] === LF ? i + 1 : i + 2;
      state = 'headers';
      return true;
    }
    pos = at + 1; // "--frameX": not our boundary
    scan = pos;
    return true;
  }

  function stepHeaders() {
    const nl = bytes.subarray(pos, len).indexOf(LF);
    if (nl === -1) {
      if (headerBytes + len - pos > MAX_HEADER_BYTES) {
        onError(partError('bad_headers', 'part headers too long'));
        headers = {};
        headerBytes = 0;
        state = 'boundary';
        scan = pos;
        return true;
      }
      return false;
    }
    const end = pos + nl;
    const line = new TextDecoder().decode(bytes.subarray(pos, end > pos && bytes[end - 1] === CR ? end - 1 : end));
    headerBytes += nl + 1;
    pos = end + 1;
    if (line === '') { startBody(); return true; }
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    return true;
  }

  function stepBody() {
    if (need >= 0) {
      if (len - pos < need) return false;
      const body = bytes.slice(pos, pos + need);
      pos += need;
      emit(body);
      return true;
    }
    // No length: the part runs to the next boundary line (its CRLF or LF belongs to the boundary).
    if (len - pos >= marker.length && find(bytes, marker, pos, pos + marker.length) === pos) { emit(new Uint8Array(0)); return true; }
    const at = find(bytes, delimiter, Math.max(pos, scan), len);
    if (at === -1) {
      if (len - pos > maxPartBytes) {
        onError(partError('too_large', `a part without length ran over the ${maxPartBytes} byte limit`));
        pos = len - (delimiter.length - 1);
        headers = {};
        headerBytes = 0;
        state = 'boundary';
        scan = pos;
        return true;
      }
      scan = Math.max(pos, len - (delimiter.length - 1));
      return false;
    }
    const end = at > pos && bytes[at - 1] === CR ? at - 1 : at;
    const body = bytes.slice(pos, end);
    pos = at + 1;
    emit(body);
    return true;
  }

  function stepSkip() {
    const n = Math.min(skip, len - pos);
    pos += n;
    skip -= n;
    if (skip > 0) return false;
    state = 'boundary';
    scan = pos;
    return true;
  }

  const steps = { boundary: stepBoundary, headers: stepHeaders, body: stepBody, skip: stepSkip };

  return {
    push(chunk) {
      if (state === 'done' || !chunk || !chunk.length) return;
      let data = chunk;
      if (state === 'skip' && pos === len) {
        // Throw an oversized part away as it streams by instead of holding 5 MB.
        const n = Math.min(skip, data.length);
        skip -= n;
        data = data.subarray(n);
        if (skip === 0) { state = 'boundary'; scan = pos; }
      }
      if (data.length) append(data);
      while (state !== 'done' && steps[state]()) { /* run until a step needs more bytes */ }
    },
    get done() { return state === 'done'; },
  };
}

/** The next reconnect delay: 1 s, doubling, at most 15 s. */
export function nextDelay(previous) {
  return previous ? Math.min(previous * 2, BACKOFF_MAX_MS) : BACKOFF_FIRST_MS;
}

/** The boundary named in a Content-Type header ("frame" when it names none). */
export function boundaryOf(contentType) {
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType || '');
  return m ? (m[1] || m[2]) : 'frame';
}

/** The server's message in an error answer: {"error": "..."} or {"error": {"message": "..."}}. */
export async function responseError(res) {
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = await res.json();
    const e = body && body.error;
    if (typeof e === 'string' && e) message = e;
    else if (e && typeof e.message === 'string' && e.message) message = e.message;
  } catch { /* not JSON: keep the status text */ }
  const err = new Error(message);
  err.status = res.status;
  return err;
}

/**
 * fetch() with the bearer token in the header (never in the URL). A 401 takes the app's usual
 * path: one forced refresh (api.js), then one retry; a second 401 or a failed refresh throws with
 * err.fatal set, since only logging in again helps.
 */
export async function authedFetch(path, init = {}, { fetchImpl = globalThis.fetch, getToken = getAccessToken } = {}) {
  const call = (token) => fetchImpl(path, { credentials: 'same-origin', ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } });
  let token = await getToken();
  if (!token) throw Object.assign(new Error('not logged in'), { status: 401, fatal: true });
  let res = await call(token);
  if (res.status === 401) {
    token = await getToken({ force: true });
    if (!token) throw Object.assign(await responseError(res), { fatal: true });
    res = await call(token);
    if (res.status === 401) throw Object.assign(await responseError(res), { fatal: true });
  }
  return res;
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    if (signal && signal.aborted) { resolve(); return; }
    const timer = setTimeout(done, ms);
    function done() { clearTimeout(timer); if (signal) signal.removeEventListener('abort', done); resolve(); }
    if (signal) signal.addEventListener('abort', done);
  });
}

/**
 * Read a live stream until signal aborts: each JPEG goes to onFrame(blob). After an error or the
 * stream ending, onError(err) and a reconnect after 1 s doubling to 15 s (back to 1 s once frames
 * flow again). Stops for good on a 401 the refresh could not cure. Resolves when stopped.
 */
export async function startLive(path, { onFrame, onError = () => {}, signal, fetchImpl, getToken, wait = pause } = {}) {
  let delay = 0;
  while (!(signal && signal.aborted)) {
    let gotFrame = false;
    try {
      const res = await authedFetch(path, { signal, headers: { Accept: 'multipart/x-mixed-replace' } }, { fetchImpl, getToken });
      if (!res.ok) throw await responseError(res);
      if (!res.body) throw new Error('no stream body');
      const reader = res.body.getReader();
      const onAbort = () => { reader.cancel().catch(() => {}); };
      if (signal) signal.addEventListener('abort', onAbort);
      try {
        const parser = createMultipartReader((part) => {
          if (signal && signal.aborted) return; // the rest of a chunk read before the abort
          gotFrame = true;
          onFrame(new Blob([part.body], { type: part.headers['content-type'] || 'image/jpeg' }));
        }, { boundary: boundaryOf(res.headers.get('Content-Type')), onError });
        for (;;) {
          const { done, value } = await reader.read();
          if (done || parser.done) break;
          parser.push(value);
        }
      } finally {
        if (signal) signal.removeEventListener('abort', onAbort);
      }
      if (signal && signal.aborted) break;
      throw new Error('the stream ended');
    } catch (err) {
      if (signal && signal.aborted) break;
      onError(err);
      if (err && err.fatal) break;
    }
    delay = gotFrame ? BACKOFF_FIRST_MS : nextDelay(delay);
    await wait(delay, signal);
  }
}

/**
 * Paints JPEG blobs on a canvas sized to the frame (CSS keeps the aspect ratio). A frame that
 * arrives while the previous one is still decoding is dropped, never queued: live means newest.
 * onPainted() is called once per frame shown.
 */
export function createPainter(canvas, { onPainted = () => {} } = {}) {
  let decoding = false;
  let dropped = 0;
  return {
    paint(blob) {
      if (decoding) { dropped += 1; return false; }
      decoding = true;
      createImageBitmap(blob).then((bitmap) => {
        if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
          canvas.width = bitmap.width;
          canvas.height = bitmap.height;
        }
        canvas.getContext('2d').drawImage(bitmap, 0, 0);
        bitmap.close();
        onPainted();
      }, () => { dropped += 1; /* a corrupt JPEG: the next frame will do */ }).finally(() => { decoding = false; });
      return true;
    },
    get dropped() { return dropped; },
  };
}

/**
 * Show path live on canvas while target is on screen, the tab is visible and the view is enabled
 * (a stream costs the hub a JPEG encode per frame, so nobody pays for a view nobody sees).
 * onPainted() per frame shown, onError(err) per failure, onStop() when it stops.
 * Returns {setEnabled(on), dispose()}.
 */
export function attachLiveView(canvas, path, { target = canvas, onPainted = () => {}, onError = () => {}, onStop = () => {} } = {}) {
  let onScreen = false;
  let enabled = true;
  let controller = null;
  const painter = createPainter(canvas, { onPainted });
  function sync() {
    const want = enabled && onScreen && !document.hidden;
    if (want && !controller) {
      controller = new AbortController();
      startLive(path, { signal: controller.signal, onFrame: (blob) => painter.paint(blob), onError });
    } else if (!want && controller) {
      controller.abort();
      controller = null;
      onStop();
    }
  }
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) onScreen = entry.isIntersecting;
    sync();
  });
  observer.observe(target);
  document.addEventListener('visibilitychange', sync);
  return {
    setEnabled(on) { enabled = on; sync(); },
    dispose() {
      observer.disconnect();
      document.removeEventListener('visibilitychange', sync);
      enabled = false;
      sync();
    },
  };
}

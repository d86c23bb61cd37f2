// Pure logic of the cameras page (no DOM): reading /api/rtsp_camera/cameras, /detections and
// /faces (docs/cameras.md, "HTTP API"), the status line, the CPU cost against its budget, the
// measured frame rate and the enrolment form's body. Tested by web/tests/cameras.test.js.
import { asList } from './model.js';
import { epoch } from './alarms-model.js';
import { t, tOr, formatNumber } from './i18n.js';

/** The camera list is polled this often (plus at once when a camera entity changes). */
export const POLL_MS = 5000;
/** Thumbnails shown under "Recent detections". */
export const DETECTIONS_LIMIT = 24;
/** The hub refuses bodies over 64 KB (docs/http.md): an uploaded photo is shrunk under this. */
export const MAX_ENROL_BODY = 60 * 1024;
/** Governor levels of docs/cameras.md; the text beyond them is the server's level_label. */
export const LEVELS = [0, 1, 2, 3];

const STATUS_KIND = { streaming: 'ok', connecting: 'warn', stalled: 'warn', unavailable: 'bad' };

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function text(v) {
  return typeof v === 'string' && v !== '' ? v : null;
}

function byName(a, b) {
  return a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) || String(a.id).localeCompare(String(b.id));
}

/** One camera record with every field present (null when the server left it out). */
export function readCamera(raw) {
  const c = raw && typeof raw === 'object' ? raw : {};
  const id = String(c.id ?? '');
  const onvif = c.onvif && typeof c.onvif === 'object' ? { state: text(c.onvif.state) || 'unknown', reason: text(c.onvif.reason) } : null;
  return {
    id,
    name: text(c.name) || id,
    entityId: text(c.entity_id),
    area: text(c.area),
    state: text(c.state) || 'unknown',
    reason: text(c.reason),
    since: epoch(c.since),
    fps: num(c.fps),
    width: num(c.width),
    height: num(c.height),
    codec: text(c.codec),
    cpuPercent: num(c.cpu_percent),
    budgetPercent: num(c.budget_percent),
    level: num(c.level),
    levelLabel: text(c.level_label),
    detectMs: num(c.detect_ms),
    lastMotion: epoch(c.last_motion),
    lastFace: epoch(c.last_face),
    onvif,
  };
}

/** GET /api/rtsp_camera/cameras -> cameras by name. */
export function readCameras(body) {
  return asList(body, 'cameras').filter((c) => c && typeof c === 'object' && c.id !== undefined && c.id !== null).map(readCamera).sort(byName);
}

/** Badge colour of a camera state: streaming ok, connecting/stalled warn, unavailable bad. */
export function statusKind(state) {
  return STATUS_KIND[state] || 'muted';
}

/** "Streaming", "Stalled: no frames for 5 s", "Unavailable: auth failed: ...". */
export function statusText(cam) {
  const label = tOr(`cameras.state.${cam.state}`, cam.state);
  return cam.reason && cam.state !== 'streaming' ? t('cameras.state_reason', { state: label, reason: cam.reason }) : label;
}

/** Whether a live view makes sense: there is (or soon may be) a stream to read. */
export function canStream(cam) {
  return cam.state !== 'unavailable';
}

function percent(value) {
  return formatNumber(value, { maximumFractionDigits: value < 10 ? 1 : 0 });
}

/** The governor's level in words: ours when we know the level, else the server's label. */
export function levelText(cam) {
  if (cam.level !== null && LEVELS.includes(cam.level)) return t(`cameras.level.${cam.level}`);
  return cam.levelLabel;
}

/**
 * The CPU cost line: {text: "12 % of a core (budget 25 %)", over: bool, level: text|null}, or
 * null while nothing was measured.
 */
export function cpuCost(cam) {
  if (cam.cpuPercent === null) return null;
  const over = cam.budgetPercent !== null && cam.cpuPercent > cam.budgetPercent;
  const textValue = cam.budgetPercent === null
    ? t('cameras.cpu', { cpu: percent(cam.cpuPercent) })
    : t('cameras.cpu_budget', { cpu: percent(cam.cpuPercent), budget: percent(cam.budgetPercent) });
  return { text: textValue, over, level: levelText(cam), shedding: cam.level !== null && cam.level > 0 };
}

/** "1280×720 · H264", or null. */
export function resolutionText(cam) {
  const size = cam.width && cam.height ? `${cam.width}×${cam.height}` : null;
  const parts = [size, cam.codec ? cam.codec.toUpperCase() : null].filter(Boolean);
  return parts.length ? parts.join(' · ') : null;
}

/** "9.8 fps" (one decimal under 10). */
export function fpsText(fps) {
  return fps === null || fps === undefined ? null : t('cameras.fps', { fps: formatNumber(fps, { maximumFractionDigits: fps < 10 ? 1 : 0 }) });
}

/**
 * Frames painted per second over the last window: tick(nowMs) per frame, rate(nowMs) to read.
 * Null until two frames came in the window (one frame says nothing about a rate).
 */
export function createFpsMeter(windowMs = 3000) {
  const times = [];
  const trim = (now) => { while (times.length && times[0] <= now - windowMs) times.shift(); };
  return {
    tick(now) { times.push(now); trim(now); },
    rate(now) {
      trim(now);
      if (times.length < 2) return null;
      const span = Math.max(now, times[times.length - 1]) - times[0];
      return span > 0 ? ((times.length - 1) * 1000) / span : null;
    },
    reset() { times.length = 0; },
  };
}

// ---- detections ----

function readBox(b) {
  return Array.isArray(b) && b.length === 4 && b.every((v) => typeof v === 'number') ? b : null;
}

/** One face of a detection: {known, name, distance, box}; known only when the server says so. */
export function readFaceHit(raw) {
  const f = raw && typeof raw === 'object' ? raw : {};
  const name = text(f.name);
  return { known: f.known === true && Boolean(name), name, distance: num(f.distance), box: readBox(f.box) };
}

/** The stored snapshot's id: from its URL /api/rtsp_camera/snapshots/<id>.jpg, else the record's own fields. */
export function snapshotIdOf(raw, url) {
  const m = typeof url === 'string' ? /\/snapshots\/([^/?#]+)\.jpg(?:[?#]|$)/.exec(url) : null;
  if (m) return decodeURIComponent(m[1]);
  const own = raw.snapshot_id ?? raw.snapshot;
  return own !== undefined && own !== null && own !== '' ? String(own) : null;
}

/** One detection with every field present. */
export function readDetection(raw) {
  const d = raw && typeof raw === 'object' ? raw : {};
  const url = text(d.url) || text(d.snapshot_url);
  return {
    id: String(d.id ?? ''),
    camera: d.camera === undefined || d.camera === null ? null : String(d.camera),
    kind: d.kind === 'motion' ? 'motion' : 'face',
    time: epoch(d.time),
    faces: Array.isArray(d.faces) ? d.faces.map(readFaceHit) : [],
    url,
    snapshotId: snapshotIdOf(d, url),
  };
}

/** GET /api/rtsp_camera/detections -> newest first (ties keep the server's order). */
export function readDetections(body) {
  return asList(body, 'detections').filter((d) => d && typeof d === 'object' && d.id !== undefined)
    .map((d, i) => [readDetection(d), i])
    .sort((x, y) => (y[0].time ?? 0) - (x[0].time ?? 0) || x[1] - y[1]).map(([d]) => d);
}

/** Who is in a detection: known names (each once, in order) and how many faces are unknown. */
export function detectionPeople(det) {
  const names = [];
  for (const f of det.faces) if (f.known && !names.includes(f.name)) names.push(f.name);
  return { names, unknown: det.faces.filter((f) => !f.known).length };
}

/** "This is ..." is offered on a stored face picture with one face (the hub refuses two). */
export function canEnrolFrom(det) {
  return det.kind === 'face' && det.snapshotId !== null && det.faces.length <= 1;
}

// ---- enrolled faces ----

export function readFace(raw) {
  const f = raw && typeof raw === 'object' ? raw : {};
  const id = String(f.id ?? '');
  return { id, name: text(f.name) || id, samples: num(f.samples), created: epoch(f.created) };
}

/** GET /api/rtsp_camera/faces -> by name, then oldest first. */
export function readFaces(body) {
  return asList(body, 'faces').filter((f) => f && typeof f === 'object' && f.id !== undefined).map(readFace)
    .sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) || (a.created ?? 0) - (b.created ?? 0) || a.id.localeCompare(b.id));
}

/**
 * The body of POST /api/rtsp_camera/faces, or {problem} ('name' | 'camera' | 'detection' |
 * 'file') when the form is not ready. source is 'camera' | 'detection' | 'file'.
 */
export function enrolBody({ name, source, camera, snapshotId, image }) {
  const who = typeof name === 'string' ? name.trim() : '';
  if (!who) return { problem: 'name' };
  if (source === 'camera') return camera ? { body: { name: who, camera } } : { problem: 'camera' };
  if (source === 'detection') return snapshotId ? { body: { name: who, snapshot_id: snapshotId } } : { problem: 'detection' };
  if (source === 'file') return image ? { body: { name: who, image } } : { problem: 'file' };
  return { problem: 'source' };
}

/** Base64 of bytes (btoa works on "binary strings"; done in slices so big photos do not overflow the stack). */
export function bytesToBase64(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Length of the base64 text of n bytes. */
export function base64Length(n) {
  return Math.ceil(n / 3) * 4;
}

/** Width and height scaled to fit within max on the longer side (never enlarged). */
export function fitWithin(width, height, max) {
  const scale = Math.min(1, max / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

// ---- paths and answers ----

export const livePath = (id) => `/api/rtsp_camera/${encodeURIComponent(id)}/live`;
export const snapshotPath = (id) => `/api/rtsp_camera/${encodeURIComponent(id)}/snapshot.jpg`;
export const detectionsPath = (limit = DETECTIONS_LIMIT) => `/api/rtsp_camera/detections?limit=${limit}`;
export const facePath = (id) => `/api/rtsp_camera/faces/${encodeURIComponent(id)}`;

/** A 404 from the camera list means rtsp_camera is not set up on this hub. */
export function isNotConfigured(err) {
  return Boolean(err && err.status === 404);
}

/** Whether a changed entity is one of the cameras shown (so the list is read again at once). */
export function isCameraEntity(cameras, entityId) {
  return cameras.some((c) => c.entityId === entityId);
}

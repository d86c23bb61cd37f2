// #/cameras: every camera live (while its card is on screen), its health and what it costs the
// hub, a snapshot on demand, the recent detections and the residents' enrolled faces.
import { h, field, actionButton, busy, clear, mount as fill } from '../dom.js';
import * as api from '../api.js';
import * as store from '../store.js';
import { t, formatDateTime, formatRelative } from '../i18n.js';
import {
  readCameras, readDetections, readFaces, statusKind, statusText, canStream, cpuCost, resolutionText, fpsText,
  createFpsMeter, detectionPeople, canEnrolFrom, enrolBody, bytesToBase64, base64Length, fitWithin, isNotConfigured,
  isCameraEntity, livePath, snapshotPath, detectionsPath, facePath, POLL_MS, MAX_ENROL_BODY,
} from '../cameras-model.js';
import { attachLiveView, authedFetch, responseError } from '../live.js';
import { pageTitle, section, loading, emptyState, notice, badge, dl } from '../components/ui.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { icon } from '../components/icons.js';

export const titleKey = 'cameras.title';

const CHANGE_DEBOUNCE_MS = 300; // a camera entity changes several attributes at once

function when(value) {
  return value === null ? t('cameras.never') : `${formatDateTime(value)} (${formatRelative(value)})`;
}

/** GET a protected picture as an object URL; the server's reason (e.g. 503 "stalled ...") on failure. */
async function pictureUrl(path) {
  const res = await authedFetch(path);
  if (!res.ok) throw await responseError(res);
  return URL.createObjectURL(await res.blob());
}

/** Send JSON to the camera API; throws with the server's own text ("no face found"). */
async function send(method, path, body) {
  const init = body === undefined ? { method } : { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  const res = await authedFetch(path, init);
  if (!res.ok) throw await responseError(res);
}

/** A dialog with a picture fetched with the token; freed when it closes. */
function pictureDialog(title, path, testid) {
  let src = null;
  const status = h('p', { class: 'loading', role: 'status' }, t('common.loading'));
  const img = h('img', { class: 'snapshot-large', alt: title, hidden: true });
  pictureUrl(path).then((url) => { src = url; img.src = url; img.hidden = false; status.remove(); },
    (err) => { status.className = 'notice notice-error'; status.textContent = err.message; });
  return openDialog({ title, className: 'dialog-snapshot', testid, build: () => h('div', { class: 'dialog-body' }, status, img) })
    .finally(() => { if (src) URL.revokeObjectURL(src); });
}

/** One camera: live canvas, status line and facts; update(cam) keeps the canvas and its stream. */
function cameraCard(cam) {
  const canvas = h('canvas', { class: 'live-canvas', testid: `live-${cam.id}`, role: 'img', 'aria-label': t('cameras.live_alt', { name: cam.name }) });
  const placeholder = h('p', { class: 'live-none card-detail' });
  const frame = h('div', { class: 'live-frame' }, canvas, placeholder);
  const measured = h('p', { class: 'card-detail live-fps', testid: `camera-fps-${cam.id}`, 'aria-live': 'off' });
  const liveError = h('p', { class: 'card-detail live-error', hidden: true });
  const title = h('h2', { class: 'card-title' });
  const status = h('span', { testid: `camera-status-${cam.id}` });
  const facts = h('div', {});
  const snap = h('button', { type: 'button', class: 'btn', testid: `camera-snapshot-${cam.id}`,
    on: { click: () => pictureDialog(t('cameras.snapshot_of', { name: current.name }), snapshotPath(current.id), 'camera-snapshot-dialog') } },
  icon('camera'), ' ', t('cameras.snapshot'));
  const el = h('article', { class: 'card camera-live-card', testid: `camera-${cam.id}` },
    h('div', { class: 'card-head' }, icon('camera'), title), frame, measured, liveError, status, facts, h('div', { class: 'actions' }, snap));

  const meter = createFpsMeter();
  let painted = false;
  const view = attachLiveView(canvas, livePath(cam.id), {
    target: frame,
    onPainted: () => { meter.tick(performance.now()); if (!painted) { painted = true; placeholder.hidden = true; canvas.hidden = false; } liveError.hidden = true; },
    onError: (err) => { liveError.textContent = t('cameras.live_error', { reason: err.message || t('error.generic') }); liveError.hidden = false; },
    onStop: () => meter.reset(),
  });
  const fpsTimer = setInterval(() => {
    const rate = meter.rate(performance.now());
    measured.textContent = rate === null ? '' : t('cameras.measured', { fps: fpsText(rate) });
  }, 1000);

  let current = cam;
  function update(next) {
    current = next;
    title.textContent = next.name;
    fill(status, badge(statusText(next), statusKind(next.state)));
    const cost = cpuCost(next);
    fill(facts, dl([
      [t('cameras.stream'), [fpsText(next.fps) || '—', resolutionText(next) ? ` · ${resolutionText(next)}` : '']],
      cost ? [t('cameras.cpu_label'), h('span', { class: cost.over ? 'over-budget' : null, testid: `camera-cpu-${next.id}` },
        cost.text, cost.over ? [' ', badge(t('cameras.over_budget'), 'warn')] : null)] : null,
      cost && cost.level ? [t('cameras.level_label'), h('span', { testid: `camera-level-${next.id}` }, cost.level)] : null,
      next.detectMs !== null ? [t('cameras.detect'), t('cameras.ms', { ms: Math.round(next.detectMs) })] : null,
      [t('cameras.last_motion'), when(next.lastMotion)],
      [t('cameras.last_face'), when(next.lastFace)],
      next.onvif ? [t('cameras.onvif'), h('span', { testid: `camera-onvif-${next.id}` },
        statusText({ state: next.onvif.state, reason: next.onvif.reason }))] : null,
    ], 'facts inline'));
    const streamable = canStream(next);
    view.setEnabled(streamable);
    canvas.hidden = !painted || !streamable;
    placeholder.hidden = painted && streamable;
    placeholder.textContent = streamable ? t('cameras.live_starting') : t('cameras.live_off');
    if (!streamable) liveError.hidden = true;
  }
  update(cam);
  return { el, update, dispose: () => { clearInterval(fpsTimer); view.dispose(); } };
}

/** Stored pictures as object URLs, fetched once each, freed when no longer listed or on leaving. */
function pictureCache() {
  const urls = new Map(); // path -> Promise<object URL>
  const free = (p) => p.then((u) => URL.revokeObjectURL(u), () => {});
  return {
    load(path) {
      if (!urls.has(path)) urls.set(path, pictureUrl(path));
      return urls.get(path);
    },
    keep(paths) {
      for (const [path, p] of urls) if (!paths.has(path)) { free(p); urls.delete(path); }
    },
    dispose() { for (const p of urls.values()) free(p); urls.clear(); },
  };
}

function detectionItem(det, { cameraName, pictures, onEnrol }) {
  const { names, unknown } = detectionPeople(det);
  const where = cameraName(det.camera);
  const alt = t('cameras.detection_alt', { camera: where, time: formatDateTime(det.time) });
  const img = h('img', { class: 'detection-img', alt, hidden: true, decoding: 'async' });
  const thumb = h('button', { type: 'button', class: 'snapshot detection-thumb', 'aria-label': t('cameras.detection_open'),
    on: { click: () => pictureDialog(alt, det.url, 'detection-dialog') } }, img);
  if (det.url) {
    pictures.load(det.url).then((src) => { img.src = src; img.hidden = false; }, () => { thumb.disabled = true; thumb.append(t('camera.no_picture')); });
  } else thumb.disabled = true;
  const who = [
    ...names.map((n) => badge(n, 'ok')),
    ...Array.from({ length: unknown }, () => badge(t('cameras.unknown'), 'bad')),
    det.kind === 'motion' ? badge(t('cameras.motion'), 'muted') : null,
  ];
  const enrol = onEnrol && canEnrolFrom(det)
    ? h('button', { type: 'button', class: 'btn', testid: `detection-enrol-${det.id}`, on: { click: () => onEnrol(det, alt) } }, t('cameras.this_is'))
    : null;
  return h('li', { class: 'detection', testid: `detection-${det.id}` }, thumb,
    h('div', { class: 'detection-who' }, who),
    h('p', { class: 'card-detail' }, where, ' · ', h('time', {}, formatRelative(det.time))), enrol);
}

/** Shrink a photo until its base64 fits the hub's 64 KB body limit (a phone photo is megabytes). */
async function photoBase64(file) {
  let bitmap;
  try { bitmap = await createImageBitmap(file); } catch { throw new Error(t('cameras.enrol.not_image')); }
  try {
    for (const max of [960, 720, 560, 420, 320]) {
      const size = fitWithin(bitmap.width, bitmap.height, max);
      const canvas = h('canvas', { width: size.width, height: size.height });
      canvas.getContext('2d').drawImage(bitmap, 0, 0, size.width, size.height);
      for (const quality of [0.85, 0.7, 0.5]) {
        const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
        if (blob && base64Length(blob.size) + 256 <= MAX_ENROL_BODY) return bytesToBase64(new Uint8Array(await blob.arrayBuffer()));
      }
    }
  } finally { bitmap.close(); }
  throw new Error(t('cameras.enrol.too_big'));
}

/** The enrolment form (administrators). setCameras(list) fills the camera choice; pick(det, label) takes a detection. */
function enrolForm({ onDone }) {
  const error = notice({ role: 'alert', testid: 'enrol-error' });
  const name = h('input', { name: 'enrol_name', autocomplete: 'off', testid: 'enrol-name', maxlength: '80' });
  // No name on the source (nor the file): the router's form restore after a language switch would
  // set values without the change event that shows the matching field (and a file input throws).
  const source = h('select', { testid: 'enrol-source' },
    ['camera', 'detection', 'file'].map((s) => h('option', { value: s }, t(`cameras.enrol.source_${s}`))));
  const camera = h('select', { name: 'enrol_camera', testid: 'enrol-camera' });
  const detection = h('p', { class: 'hint', testid: 'enrol-detection' }, t('cameras.enrol.pick_detection'));
  const file = h('input', { type: 'file', accept: 'image/jpeg,image/png', testid: 'enrol-file' });
  const fields = { camera: field(t('cameras.enrol.camera'), camera), detection: h('div', { class: 'field' }, detection), file: field(t('cameras.enrol.file'), file) };
  const submit = actionButton({ type: 'submit', class: 'btn-primary', testid: 'enrol-submit' }, t('cameras.enrol.submit'));
  const form = h('form', { class: 'form form-grid card-form', novalidate: true, testid: 'enrol-form' },
    field(t('cameras.enrol.name'), name), field(t('cameras.enrol.source'), source), fields.camera, fields.detection, fields.file, error.el, h('div', { class: 'actions' }, submit));
  let snapshotId = null;
  const showSource = () => { for (const [k, el] of Object.entries(fields)) el.hidden = source.value !== k; };
  source.addEventListener('change', showSource);
  showSource();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.clear();
    await busy(submit, async () => {
      try {
        const image = source.value === 'file' && file.files && file.files[0] ? await photoBase64(file.files[0]) : null;
        const ready = enrolBody({ name: name.value, source: source.value, camera: camera.value, snapshotId, image });
        if (ready.problem) { error.show(t(`cameras.enrol.problem_${ready.problem}`)); return; }
        await send('POST', '/api/rtsp_camera/faces', ready.body);
        const who = ready.body.name;
        name.value = '';
        file.value = '';
        onDone(who);
      } catch (err) { error.show(err); }
    });
  });
  return {
    el: form,
    setCameras(cameras) {
      const chosen = camera.value;
      fill(camera, cameras.map((c) => h('option', { value: c.id }, c.name)));
      if (cameras.some((c) => c.id === chosen)) camera.value = chosen;
    },
    pick(det, label) {
      snapshotId = det.snapshotId;
      detection.textContent = t('cameras.enrol.from_detection', { what: label });
      source.value = 'detection';
      showSource();
      error.clear();
      name.focus();
      form.scrollIntoView({ block: 'nearest' });
    },
  };
}

export async function mount(main, app) {
  const message = notice({ role: 'status', testid: 'cameras-message' });
  const grid = h('div', { class: 'grid camera-grid', testid: 'cameras' }, loading());
  const detectionsEl = h('div', { testid: 'detections' }, loading());
  const facesEl = h('div', { testid: 'faces' }, loading());
  const admin = app.isAdmin();
  const form = admin ? enrolForm({ onDone: (who) => { message.show(t('cameras.enrol.done', { name: who }), 'ok'); refreshFaces(); } }) : null;
  const rest = [section('cameras.detections', detectionsEl), section('cameras.faces', facesEl, form ? [h('h3', {}, t('cameras.enrol.title')), form.el] : h('p', { class: 'hint' }, t('cameras.faces_admin_only')))];
  main.append(pageTitle('cameras.title'), message.el, grid, ...rest);

  const cards = new Map(); // camera id -> card
  const watched = new Map(); // entity id -> store listener off()
  const pictures = pictureCache();
  let cameras = [];
  let shownDetections = '';
  let shownFaces = '';
  let changeTimer = null;

  function cameraName(id) {
    const cam = cameras.find((c) => c.id === id);
    return cam ? cam.name : (id || '—');
  }

  function drawCameras() {
    const ids = new Set(cameras.map((c) => c.id));
    for (const [id, card] of cards) if (!ids.has(id)) { card.dispose(); card.el.remove(); cards.delete(id); }
    if (!cameras.length) { fill(grid, emptyState('cameras.none')); return; }
    grid.querySelector(':scope > .empty, :scope > .loading')?.remove();
    for (const cam of cameras) {
      let card = cards.get(cam.id);
      if (card) card.update(cam); else { card = cameraCard(cam); cards.set(cam.id, card); }
      grid.append(card.el); // appending in order keeps the order by name (a move, not a copy)
    }
    // A camera entity changing (state, last motion...) is worth reading the list again at once.
    const entities = new Set(cameras.map((c) => c.entityId).filter(Boolean));
    for (const [id, off] of watched) if (!entities.has(id)) { off(); watched.delete(id); }
    for (const id of entities) {
      if (!watched.has(id)) watched.set(id, store.onEntity(id, () => { clearTimeout(changeTimer); changeTimer = setTimeout(refreshCameras, CHANGE_DEBOUNCE_MS); }));
    }
    if (form) form.setCameras(cameras);
  }

  function keepFocus(el, draw) {
    const focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
    draw();
    if (focused) el.querySelector(`[data-testid="${CSS.escape(focused)}"]`)?.focus();
  }

  async function refreshDetections() {
    let list;
    try { list = readDetections(await api.get(detectionsPath())); } catch { return; } // the cameras line reports errors
    const key = JSON.stringify(list);
    if (key === shownDetections) return;
    shownDetections = key;
    pictures.keep(new Set(list.map((d) => d.url).filter(Boolean)));
    const onEnrol = form ? (det, label) => form.pick(det, label) : null;
    keepFocus(detectionsEl, () => fill(detectionsEl, list.length
      ? h('ul', { class: 'detection-list' }, list.map((d) => detectionItem(d, { cameraName, pictures, onEnrol })))
      : emptyState('cameras.no_detections')));
  }

  async function removeFace(face, btn) {
    const ok = await confirmDialog({ title: t('cameras.face_remove_title'), message: t('cameras.face_remove_confirm', { name: face.name }), confirmLabel: t('cameras.face_remove'), danger: true });
    if (!ok) return;
    await busy(btn, async () => {
      try { await send('DELETE', facePath(face.id)); message.show(t('cameras.face_removed', { name: face.name }), 'ok'); } catch (err) { message.show(err); }
    });
    refreshFaces();
  }

  async function refreshFaces() {
    let list;
    try { list = readFaces(await api.get('/api/rtsp_camera/faces')); } catch (err) { fill(facesEl, h('p', { class: 'notice notice-error' }, err.message)); shownFaces = ''; return; }
    const key = JSON.stringify(list);
    if (key === shownFaces) return;
    shownFaces = key;
    keepFocus(facesEl, () => fill(facesEl, list.length ? h('ul', { class: 'list' }, list.map((f) => {
      const del = admin ? actionButton({ class: 'btn-danger', testid: `face-delete-${f.id}`, on: { click: () => removeFace(f, del) } }, t('cameras.face_remove')) : null;
      return h('li', { class: 'item', testid: `face-${f.id}` },
        h('div', { class: 'item-main' }, h('h3', { class: 'item-title' }, icon('user'), ' ', f.name),
          h('p', { class: 'card-detail' }, [f.samples !== null ? t('cameras.samples', { count: f.samples }) : null, f.created !== null ? t('cameras.enrolled_on', { date: formatDateTime(f.created) }) : null].filter(Boolean).join(' · '))),
        del ? h('div', { class: 'actions' }, del) : null);
    })) : emptyState('cameras.no_faces')));
  }

  let configured = true;
  // Whether the message shows a failed read of the list: only then does the next good read clear
  // it. A camera entity changes every few seconds, so clearing always would wipe "Ana is enrolled."
  // before anyone could read it.
  let listError = false;
  async function refreshCameras() {
    try {
      cameras = readCameras(await api.get('/api/rtsp_camera/cameras'));
      if (listError) { listError = false; message.clear(); }
    } catch (err) {
      if (isNotConfigured(err)) {
        configured = false;
        for (const card of cards.values()) card.dispose();
        cards.clear();
        fill(grid, emptyState('cameras.not_configured'));
        for (const el of rest) el.remove();
        return;
      }
      listError = true;
      message.show(err);
      if (!cards.size) clear(grid);
      return;
    }
    drawCameras();
  }

  async function refresh() {
    await refreshCameras();
    if (configured) await Promise.all([refreshDetections(), refreshFaces()]);
  }

  await refresh();
  const timer = setInterval(() => {
    if (!configured || document.hidden || document.querySelector('dialog[open]')) return;
    refresh();
  }, POLL_MS);
  return () => {
    clearInterval(timer);
    clearTimeout(changeTimer);
    for (const off of watched.values()) off();
    for (const card of cards.values()) card.dispose();
    pictures.dispose();
  };
}

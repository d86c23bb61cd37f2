// The cameras page's pure parts: the multipart/x-mixed-replace reader fed every kind of chunking,
// the live loop against a scripted fetch, and the readers of the camera API's literal answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATIC } from './helpers.js';
import { installDictionary, setLanguage } from '../static/i18n.js';
import { createMultipartReader, startLive, nextDelay, boundaryOf, responseError, authedFetch, MAX_PART_BYTES } from '../static/live.js';
import {
  readCamera, readCameras, statusKind, statusText, canStream, cpuCost, levelText, resolutionText, fpsText, createFpsMeter,
  readDetections, readDetection, detectionPeople, canEnrolFrom, snapshotIdOf, readFaces, enrolBody, bytesToBase64,
  base64Length, fitWithin, isNotConfigured, isCameraEntity, livePath, snapshotPath, detectionsPath, facePath,
} from '../static/cameras-model.js';

for (const lang of ['en', 'es-MX']) installDictionary(lang, JSON.parse(readFileSync(join(STATIC, 'i18n', `${lang}.json`), 'utf8')));

const enc = new TextEncoder();
const bytes = (...pieces) => {
  const parts = pieces.map((p) => (typeof p === 'string' ? enc.encode(p) : p));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
/** A fake JPEG: SOI, some bytes that look like boundaries and line ends, EOI. */
const jpeg = (seed, size = 40) => Uint8Array.from({ length: size }, (_, i) => (i === 0 ? 0xff : i === 1 ? 0xd8 : (seed * 31 + i * 7) % 256));
const part = (body, { length = true, eol = '\r\n' } = {}) => bytes(
  `--frame${eol}Content-Type: image/jpeg${eol}`, length ? `Content-Length: ${body.length}${eol}` : '', eol, body, eol);

function collect(stream, cuts, opts = {}) {
  const parts = [];
  const errors = [];
  const reader = createMultipartReader((p) => parts.push(p), { onError: (e) => errors.push(e), ...opts });
  let from = 0;
  for (const cut of [...cuts, stream.length]) { reader.push(stream.subarray(from, cut)); from = cut; }
  return { parts, errors, reader };
}

test('a 2-part stream split at every possible point (and at every pair) gives the same 2 parts', () => {
  const a = jpeg(1);
  const b = bytes(jpeg(2, 20), '\r\n--fram', jpeg(3, 20)); // a near-boundary inside the data
  const stream = bytes(part(a), part(b));
  for (let i = 0; i <= stream.length; i += 1) {
    const { parts, errors } = collect(stream, [i]);
    assert.equal(parts.length, 2, `split at ${i}`);
    assert.deepEqual(parts[0].body, a, `split at ${i}`);
    assert.deepEqual(parts[1].body, b, `split at ${i}`);
    assert.equal(parts[0].headers['content-type'], 'image/jpeg');
    assert.equal(parts[1].headers['content-length'], String(b.length));
    assert.deepEqual(errors, []);
  }
  for (let i = 0; i <= stream.length; i += 7) {
    for (let j = i; j <= stream.length; j += 3) {
      const { parts } = collect(stream, [i, j]);
      assert.deepEqual(parts.map((p) => p.body), [a, b], `split at ${i} and ${j}`);
    }
  }
  const oneByOne = collect(stream, Array.from({ length: stream.length }, (_, i) => i));
  assert.deepEqual(oneByOne.parts.map((p) => p.body), [a, b]);
});

test('several parts in one chunk, a garbage preamble, LF-only lines and padding after the boundary', () => {
  const bodies = [jpeg(4), jpeg(5, 3), jpeg(6, 100)];
  const stream = bytes('HTTP garbage\r\n--framework is not ours\r\n',
    part(bodies[0]), part(bodies[1], { eol: '\n' }), bytes('--frame  \t\r\nContent-Length: 100\r\n\r\n', bodies[2], '\r\n--frame--\r\n'));
  const { parts, reader } = collect(stream, []);
  assert.deepEqual(parts.map((p) => p.body), bodies);
  assert.equal(reader.done, true, 'the close delimiter ends the stream');
  reader.push(part(jpeg(7)));
  assert.equal(parts.length, 3, 'nothing after the close delimiter');
});

test('without Content-Length a part runs to the next boundary, at any split', () => {
  const a = jpeg(8, 30);
  const b = jpeg(9, 30);
  const stream = bytes(part(a, { length: false }), part(b, { length: false }), '--frame\r\n');
  for (let i = 0; i <= stream.length; i += 1) {
    const { parts, errors } = collect(stream, [i]);
    assert.deepEqual(parts.map((p) => p.body), [a, b], `split at ${i}`);
    assert.deepEqual(errors, []);
  }
  // With bare LF line ends the LF before the boundary is not part of the picture either.
  const lf = collect(bytes(part(a, { length: false, eol: '\n' }), '--frame\n'), []);
  assert.deepEqual(lf.parts.map((p) => p.body), [a]);
});

test('an oversized part is dropped with an error and the next one still comes through', () => {
  const big = new Uint8Array(MAX_PART_BYTES + 10).fill(0x41);
  const small = jpeg(10);
  const stream = bytes(part(big), part(small));
  const { parts, errors } = collect(stream, [50, 1000, 3 * 1024 * 1024]);
  assert.deepEqual(parts.map((p) => p.body), [small]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'too_large');

  const limited = collect(bytes(part(new Uint8Array(500).fill(1), { length: false }), part(small)), [100, 300], { maxPartBytes: 200 });
  assert.deepEqual(limited.parts.map((p) => p.body), [small]);
  assert.equal(limited.errors[0].code, 'too_large');
});

test('boundary, backoff and the server error text', async () => {
  assert.equal(boundaryOf('multipart/x-mixed-replace; boundary=frame'), 'frame');
  assert.equal(boundaryOf('multipart/x-mixed-replace;boundary="my frame"'), 'my frame');
  assert.equal(boundaryOf(null), 'frame');
  const delays = [];
  for (let d = 0, i = 0; i < 7; i += 1) { d = nextDelay(d); delays.push(d); }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  assert.equal((await responseError(json(400, { error: 'no face found' }))).message, 'no face found');
  assert.equal((await responseError(json(503, { error: { code: 'unavailable', message: 'stalled: no frames for 5 s' } }))).message, 'stalled: no frames for 5 s');
  const plain = await responseError(new Response('oops', { status: 502, statusText: 'Bad Gateway' }));
  assert.equal(plain.message, 'Bad Gateway');
  assert.equal(plain.status, 502);
});

/** A streaming answer whose body yields the given chunks, then ends. */
const streamed = (chunks) => new Response(new ReadableStream({
  start(c) { for (const ch of chunks) c.enqueue(ch); c.close(); },
}), { status: 200, headers: { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' } });

test('startLive: token in the header only, frames as blobs, refresh on 401, backoff, stops on abort', async () => {
  const calls = [];
  const tokens = [];
  const stream = bytes(part(jpeg(11)), part(jpeg(12)));
  const unavailable = () => new Response(JSON.stringify({ error: 'camera unavailable' }), { status: 503 });
  const script = [
    unavailable,
    () => new Response('{}', { status: 401 }),
    () => streamed([stream.subarray(0, 33), stream.subarray(33)]),
    unavailable,
    unavailable,
  ];
  const controller = new AbortController();
  const frames = [];
  const errors = [];
  const waits = [];
  await startLive('/api/rtsp_camera/front/live', {
    signal: controller.signal,
    fetchImpl: async (path, init) => { calls.push({ path, init }); return script.shift()(); },
    getToken: async (opts) => { tokens.push(opts ? opts.force : false); return opts && opts.force ? 'fresh' : 'old'; },
    wait: async (ms) => { waits.push(ms); if (!script.length) controller.abort(); },
    onFrame: (blob) => frames.push(blob),
    onError: (err) => errors.push(err.message),
  });
  assert.deepEqual(calls.map((c) => c.path), Array(5).fill('/api/rtsp_camera/front/live'), 'no token in the URL');
  assert.equal(calls[1].init.headers.Authorization, 'Bearer old');
  assert.equal(calls[2].init.headers.Authorization, 'Bearer fresh');
  assert.deepEqual(tokens.slice(0, 3), [false, false, true], 'a 401 forces one refresh');
  assert.equal(frames.length, 2);
  assert.equal(frames[0].type, 'image/jpeg');
  assert.deepEqual(new Uint8Array(await frames[1].arrayBuffer()), jpeg(12));
  assert.deepEqual(errors, ['camera unavailable', 'the stream ended', 'camera unavailable', 'camera unavailable']);
  assert.deepEqual(waits, [1000, 1000, 2000, 4000], 'back to 1 s once frames flowed, doubling while it fails');
});

test('startLive: aborting while a stream is open cancels the read and resolves', async () => {
  const controller = new AbortController();
  let cancelled = false;
  const body = new ReadableStream({
    start(c) { c.enqueue(part(jpeg(13))); }, // then silence: a live stream never ends by itself
    cancel() { cancelled = true; },
  });
  const frames = [];
  const done = startLive('/live', {
    signal: controller.signal,
    fetchImpl: async () => new Response(body, { headers: { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' } }),
    getToken: async () => 'tok',
    wait: async () => assert.fail('no reconnect after an abort'),
    onFrame: (blob) => { frames.push(blob); controller.abort(); },
    onError: (err) => assert.fail(`no error after an abort: ${err.message}`),
  });
  await done;
  assert.equal(frames.length, 1);
  assert.equal(cancelled, true);
});

test('startLive stops for good when the session cannot be refreshed', async () => {
  let fetched = 0;
  const errors = [];
  await startLive('/x', {
    signal: new AbortController().signal,
    fetchImpl: async () => { fetched += 1; return new Response('{}', { status: 401 }); },
    getToken: async (opts) => (opts && opts.force ? null : 'old'),
    wait: async () => assert.fail('no reconnect after a lost session'),
    onError: (err) => errors.push(err),
  });
  assert.equal(fetched, 1);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].fatal, true);
  await assert.rejects(authedFetch('/x', {}, { fetchImpl: async () => assert.fail('no call'), getToken: async () => null }), (e) => e.status === 401);
});

/** A camera exactly as the API describes it. */
const camera = (extra = {}) => ({
  id: 'front', name: 'Front door', entity_id: 'camera.front_door', area: 'Entrance', state: 'streaming', reason: null,
  since: 1768478400, fps: 9.8, width: 1280, height: 720, codec: 'h264', cpu_percent: 12.4, budget_percent: 25,
  level: 0, level_label: 'full', detect_ms: 38.2, last_motion: '2026-01-15T11:58:00Z', last_face: null, onvif: null, ...extra,
});

test('readCameras: by name, every field read, tolerant of missing ones', () => {
  const list = readCameras({ cameras: [camera({ id: 'yard', name: 'yard' }), camera(), null, { name: 'no id' }] });
  assert.deepEqual(list.map((c) => c.id), ['front', 'yard']);
  const c = list[0];
  assert.equal(c.entityId, 'camera.front_door');
  assert.equal(c.cpuPercent, 12.4);
  assert.equal(c.lastMotion, Date.parse('2026-01-15T11:58:00Z') / 1000);
  assert.equal(c.lastFace, null);
  assert.equal(c.onvif, null);
  const bare = readCamera({ id: 3 });
  assert.equal(bare.name, '3');
  assert.equal(bare.state, 'unknown');
  assert.equal(bare.fps, null);
  assert.deepEqual(readCamera({ id: 'x', onvif: { state: 'subscribed' } }).onvif, { state: 'subscribed', reason: null });
  assert.deepEqual(readCameras(null), []);
  assert.equal(isCameraEntity(list, 'camera.front_door'), true);
  assert.equal(isCameraEntity(list, 'camera.other'), false);
});

test('status: streaming ok, connecting and stalled warn with the reason, unavailable bad with it', async () => {
  await setLanguage('en', { remember: false });
  assert.equal(statusKind('streaming'), 'ok');
  assert.equal(statusKind('connecting'), 'warn');
  assert.equal(statusKind('stalled'), 'warn');
  assert.equal(statusKind('unavailable'), 'bad');
  assert.equal(statusKind('weird'), 'muted');
  assert.equal(statusText(readCamera(camera())), 'Streaming');
  assert.equal(statusText(readCamera(camera({ state: 'stalled', reason: 'no frames for 5 s' }))), 'Stalled: no frames for 5 s');
  const off = readCamera(camera({ state: 'unavailable', reason: 'auth failed: the camera refused user admin' }));
  assert.equal(statusText(off), 'Unavailable: auth failed: the camera refused user admin');
  assert.equal(canStream(off), false);
  assert.equal(canStream(readCamera(camera({ state: 'connecting' }))), true);
  await setLanguage('es-MX', { remember: false });
  assert.equal(statusText(off), 'No disponible: auth failed: the camera refused user admin');
  await setLanguage('en', { remember: false });
});

test('CPU cost against the budget, the over-budget flag and the governor level', async () => {
  await setLanguage('en', { remember: false });
  const fine = cpuCost(readCamera(camera()));
  assert.deepEqual(fine, { text: '12 % of a core (budget 25 %)', over: false, level: 'Full detection', shedding: false });
  const over = cpuCost(readCamera(camera({ cpu_percent: 31.6, level: 2 })));
  assert.equal(over.text, '32 % of a core (budget 25 %)');
  assert.equal(over.over, true);
  assert.equal(over.shedding, true);
  assert.equal(over.level, 'Face detection at a quarter, motion at half rate');
  assert.equal(cpuCost(readCamera(camera({ cpu_percent: 4.25, budget_percent: null }))).text, '4.3 % of a core');
  assert.equal(cpuCost(readCamera(camera({ cpu_percent: null }))), null);
  assert.equal(levelText(readCamera(camera({ level: 7, level_label: 'something new' }))), 'something new');
  await setLanguage('es-MX', { remember: false });
  assert.equal(cpuCost(readCamera(camera())).text, '12 % de un núcleo (presupuesto 25 %)');
  assert.equal(levelText(readCamera(camera({ level: 3 }))), 'Solo cuadros clave (vista en vivo de 1 fps aprox.)');
  await setLanguage('en', { remember: false });
  assert.equal(resolutionText(readCamera(camera())), '1280×720 · H264');
  assert.equal(resolutionText(readCamera({ id: 'x' })), null);
  assert.equal(fpsText(9.84), '9.8 fps');
  assert.equal(fpsText(12.4), '12 fps');
  assert.equal(fpsText(null), null);
});

test('the fps meter counts frames over its window and forgets old ones', () => {
  const meter = createFpsMeter(3000);
  assert.equal(meter.rate(0), null);
  for (let i = 0; i <= 20; i += 1) meter.tick(i * 100); // 10 fps for 2 s
  assert.equal(Math.round(meter.rate(2000)), 10);
  assert.equal(meter.rate(10000), null, 'nothing in the last 3 s');
  meter.tick(20000);
  meter.tick(20500);
  assert.equal(meter.rate(20500), 2);
  meter.reset();
  assert.equal(meter.rate(20500), null);
});

test('detections: newest first, known names, unknown faces, snapshot ids, when "This is…" is offered', () => {
  const body = { detections: [
    { id: 'd1', camera: 'front', kind: 'face', time: 1768478000, faces: [{ known: true, name: 'Ana', distance: 0.31, box: [1, 2, 3, 4] }], url: '/api/rtsp_camera/snapshots/s-17.jpg' },
    { id: 'd2', camera: 'yard', kind: 'face', time: '2026-01-15T12:00:00Z', faces: [{ known: false, name: null, distance: null, box: [0, 0, 9, 9] }, { known: true, name: 'Ana' }, { name: 'Luis' }], url: '/api/rtsp_camera/snapshots/s-18.jpg' },
    { id: 'd3', kind: 'motion', time: 1768470000 },
    { no: 'id' },
  ] };
  const list = readDetections(body);
  assert.deepEqual(list.map((d) => d.id), ['d2', 'd1', 'd3']);
  const [d2, d1, d3] = list;
  assert.deepEqual(detectionPeople(d1), { names: ['Ana'], unknown: 0 });
  assert.deepEqual(detectionPeople(d2), { names: ['Ana'], unknown: 2 }, 'a name without known: true is not trusted');
  assert.deepEqual(detectionPeople(d3), { names: [], unknown: 0 });
  assert.equal(d1.snapshotId, 's-17');
  assert.deepEqual(d1.faces[0].box, [1, 2, 3, 4]);
  assert.equal(d2.faces[0].box[2], 9);
  assert.equal(d3.camera, null);
  assert.equal(d3.url, null);
  assert.equal(canEnrolFrom(d1), true);
  assert.equal(canEnrolFrom(d2), false, 'three faces: the hub would refuse');
  assert.equal(canEnrolFrom(d3), false);
  assert.equal(snapshotIdOf({ snapshot_id: 42 }, null), '42');
  assert.equal(snapshotIdOf({}, '/elsewhere.png'), null);
  assert.equal(readDetection({ id: 1, faces: 'x' }).faces.length, 0);
});

test('faces sorted by name (case and accents aside), then oldest first', () => {
  const list = readFaces({ faces: [
    { id: 'f3', name: 'luis', samples: 2, created: 300 }, { id: 'f1', name: 'Ángela', samples: 1, created: 100 },
    { id: 'f2', name: 'Luis', samples: 5, created: 200 }, { id: 'f4' },
  ] });
  assert.deepEqual(list.map((f) => f.id), ['f1', 'f4', 'f2', 'f3'], 'Ángela, f4 (named by its id), Luis, luis');
  assert.equal(list[1].name, 'f4');
  assert.equal(list[2].samples, 5);
});

test('the enrolment body from each source, and what is missing', () => {
  assert.deepEqual(enrolBody({ name: ' Ana ', source: 'camera', camera: 'front' }), { body: { name: 'Ana', camera: 'front' } });
  assert.deepEqual(enrolBody({ name: 'Ana', source: 'detection', snapshotId: 's-17' }), { body: { name: 'Ana', snapshot_id: 's-17' } });
  assert.deepEqual(enrolBody({ name: 'Ana', source: 'file', image: 'AAAA' }), { body: { name: 'Ana', image: 'AAAA' } });
  assert.deepEqual(enrolBody({ name: '  ', source: 'camera', camera: 'front' }), { problem: 'name' });
  assert.deepEqual(enrolBody({ name: 'Ana', source: 'camera', camera: '' }), { problem: 'camera' });
  assert.deepEqual(enrolBody({ name: 'Ana', source: 'detection', snapshotId: null }), { problem: 'detection' });
  assert.deepEqual(enrolBody({ name: 'Ana', source: 'file', image: null }), { problem: 'file' });
  assert.deepEqual(enrolBody({ name: 'Ana', source: 'fax' }), { problem: 'source' });
});

test('photo helpers: base64, its length, fitting under a size', () => {
  const data = Uint8Array.from({ length: 100000 }, (_, i) => (i * 13) % 256);
  const b64 = bytesToBase64(data);
  assert.deepEqual(new Uint8Array(Buffer.from(b64, 'base64')), data);
  assert.equal(b64.length, base64Length(data.length));
  assert.equal(bytesToBase64(enc.encode('Ma')), 'TWE=');
  assert.deepEqual(fitWithin(4000, 3000, 800), { width: 800, height: 600 });
  assert.deepEqual(fitWithin(300, 600, 800), { width: 300, height: 600 }, 'never enlarged');
});

test('paths are escaped; a 404 means not set up', () => {
  assert.equal(livePath('front door'), '/api/rtsp_camera/front%20door/live');
  assert.equal(snapshotPath('a/b'), '/api/rtsp_camera/a%2Fb/snapshot.jpg');
  assert.equal(detectionsPath(), '/api/rtsp_camera/detections?limit=24');
  assert.equal(facePath('f 1'), '/api/rtsp_camera/faces/f%201');
  assert.equal(isNotConfigured({ status: 404 }), true);
  assert.equal(isNotConfigured({ status: 503 }), false);
  assert.equal(isNotConfigured(null), false);
});

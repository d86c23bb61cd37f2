// History charts drawn as SVG in JS (no library): a min/max band with a mean line for numeric
// entities, a step timeline for the others. The SVG is role="img" with a text summary, because
// a screen reader cannot read a path.
import { s, h } from '../dom.js';
import { t, formatNumber, formatDateTime, getTimeZone, toDate } from '../i18n.js';

const W = 640;
const M = { left: 52, right: 14, top: 12, bottom: 30 };

const MIN = 60000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const TIME_STEPS = [15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY];

/** About `count` round values covering [min, max] (1, 2, 2.5 or 5 times a power of ten). */
export function niceTicks(min, max, count = 5) {
  if (!(Number.isFinite(min) && Number.isFinite(max))) return [];
  if (min === max) { min -= 1; max += 1; }
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((st) => st >= raw) || 10 * power;
  const ticks = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/** Offset of a time zone from UTC at an instant, in ms (positive east of Greenwich). */
export function zoneOffset(ms, timeZone) {
  if (!timeZone) return -new Date(ms).getTimezoneOffset() * MIN;
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** Round wall-clock instants (in the hub's zone) between start and end, at most ~6. */
export function timeTicks(start, end, timeZone = getTimeZone()) {
  const span = end - start;
  const step = TIME_STEPS.find((st) => span / st <= 6) || Math.ceil(span / 6 / DAY) * DAY;
  const offset = zoneOffset(start, timeZone);
  const ticks = [];
  for (let local = Math.ceil((start + offset) / step) * step; local - offset <= end; local += step) ticks.push(local - offset);
  return { ticks, step };
}

function timeLabel(ms, step) {
  return step >= DAY
    ? formatDateTime(ms, { weekday: 'short', day: 'numeric' })
    : formatDateTime(ms, { hour: '2-digit', minute: '2-digit' });
}

function edgeAnchor(xx) {
  if (xx > W - M.right - 30) return 'end';
  if (xx < M.left + 30) return 'start';
  return 'middle';
}

function timeAxis(x, start, end, y0) {
  const { ticks, step } = timeTicks(start, end);
  return s('g', { class: 'chart-axis', 'aria-hidden': 'true' }, ticks.map((tk) => [
    s('line', { class: 'chart-grid', x1: x(tk), x2: x(tk), y1: M.top, y2: y0 }),
    // A label centred on a tick near either edge would be cut off by the viewBox.
    s('text', { x: x(tk), y: y0 + 18, 'text-anchor': edgeAnchor(x(tk)) }, timeLabel(tk, step)),
  ]));
}

function ms(v) {
  const d = toDate(v);
  return d ? d.getTime() : NaN;
}

function emptyChart(height, label) {
  return s('svg', { class: 'chart', viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-label': label },
    s('text', { class: 'chart-empty', x: W / 2, y: height / 2, 'text-anchor': 'middle' }, t('chart.no_data')));
}

/** buckets: [{start, min, mean, max}] from GET /api/history?points=N. */
export function numericChart({ buckets, start, end, unit, name, rangeLabel, points = 200, current }) {
  const H = 260;
  if (!buckets.length) return emptyChart(H, t('chart.summary_empty', { name, range: rangeLabel }));
  const pts = buckets.map((b) => ({ t: ms(b.start), min: +b.min, mean: +b.mean, max: +b.max }))
    .filter((p) => Number.isFinite(p.t)).sort((a, b) => a.t - b.t);
  const bucketMs = (end - start) / points;
  const lo = Math.min(...pts.map((p) => p.min));
  const hi = Math.max(...pts.map((p) => p.max));
  const yTicks = niceTicks(lo, hi, 4);
  const y0v = yTicks[0];
  const y1v = yTicks[yTicks.length - 1];
  const x = (tm) => M.left + ((tm - start) / (end - start)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - ((v - y0v) / (y1v - y0v || 1)) * (H - M.top - M.bottom);
  const half = bucketMs / 2;

  // A gap of more than two buckets (hub off, sensor silent) breaks the band instead of bridging it.
  const segments = [];
  let seg = [];
  for (const p of pts) {
    if (seg.length && p.t - seg[seg.length - 1].t > bucketMs * 2.5) { segments.push(seg); seg = []; }
    seg.push(p);
  }
  if (seg.length) segments.push(seg);

  const band = [];
  const line = [];
  for (const part of segments) {
    const xs = part.map((p) => x(p.t + half));
    band.push(`M${xs.map((xx, i) => `${xx.toFixed(1)},${y(part[i].max).toFixed(1)}`).join('L')}`
      + `L${xs.map((xx, i) => `${xx.toFixed(1)},${y(part[i].min).toFixed(1)}`).reverse().join('L')}Z`);
    line.push(`M${xs.map((xx, i) => `${xx.toFixed(1)},${y(part[i].mean).toFixed(1)}`).join('L')}`);
  }
  const fmt = (v) => formatNumber(v, { maximumFractionDigits: Math.abs(y1v - y0v) < 10 ? 1 : 0 });
  const withUnit = (v) => (unit ? `${fmt(v)} ${unit}` : fmt(v));
  // The spoken summary names the value shown on the page, not the last bucket's average.
  const last = Number.isFinite(current) ? current : pts[pts.length - 1].mean;
  const label = t('chart.summary_numeric', { name, range: rangeLabel, min: withUnit(lo), max: withUnit(hi), last: withUnit(last) });
  const lonely = segments.filter((p) => p.length === 1).map((p) => s('circle', { class: 'chart-mean-dot', cx: x(p[0].t + half), cy: y(p[0].mean), r: 3 }));
  return s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, testid: 'history-chart' },
    s('g', { class: 'chart-axis', 'aria-hidden': 'true' }, yTicks.map((v) => [
      s('line', { class: 'chart-grid', x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }),
      s('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v)),
    ]), unit ? s('text', { x: 4, y: M.top + 4, 'text-anchor': 'start', class: 'chart-unit' }, unit) : null),
    timeAxis(x, start, end, H - M.bottom),
    s('path', { class: 'chart-band', d: band.join('') }),
    s('path', { class: 'chart-mean', d: line.join('') }),
    lonely);
}

/** Consecutive equal states merged into [{state, from, to}] clipped to [start, end]. */
export function timelineSegments(states, start, end) {
  const out = [];
  for (let i = 0; i < states.length; i += 1) {
    const st = states[i];
    const from = Math.max(start, ms(st.last_changed ?? st.last_updated));
    const next = states[i + 1];
    const to = Math.min(end, next ? ms(next.last_changed ?? next.last_updated) : end);
    if (!(to > from)) continue;
    const value = st.state === null || st.state === undefined ? null : String(st.state);
    const prev = out[out.length - 1];
    if (prev && prev.state === value && prev.to >= from) prev.to = to;
    else out.push({ state: value, from, to });
  }
  return out.filter((sg) => sg.state !== null);
}

/** states: raw history [{state, last_changed}]; labelFor(state) gives the shown wording. */
export function timelineChart({ states, start, end, name, rangeLabel, labelFor = (v) => v }) {
  const H = 110;
  const segments = timelineSegments(states, start, end);
  if (!segments.length) return { svg: emptyChart(H, t('chart.summary_empty', { name, range: rangeLabel })), legend: null };
  const x = (tm) => M.left + ((tm - start) / (end - start)) * (W - M.left - M.right);
  const values = [...new Set(segments.map((sg) => sg.state))];
  const colour = (v) => (v === 'unavailable' || v === 'unknown' ? 'tl-na' : `tl-${values.indexOf(v) % 8}`);
  const last = segments[segments.length - 1];
  const label = t('chart.summary_timeline', { name, range: rangeLabel, count: segments.length, current: labelFor(last.state) });
  const svg = s('svg', { class: 'chart chart-timeline', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, testid: 'history-chart' },
    timeAxis(x, start, end, H - M.bottom),
    segments.map((sg) => s('rect', { class: `tl ${colour(sg.state)}`, x: x(sg.from), y: 22, width: Math.max(1, x(sg.to) - x(sg.from)), height: 44 },
      s('title', {}, `${labelFor(sg.state)}: ${formatDateTime(sg.from)} – ${formatDateTime(sg.to)}`))));
  const legend = h('ul', { class: 'chart-legend' }, values.map((v) => h('li', {},
    s('svg', { class: 'swatch', viewBox: '0 0 10 10', 'aria-hidden': 'true' }, s('rect', { class: `tl ${colour(v)}`, width: 10, height: 10 })),
    labelFor(v))));
  return { svg, legend };
}

// Vertical tank gauge in SVG. The liquid is a rect clipped by the tank outline, so updating a
// level only moves two attributes (no re-render); the usable band of an LP tank (5–85 % by
// default: tanks are never filled above 85 %, and below 5 % the regulator starves) is drawn as a
// bracket beside the tank.
import { s, uid } from '../dom.js';
import { formatPercent } from '../i18n.js';

const TOP = 8;
const BOTTOM = 132;
const HEIGHT = BOTTOM - TOP;
const LEFT = 8;
const WIDTH = 56;

function yOf(pct) {
  return BOTTOM - (Math.max(0, Math.min(100, pct)) / 100) * HEIGHT;
}

export function createTankGauge() {
  const clipId = uid('tank-clip');
  const fill = s('rect', { class: 'gauge-fill', x: LEFT, width: WIDTH, y: BOTTOM, height: 0, 'clip-path': `url(#${clipId})` });
  const band = s('g', { class: 'gauge-band' });
  const svg = s('svg', { class: 'gauge', viewBox: '0 0 110 140', role: 'img' },
    s('defs', {}, s('clipPath', { id: clipId }, s('rect', { x: LEFT, y: TOP, width: WIDTH, height: HEIGHT, rx: 14 }))),
    s('rect', { class: 'gauge-body', x: LEFT, y: TOP, width: WIDTH, height: HEIGHT, rx: 14 }),
    fill,
    s('rect', { class: 'gauge-outline', x: LEFT, y: TOP, width: WIDTH, height: HEIGHT, rx: 14 }),
    band);

  function drawBand(info) {
    while (band.firstChild) band.firstChild.remove();
    if (!info.showBand) return;
    const yMax = yOf(info.usableMax);
    const yMin = yOf(info.usableMin);
    band.append(
      s('line', { class: 'gauge-band-mark', x1: LEFT, x2: LEFT + WIDTH, y1: yMax, y2: yMax }),
      s('line', { class: 'gauge-band-mark', x1: LEFT, x2: LEFT + WIDTH, y1: yMin, y2: yMin }),
      s('path', { class: 'gauge-band-bracket', d: `M${LEFT + WIDTH + 6} ${yMax}h4V${yMin}h-4` }),
      s('text', { class: 'gauge-band-label', x: LEFT + WIDTH + 14, y: yMax + 4 }, formatPercent(info.usableMax)),
      s('text', { class: 'gauge-band-label', x: LEFT + WIDTH + 14, y: yMin + 4 }, formatPercent(info.usableMin)));
  }

  return {
    el: svg,
    /** info from model.tankInfo; label is the accessible summary. */
    update(info, label) {
      const level = info.level ?? 0;
      const y = yOf(level);
      fill.setAttribute('y', y);
      fill.setAttribute('height', BOTTOM - y);
      fill.setAttribute('class', `gauge-fill commodity-${info.commodity} sev-${info.severity}`);
      svg.setAttribute('aria-label', label);
      drawBand(info);
    },
  };
}

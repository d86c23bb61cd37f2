// Line icons drawn for this dashboard (24x24 grid, stroked). Decorative: always aria-hidden,
// the text beside them carries the meaning.
import { s } from '../dom.js';

const PATHS = {
  menu: 'M4 6h16M4 12h16M4 18h16',
  close: 'M6 6l12 12M18 6L6 18',
  drop: 'M12 3c3 4.5 6 7.8 6 11a6 6 0 0 1-12 0c0-3.2 3-6.5 6-11z',
  flame: 'M12 3c1 3 5 5 5 10a5 5 0 0 1-10 0c0-2.5 1.5-4 2.5-5 .2 1.8 1 2.8 2 3 .5-3-.5-5.5.5-8z',
  thermometer: 'M10 14V5a2 2 0 0 1 4 0v9a4 4 0 1 1-4 0zM12 9v7',
  door: 'M6 21V4h10v17M4 21h16M13 12h.01',
  shield: 'M12 3l8 3v6c0 4.5-3.4 8.2-8 9-4.6-.8-8-4.5-8-9V6z',
  camera: 'M3 8h4l2-3h6l2 3h4v11H3zM12 17a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z',
  gauge: 'M4 18a8 8 0 1 1 16 0M12 18l4-6',
  alert: 'M12 4l9 16H3zM12 10v4M12 17h.01',
  check: 'M5 12l4 4 10-10',
  user: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21c1-4 4-6 8-6s7 2 8 6',
  cart: 'M3 4h2l2 11h11l2-8H6M9 20h.01M17 20h.01',
  backspace: 'M21 5H9l-6 7 6 7h12zM12 9l6 6M18 9l-6 6',
};

export function icon(name, cls = 'icon') {
  return s('svg', { class: cls, viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' },
    s('path', { d: PATHS[name] || PATHS.gauge }));
}

export function iconForKind(kind, state) {
  if (kind === 'tank') return state?.attributes?.tank?.commodity === 'lp_gas' ? 'flame' : 'drop';
  return { climate: 'thermometer', binary: 'door', alarm: 'shield', camera: 'camera' }[kind] || 'gauge';
}

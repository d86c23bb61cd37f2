// The connection banner. It is a live region that stays in the DOM (a region added together
// with its text is often not announced), and its text changes with the websocket status.
import { t } from '../i18n.js';

const RECOVERED_VISIBLE_MS = 4000;

export function createConnectionBanner(el) {
  let hideTimer = null;
  let shownLost = false;
  let lastKey = null;

  function show(key, cls) {
    clearTimeout(hideTimer);
    lastKey = key;
    el.textContent = t(key);
    el.className = `banner ${cls}`;
    el.hidden = false;
  }

  function hide() {
    lastKey = null;
    el.hidden = true;
    el.textContent = '';
  }

  return {
    /** Feed websocket statuses; the first connect attempt stays silent. */
    update(status) {
      if (status === 'disconnected') {
        shownLost = true;
        show('connection.lost', 'banner-warn');
      } else if (status === 'connected' && shownLost) {
        shownLost = false;
        show('connection.back', 'banner-ok');
        hideTimer = setTimeout(hide, RECOVERED_VISIBLE_MS);
      } else if (status === 'idle') {
        shownLost = false;
        hide();
      }
    },
    retranslate() {
      if (lastKey) el.textContent = t(lastKey);
    },
  };
}

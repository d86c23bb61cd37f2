// The connection banner. It is a live region that stays in the DOM (a region added together
// with its text is often not announced), and its text changes with the websocket status.
import { t, formatTime, formatDateTime } from '../i18n.js';
import { linkTrouble } from '../alarms-model.js';

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

const SAME_DAY_S = 12 * 3600; // older than this, "since" names the day too

/** The command-centre link trouble: shown while binary_sensor.command_center_link is off. */
export function createLinkBanner(el) {
  let last = null;

  function render() {
    const trouble = linkTrouble(last);
    el.hidden = !trouble;
    if (!trouble) { el.textContent = ''; return; }
    const recent = trouble.since !== null && Date.now() / 1000 - trouble.since < SAME_DAY_S;
    const head = trouble.since === null ? t('link.down')
      : t('link.down_since', { time: recent ? formatTime(trouble.since) : formatDateTime(trouble.since) });
    el.textContent = trouble.detail ? `${head} (${trouble.detail})` : head;
  }

  return {
    el,
    /** Feed the sensor's state (null when it is gone, e.g. after logging out). */
    update(state) {
      last = state;
      render();
    },
    retranslate: render,
  };
}

// Websocket client for /api/websocket: auth handshake, subscriptions that survive reconnects,
// request/response by id, keepalive, and a connection status others can observe.

const MAX_BACKOFF_MS = 30000;
const PING_EVERY_MS = 25000;
const PONG_TIMEOUT_MS = 10000;

/** Delay before reconnect attempt n (0-based): 1 s doubling to 30 s, with jitter so many tabs
 *  (or many households after a power cut) do not reconnect in lockstep. */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempt);
  return Math.round(base * (0.75 + 0.25 * random()));
}

export class HubSocket {
  /** getToken({force}) -> access token or null; urlFor() -> ws URL. */
  constructor({ getToken, url }) {
    this.getToken = getToken;
    this.url = url || defaultUrl();
    this.status = 'idle'; // idle | connecting | connected | disconnected
    this.statusListeners = new Set();
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject}
    this.subs = new Map(); // local key -> {message, onResult, onMessage, serverId}
    this.byServerId = new Map();
    this.attempt = 0;
    this.authRetried = false; // set after one auth_invalid: the next handshake uses a refreshed token
    this.running = false;
    this.ws = null;
    this.timer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.wake = () => { if (this.running && this.status !== 'connected') this.reconnectNow(); };
  }

  onStatus(fn) {
    this.statusListeners.add(fn);
    fn(this.status);
    return () => this.statusListeners.delete(fn);
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    for (const fn of this.statusListeners) fn(status);
  }

  start() {
    if (this.running) return;
    this.running = true;
    globalThis.addEventListener?.('online', this.wake);
    this.connect();
  }

  /** Close for good (logout). keepSubscriptions: a later start() resubscribes them. */
  stop({ keepSubscriptions = false } = {}) {
    this.running = false;
    globalThis.removeEventListener?.('online', this.wake);
    clearTimeout(this.timer);
    this.stopPing();
    if (this.ws) { this.ws.onclose = null; this.ws.close(); this.ws = null; }
    this.failPending('stopped');
    for (const sub of this.subs.values()) sub.serverId = null;
    if (!keepSubscriptions) this.subs.clear();
    this.byServerId.clear();
    this.setStatus('idle');
  }

  reconnectNow() {
    clearTimeout(this.timer);
    this.attempt = 0;
    if (this.ws) this.ws.close(); else this.connect();
  }

  async connect() {
    if (!this.running) return;
    this.setStatus(this.status === 'idle' ? 'connecting' : this.status);
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = async (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === 'auth_required') {
        const token = await this.getToken({ force: this.authRetried });
        if (!token) { this.fatal('auth'); return; }
        ws.send(JSON.stringify({ type: 'auth', access_token: token }));
      } else if (msg.type === 'auth_ok') {
        this.attempt = 0;
        this.authRetried = false;
        this.user = msg.user;
        this.setStatus('connected');
        this.startPing();
        this.resubscribe();
      } else if (msg.type === 'auth_invalid') {
        // The token may have expired between fetch and send: one retry with a fresh token.
        if (this.authRetried) { this.authRetried = false; this.fatal('auth'); return; }
        this.authRetried = true;
        ws.onclose = null;
        ws.close();
        this.ws = null;
        this.connect(); // its auth_required handler asks for a forced refresh
      } else {
        this.dispatch(msg);
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopPing();
      this.failPending('disconnected');
      for (const sub of this.subs.values()) sub.serverId = null;
      this.byServerId.clear();
      if (this.running) {
        this.setStatus('disconnected');
        this.scheduleReconnect();
      }
    };
  }

  fatal(reason) {
    // The token was refused twice: stop retrying; the app refreshes the session and calls start().
    this.stop({ keepSubscriptions: true });
    for (const fn of this.statusListeners) fn('auth_failed', reason);
  }

  scheduleReconnect() {
    clearTimeout(this.timer);
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      // A half-open TCP connection (Wi-Fi roam, hub power loss) never fires close by itself.
      this.command({ type: 'ping' }).catch(() => {});
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => { if (this.ws) this.ws.close(); }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  failPending(reason) {
    for (const { reject } of this.pending.values()) reject(new Error(reason));
    this.pending.clear();
  }

  dispatch(msg) {
    if (msg.type === 'pong') clearTimeout(this.pongTimer);
    const waiter = this.pending.get(msg.id);
    if (waiter && (msg.type === 'result' || msg.type === 'pong')) {
      this.pending.delete(msg.id);
      if (msg.type === 'pong' || msg.success) waiter.resolve(msg.result);
      else waiter.reject(Object.assign(new Error(msg.error?.message || 'error'), { code: msg.error?.code }));
      return;
    }
    const sub = this.byServerId.get(msg.id);
    if (sub) sub.onMessage(msg);
  }

  /** Send one command; resolves with its result. Rejects when not connected. */
  command(message) {
    if (!this.ws || this.status !== 'connected') return Promise.reject(new Error('disconnected'));
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ ...message, id }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, id }));
  }

  subscribe(key, message, onResult, onMessage) {
    const sub = { message, onResult, onMessage, serverId: null };
    this.subs.set(key, sub);
    if (this.status === 'connected') this.sendSubscription(sub);
    return () => this.unsubscribe(key);
  }

  sendSubscription(sub) {
    const id = this.nextId; // command() uses this id: register before the first message can arrive
    sub.serverId = id;
    this.byServerId.set(id, sub);
    this.command(sub.message).then(
      (result) => sub.onResult && sub.onResult(result, null),
      (err) => { this.byServerId.delete(id); sub.onResult && sub.onResult(null, err); },
    );
  }

  resubscribe() {
    for (const sub of this.subs.values()) this.sendSubscription(sub);
  }

  unsubscribe(key) {
    const sub = this.subs.get(key);
    if (!sub) return;
    this.subs.delete(key);
    if (sub.serverId !== null) {
      this.byServerId.delete(sub.serverId);
      this.command({ type: 'unsubscribe', subscription: sub.serverId }).catch(() => {});
    }
  }

  /** All states (or some), snapshot on every (re)connect, then one callback per change. */
  subscribeStates(onSnapshot, onState, entityIds) {
    const message = { type: 'subscribe_states' };
    if (entityIds) message.entity_ids = entityIds;
    return this.subscribe(`states:${entityIds ? entityIds.join(',') : '*'}`, message,
      (result) => { if (result) onSnapshot(result.states || []); },
      (msg) => { if (msg.type === 'state') onState(msg.entity_id, msg.state); });
  }

  subscribeEvents(eventType, onEvent, onError) {
    return this.subscribe(`events:${eventType}`, { type: 'subscribe_events', event_type: eventType },
      (result, err) => { if (err && onError) onError(err); },
      (msg) => { if (msg.type === 'event') onEvent(msg.event); });
  }
}

function defaultUrl() {
  const loc = globalThis.location;
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/websocket`;
}

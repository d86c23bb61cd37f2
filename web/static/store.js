// Current states, shared by every page. Filled by the websocket snapshot (or by GET /api/states
// until the first snapshot arrives) and kept live by state messages.

const states = new Map();
const entityListeners = new Map(); // entity_id -> Set(fn)
const setListeners = new Set(); // called when entities appear or disappear
let source = null; // null | 'rest' | 'ws'

export function getState(entityId) {
  return states.get(entityId) || null;
}

export function allStates() {
  return [...states.values()];
}

export function hasSnapshot() {
  return source !== null;
}

function notify(entityId, state) {
  const set = entityListeners.get(entityId);
  if (set) for (const fn of set) fn(state);
}

function notifySet() {
  for (const fn of setListeners) fn();
}

/** Replace everything with a snapshot: entities removed while we were away disappear. */
export function replaceAll(list, from = 'ws') {
  if (from === 'rest' && source === 'ws') return; // a late REST answer must not undo live data
  source = from;
  const before = new Set(states.keys());
  const seen = new Set();
  let membershipChanged = false;
  for (const st of list) {
    seen.add(st.entity_id);
    if (!before.has(st.entity_id)) membershipChanged = true;
    const old = states.get(st.entity_id);
    states.set(st.entity_id, st);
    if (!old || old.last_updated !== st.last_updated || old.state !== st.state) notify(st.entity_id, st);
  }
  for (const id of before) {
    if (!seen.has(id)) {
      states.delete(id);
      membershipChanged = true;
      notify(id, null);
    }
  }
  if (membershipChanged || before.size === 0) notifySet();
}

export function update(entityId, state) {
  const existed = states.has(entityId);
  if (state) states.set(entityId, state); else states.delete(entityId);
  notify(entityId, state);
  if (existed !== Boolean(state)) notifySet();
}

export function onEntity(entityId, fn) {
  if (!entityListeners.has(entityId)) entityListeners.set(entityId, new Set());
  entityListeners.get(entityId).add(fn);
  return () => {
    const set = entityListeners.get(entityId);
    if (set) { set.delete(fn); if (!set.size) entityListeners.delete(entityId); }
  };
}

export function onMembership(fn) {
  setListeners.add(fn);
  return () => setListeners.delete(fn);
}

export function reset() {
  states.clear();
  source = null;
  notifySet();
}

// Pure logic of the automation pages (no DOM): readers of /api/automations answers, trace
// timelines flattened into rows, and short texts for durations and results.
// Tested by web/tests/automations.test.js.
import { formatDuration, formatNumber, getLanguage } from './i18n.js';
import { asList } from './model.js';

/** Detail view polling period while it is open. */
export const DETAIL_POLL_MS = 5000;
/** List polling period; state changes of automation.* entities refresh it sooner. */
export const LIST_POLL_MS = 10000;

const RESULT_LIMIT = 400; // characters of a step result shown before "…": traces can hold 4 KiB per value

const STATE_KIND = {
  running: 'info', finished: 'ok', stopped: 'muted', condition_failed: 'muted',
  error: 'bad', cancelled: 'warn', restarted: 'warn',
};

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function text(v) {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** The entity of an automation: the server's, else automation.<id>. */
export function entityIdOf(automation) {
  return text(automation.entity_id) || `automation.${automation.id}`;
}

/** GET /api/automations (and POST /api/automations/reload) -> {automations, errors}, sorted by alias. */
export function readAutomations(body, collator = new Intl.Collator(getLanguage())) {
  const automations = asList(body, 'automations').filter((a) => a && typeof a === 'object' && a.id !== undefined).map((a) => ({
    id: String(a.id),
    alias: text(a.alias) || String(a.id),
    description: text(a.description),
    entityId: entityIdOf(a),
    enabled: a.enabled !== false,
    mode: text(a.mode) || 'single',
    current: num(a.current) || 0,
    lastTriggered: a.last_triggered ?? null,
    lastError: text(a.last_error),
  }));
  automations.sort((a, b) => collator.compare(a.alias, b.alias) || collator.compare(a.id, b.id));
  const errors = asList(body && typeof body === 'object' ? body.errors : null).filter(Boolean).map(readFileError);
  return { automations, errors };
}

function readFileError(e) {
  if (typeof e === 'string') return { file: null, line: null, message: e };
  return { file: text(e.file), line: num(e.line), message: text(e.message) || '' };
}

/** "automations.yaml:12" (the line only when known), or null without a file. */
export function fileLocation(error) {
  if (!error.file) return null;
  return error.line === null ? error.file : `${error.file}:${error.line}`;
}

/** GET /api/automations/{id}/traces -> summaries, newest first. */
export function readTraceList(body) {
  const traces = asList(body, 'traces').filter((tr) => tr && typeof tr === 'object' && tr.run_id !== undefined).map((tr) => ({
    runId: String(tr.run_id),
    started: num(tr.started),
    finished: num(tr.finished),
    state: text(tr.state) || 'unknown',
    trigger: text(tr.trigger) || '',
    error: text(tr.error),
  }));
  return traces.map((tr, i) => [tr, i])
    .sort((a, b) => (b[0].started ?? 0) - (a[0].started ?? 0) || a[1] - b[1])
    .map(([tr]) => tr);
}

/** Badge colour for a run's end state. */
export function traceStateKind(state) {
  return STATE_KIND[state] || 'muted';
}

/** How deep a step sits: actions/0 -> 0, actions/2/choose/0 -> 1, actions/2/choose/0/sequence/1 -> 2. */
export function stepDepth(path) {
  const parts = String(path || '').split('/').filter(Boolean);
  return Math.max(0, Math.floor((parts.length - 1) / 2));
}

function pathOrder(a, b) {
  // Numeric segments compare as numbers so actions/10 comes after actions/9.
  const pa = String(a).split('/');
  const pb = String(b).split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i += 1) {
    if (pa[i] === pb[i]) continue;
    const na = Number(pa[i]);
    const nb = Number(pb[i]);
    if (Number.isInteger(na) && Number.isInteger(nb)) return na - nb;
    return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

/**
 * GET /api/automations/{id}/traces/{run_id} -> one trace whose steps are flat timeline rows:
 * in the order they started (path order for steps with the same start), each with its depth.
 */
export function readTrace(body) {
  const b = body && typeof body === 'object' ? body : {};
  const trigger = b.trigger && typeof b.trigger === 'object' ? b.trigger : { description: b.trigger };
  const variables = trigger.variables && typeof trigger.variables === 'object' ? trigger.variables : {};
  const conditions = asList(b.conditions).filter(Boolean).map((c) => ({
    path: String(c.path ?? ''),
    result: c.result === true,
    reason: text(c.reason),
  }));
  const steps = asList(b.steps).filter(Boolean).map((s, i) => ({
    index: i,
    path: String(s.path ?? ''),
    depth: stepDepth(s.path),
    action: text(s.action) || '',
    alias: text(s.alias),
    started: num(s.started),
    duration: num(s.duration),
    result: s.result === undefined ? null : s.result,
    error: text(s.error),
  }));
  steps.sort((x, y) => {
    if (x.started !== null && y.started !== null && x.started !== y.started) return x.started - y.started;
    return pathOrder(x.path, y.path) || x.index - y.index;
  });
  const started = num(b.started);
  const finished = num(b.finished);
  return {
    runId: String(b.run_id ?? ''),
    automationId: text(b.automation_id),
    contextId: text(b.context_id),
    started,
    finished,
    duration: started !== null && finished !== null ? Math.max(0, finished - started) : null,
    state: text(b.state) || 'unknown',
    error: text(b.error),
    trigger: { description: text(trigger.description) || '', variables },
    conditions,
    steps,
  };
}

/** A step's duration: "0.05 ms" or "120 ms" under a second, "2.5 s" under a minute, then "3 min 20 s"; "—" when unknown. */
export function formatStepDuration(seconds, lang = getLanguage()) {
  if (num(seconds) === null || seconds < 0) return '—';
  const unit = (n, u, digits = 0) => new Intl.NumberFormat(lang, { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: digits }).format(n);
  if (seconds < 0.001) return unit(seconds * 1000, 'millisecond', 2); // an event step takes microseconds: not "0 ms"
  if (seconds < 1) return unit(Math.round(seconds * 1000), 'millisecond');
  if (seconds < 60) return unit(seconds, 'second', seconds < 10 ? 2 : 1);
  return formatDuration(seconds);
}

/** A step result or trigger variable as short text: JSON for structures, cut at a few hundred characters. */
export function valueText(value, limit = RESULT_LIMIT) {
  if (value === null || value === undefined) return '';
  let out;
  if (typeof value === 'string') out = value;
  else if (typeof value === 'number') out = formatNumber(value, { maximumFractionDigits: 6 });
  else {
    try { out = JSON.stringify(value, null, 1); } catch { out = String(value); }
  }
  return out.length > limit ? `${out.slice(0, limit - 1)}…` : out;
}

/** After a refresh, which run to show: the one picked by hand if it still exists, else the newest. */
export function chooseRun(traces, pickedRunId) {
  if (pickedRunId && traces.some((tr) => tr.runId === pickedRunId)) return pickedRunId;
  return traces.length ? traces[0].runId : null;
}

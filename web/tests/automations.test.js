// Pure logic of the automation pages against literal answers of /api/automations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installDictionary, setLanguage } from '../static/i18n.js';
import {
  readAutomations, readTraceList, readTrace, traceStateKind, stepDepth, fileLocation, formatStepDuration,
  valueText, chooseRun, entityIdOf,
} from '../static/automations-model.js';

installDictionary('en', {});
installDictionary('es-MX', {});

const LIST = {
  automations: [
    {
      id: 'cistern_low', alias: 'Cistern low', description: 'Tell the family', entity_id: 'automation.cistern_low',
      enabled: true, mode: 'single', current: 1, last_triggered: '2026-01-15T11:58:00+00:00', last_error: null,
    },
    {
      id: 'door_night', alias: 'Door open at night', description: '', entity_id: 'automation.door_night',
      enabled: false, mode: 'queued', current: 0, last_triggered: null, last_error: "automation 'door_night' (automations.yaml:12): boom",
    },
  ],
  errors: [{ file: 'automations.yaml', line: 30, message: 'automation without id' }],
};

const TRACE = {
  run_id: 'r2', automation_id: 'cistern_low', context_id: 'ctx1', started: 1768478400.0, finished: 1768478402.5,
  state: 'error', error: 'service notify.resident failed',
  trigger: { description: 'numeric state of sensor.cistern_level', variables: { trigger: { platform: 'numeric_state', entity_id: 'sensor.cistern_level' } } },
  conditions: [{ path: 'conditions/0', result: true, reason: null }, { path: 'conditions/1', result: false, reason: 'sensor.x is unavailable' }],
  steps: [
    { path: 'actions/10', action: 'event', alias: null, started: 1768478402.4, duration: 0.001, result: null, error: null },
    { path: 'actions/2/choose/0/sequence/1', action: 'notify.resident', alias: 'Tell', started: 1768478402.0, duration: 0.5, result: null, error: 'service notify.resident failed' },
    { path: 'actions/2/choose/0/sequence/0', action: 'delay', alias: null, started: 1768478400.1, duration: 1.9, result: { remaining: 0 }, error: null },
    { path: 'actions/2', action: 'choose', alias: 'Which', started: 1768478400.1, duration: null, result: { choice: 0 }, error: null },
    { path: 'actions/9', action: 'event', alias: null, started: 1768478402.4, duration: 0.001, result: null, error: null },
  ],
};

test('readAutomations: sorted by alias, every field, file errors with file:line', async () => {
  await setLanguage('en', { remember: false });
  const { automations, errors } = readAutomations(LIST);
  assert.deepEqual(automations.map((a) => a.id), ['cistern_low', 'door_night']);
  const [low, door] = automations;
  assert.deepEqual([low.enabled, low.mode, low.current, low.entityId, low.description], [true, 'single', 1, 'automation.cistern_low', 'Tell the family']);
  assert.deepEqual([door.enabled, door.mode, door.lastTriggered, door.description], [false, 'queued', null, null]);
  assert.match(door.lastError, /automations\.yaml:12/);
  assert.deepEqual(errors, [{ file: 'automations.yaml', line: 30, message: 'automation without id' }]);
  assert.equal(fileLocation(errors[0]), 'automations.yaml:30');
  assert.equal(fileLocation({ file: 'automations.yaml', line: null }), 'automations.yaml');
  assert.equal(fileLocation({ file: null, line: 3 }), null);
});

test('readAutomations tolerates missing fields and empty answers', () => {
  const { automations, errors } = readAutomations({ automations: [{ id: 'x' }, { alias: 'no id' }] });
  assert.equal(automations.length, 1);
  assert.deepEqual([automations[0].alias, automations[0].entityId, automations[0].enabled, automations[0].current], ['x', 'automation.x', true, 0]);
  assert.deepEqual(errors, []);
  assert.deepEqual(readAutomations(null), { automations: [], errors: [] });
  assert.equal(entityIdOf({ id: 'a', entity_id: 'automation.b' }), 'automation.b');
});

test('trace summaries newest first', () => {
  const list = readTraceList({ traces: [
    { run_id: 'r1', started: 100, finished: 101, state: 'finished', trigger: 'event test', error: null },
    { run_id: 'r3', started: 300, finished: null, state: 'running', trigger: 'manual', error: null },
    { run_id: 'r2', started: 200, finished: 201, state: 'error', trigger: 'time 07:00', error: 'boom' },
  ] });
  assert.deepEqual(list.map((tr) => tr.runId), ['r3', 'r2', 'r1']);
  assert.deepEqual(list[1], { runId: 'r2', started: 200, finished: 201, state: 'error', trigger: 'time 07:00', error: 'boom' });
  assert.deepEqual(readTraceList({}), []);
});

test('run states map to badge colours', () => {
  assert.equal(traceStateKind('finished'), 'ok');
  assert.equal(traceStateKind('error'), 'bad');
  assert.equal(traceStateKind('running'), 'info');
  assert.equal(traceStateKind('restarted'), 'warn');
  assert.equal(traceStateKind('condition_failed'), 'muted');
  assert.equal(traceStateKind('something_new'), 'muted');
});

test('steps are flattened in start order, ties by path (numbers as numbers), with their depth', () => {
  const trace = readTrace(TRACE);
  assert.deepEqual(trace.steps.map((s) => s.path), [
    'actions/2', 'actions/2/choose/0/sequence/0', 'actions/2/choose/0/sequence/1', 'actions/9', 'actions/10',
  ]);
  assert.deepEqual(trace.steps.map((s) => s.depth), [0, 2, 2, 0, 0]);
  assert.equal(trace.steps[2].error, 'service notify.resident failed');
  assert.deepEqual(trace.steps[0].result, { choice: 0 });
  assert.equal(trace.steps[0].duration, null);
  assert.equal(trace.duration, 2.5);
  assert.deepEqual([trace.state, trace.error, trace.runId, trace.automationId], ['error', 'service notify.resident failed', 'r2', 'cistern_low']);
  assert.equal(trace.trigger.description, 'numeric state of sensor.cistern_level');
  assert.equal(trace.trigger.variables.trigger.platform, 'numeric_state');
  assert.deepEqual(trace.conditions, [
    { path: 'conditions/0', result: true, reason: null },
    { path: 'conditions/1', result: false, reason: 'sensor.x is unavailable' },
  ]);
});

test('a running trace has no duration; a bare answer reads as empty', () => {
  const running = readTrace({ ...TRACE, finished: null, state: 'running' });
  assert.equal(running.duration, null);
  const empty = readTrace({});
  assert.deepEqual([empty.steps, empty.conditions, empty.trigger.description, empty.state], [[], [], '', 'unknown']);
});

test('step depth from the path', () => {
  assert.equal(stepDepth('actions/0'), 0);
  assert.equal(stepDepth('actions/2/choose/0'), 1);
  assert.equal(stepDepth('actions/2/choose/0/sequence/1'), 2);
  assert.equal(stepDepth('actions/1/repeat/sequence/0'), 2);
  assert.equal(stepDepth(''), 0);
});

test('step durations: ms, seconds, then minutes; per language', async () => {
  await setLanguage('en', { remember: false });
  assert.equal(formatStepDuration(0.12), '120 ms');
  assert.equal(formatStepDuration(0.00005), '0.05 ms');
  assert.equal(formatStepDuration(2.5), '2.5 sec');
  assert.equal(formatStepDuration(200), '3m 20s');
  assert.equal(formatStepDuration(null), '—');
  assert.equal(formatStepDuration(-1), '—');
  await setLanguage('es-MX', { remember: false });
  assert.equal(formatStepDuration(2.5), '2.5 s');
  await setLanguage('en', { remember: false });
});

test('values: strings as they are, structures as JSON, long ones cut', async () => {
  await setLanguage('en', { remember: false });
  assert.equal(valueText('on'), 'on');
  assert.equal(valueText(1234.5), '1,234.5');
  assert.equal(valueText(null), '');
  assert.equal(valueText({ a: 1 }), '{\n "a": 1\n}');
  const long = valueText('x'.repeat(1000), 50);
  assert.equal(long.length, 50);
  assert.ok(long.endsWith('…'));
});

test('the run shown: the one picked by hand while it exists, else the newest', () => {
  const traces = [{ runId: 'r3' }, { runId: 'r2' }];
  assert.equal(chooseRun(traces, null), 'r3');
  assert.equal(chooseRun(traces, 'r2'), 'r2');
  assert.equal(chooseRun(traces, 'gone'), 'r3');
  assert.equal(chooseRun([], 'r2'), null);
});

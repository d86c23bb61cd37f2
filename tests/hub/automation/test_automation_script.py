"""Scripts on the manual clock: every action type, traces of each step, and the four run modes."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hub.automation.config import validate_actions
from hub.automation.script import MAX_REPEAT, Script
from hub.automation.template import TemplateEngine
from hub.automation.trace import Trace
from hub.bus import Context, Event
from hub.clock import ManualClock
from hub.config import NodeStr
from hub.errors import HubError
from hub.runtime import Hub
from hub.services import ServiceCall, SupportsResponse

HOUR = 3600.0


class Recorder:
    """Services test.record (keeps calls), test.fail (raises) and test.answer (returns data)."""

    def __init__(self, hub: Hub) -> None:
        self.calls: list[ServiceCall] = []
        hub.services.register("test", "record", self.calls.append)
        hub.services.register("test", "fail", self._fail)
        hub.services.register("test", "answer", self._answer, supports_response=SupportsResponse.OPTIONAL)

    @staticmethod
    def _fail(call: ServiceCall) -> None:
        raise HubError("pump is not answering")

    @staticmethod
    def _answer(call: ServiceCall) -> dict[str, Any]:
        return {"level": 42, "asked": call.data.get("question")}

    def data(self) -> list[dict[str, Any]]:
        return [dict(c.data) for c in self.calls]


@pytest.fixture
def recorder(hub: Hub) -> Recorder:
    return Recorder(hub)


def make(hub: Hub, actions: Any, **options: Any) -> tuple[Script, list[Trace]]:
    """A script of `actions` (either key generation) and the list its finished traces go to."""
    done: list[Trace] = []
    script = Script(hub, validate_actions(actions), engine=TemplateEngine(hub), name="test", on_done=done.append,
                    **options)  # fmt: skip
    return script, done


def new_trace(hub: Hub) -> Trace:
    return Trace.begin("test", hub.clock.time(), description="test", variables={}, context_id=None)


async def run(
    script: Script, hub: Hub, variables: dict[str, Any] | None = None, context: Context | None = None
) -> Trace:
    return await script.run(variables or {}, context=context or Context(), trace=new_trace(hub))


def start(script: Script, hub: Hub, variables: dict[str, Any] | None = None) -> Trace:
    trace = new_trace(hub)
    assert script.start(variables or {}, context=Context(), trace=trace) is not None
    return trace


def steps(trace: Trace) -> list[tuple[str, str]]:
    return [(s.path, s.action) for s in trace.steps]


# -- service calls and events ---------------------------------------------------------------------


async def test_service_call_renders_data_merges_target_and_passes_the_run_context(hub: Hub, recorder: Recorder) -> None:
    hub.states.set("sensor.cistern_level", "17")
    script, _ = make(hub, [{"service": "test.record",  # the older key
                            "data": {"message": "Cistern at {{ states('sensor.cistern_level') }} %",
                                     "level": "{{ states('sensor.cistern_level') | int + 1 }}"},
                            "target": {"entity_id": "switch.pump"}}])  # fmt: skip
    cause = Context()
    context = cause.child(origin="automation.test")
    trace = await run(script, hub, context=context)
    assert trace.state == "finished" and trace.error is None
    assert recorder.data() == [{"message": "Cistern at 17 %", "level": 18, "entity_id": "switch.pump"}]
    assert recorder.calls[0].context is context and recorder.calls[0].context.parent_id == cause.id
    step = trace.steps[0]
    assert (step.path, step.action, step.error) == ("actions/0", "test.record", None)
    assert step.result["params"]["data"]["level"] == 18


async def test_response_variable_feeds_the_next_action(hub: Hub, recorder: Recorder) -> None:
    script, _ = make(hub, [
        {"action": "test.answer", "data": {"question": "level?"}, "response_variable": "reply"},
        {"action": "test.record", "data": {"level": "{{ reply.level }}", "asked": "{{ reply.asked }}"}},
    ])  # fmt: skip
    trace = await run(script, hub)
    assert recorder.data() == [{"level": 42, "asked": "level?"}]
    assert trace.steps[0].result["response"] == {"level": 42, "asked": "level?"}


async def test_a_failing_service_fails_the_run_and_continue_on_error_goes_on(hub: Hub, recorder: Recorder) -> None:
    failing, _ = make(hub, [{"action": "test.fail"}, {"action": "test.record"}])
    trace = await run(failing, hub)
    assert trace.state == "error"
    assert "automation 'test'" in (trace.error or "") and "pump is not answering" in (trace.error or "")
    assert trace.steps[0].error and len(trace.steps) == 1 and recorder.calls == []

    tolerant, _ = make(hub, [{"action": "test.fail", "continue_on_error": True}, {"action": "test.record"}])
    trace = await run(tolerant, hub)
    assert trace.state == "finished"
    assert "pump is not answering" in (trace.steps[0].error or "") and trace.steps[1].error is None
    assert len(recorder.calls) == 1


async def test_an_unknown_service_is_an_error_of_the_step(hub: Hub) -> None:
    script, _ = make(hub, [{"action": "nothing.here"}])
    trace = await run(script, hub)
    assert trace.state == "error" and "nothing.here" in (trace.error or "")


async def test_event_action_fires_with_rendered_data_and_the_run_context(hub: Hub) -> None:
    seen: list[Event] = []
    hub.bus.listen("cistern_report", seen.append)
    script, _ = make(hub, [{"event": "cistern_report", "event_data": {"level": "{{ level }}", "unit": "%"}}])
    context = Context()
    trace = await run(script, hub, {"level": 12}, context)
    assert [(e.data, e.context) for e in seen] == [({"level": 12, "unit": "%"}, context)]
    assert trace.steps[0].result == {"event": "cistern_report", "event_data": {"level": 12, "unit": "%"}}


# -- waiting --------------------------------------------------------------------------------------


@pytest.mark.parametrize("delay", ["01:00:00", 3600, {"hours": 1}, "{{ 60 * 60 }}", {"minutes": "{{ 30 * 2 }}"}])
async def test_delay_waits_on_the_hub_clock(hub: Hub, clock: ManualClock, recorder: Recorder, delay: Any) -> None:
    script, done = make(hub, [{"delay": delay}, {"action": "test.record"}])
    trace = start(script, hub)
    await clock.advance(HOUR - 1)
    assert recorder.calls == [] and trace.state == "running" and script.current == 1
    await clock.advance(1)
    assert len(recorder.calls) == 1 and done == [trace] and trace.state == "finished"
    assert trace.steps[0].duration == HOUR and trace.steps[0].result == {"delay": HOUR, "done": True}


async def test_wait_for_trigger_sets_wait_and_remaining(hub: Hub, clock: ManualClock, recorder: Recorder) -> None:
    script, _ = make(hub, [
        {"wait_for_trigger": [{"platform": "event", "event_type": "door_closed"}], "timeout": {"hours": 2}},
        {"action": "test.record", "data": {"event": "{{ wait.trigger.event.event_type }}",
                                           "remaining": "{{ wait.remaining }}"}},
    ])  # fmt: skip
    trace = start(script, hub)
    await clock.advance(HOUR)
    assert recorder.calls == []
    hub.bus.fire("door_closed")
    await clock.advance(0)
    assert recorder.data() == [{"event": "door_closed", "remaining": HOUR}]
    assert trace.state == "finished" and trace.steps[0].result["timeout"] is False
    assert hub.bus.listener_count().get("door_closed") is None  # the wait's listener is gone


async def test_wait_for_trigger_timeout_continues_or_stops(hub: Hub, clock: ManualClock, recorder: Recorder) -> None:
    wait = {"wait_for_trigger": {"trigger": "event", "event_type": "never"}, "timeout": "05:00:00"}
    going, _ = make(hub, [wait, {"action": "test.record", "data": {"got": "{{ wait.trigger is none }}"}}])
    trace = start(going, hub)
    await clock.advance(5 * HOUR)
    assert recorder.data() == [{"got": True}] and trace.state == "finished"
    assert trace.steps[0].result == {"timeout": True, "remaining": 0.0}

    stopping, _ = make(hub, [{**wait, "continue_on_timeout": False}, {"action": "test.record"}])
    trace = start(stopping, hub)
    await clock.advance(5 * HOUR)
    assert len(recorder.calls) == 1 and trace.state == "stopped"
    assert hub.bus.listener_count().get("never") is None


async def test_wait_template_waits_for_a_state(hub: Hub, clock: ManualClock, recorder: Recorder) -> None:
    hub.states.set("binary_sensor.door", "on")
    script, _ = make(hub, [
        {"wait_template": "{{ is_state('binary_sensor.door', 'off') }}", "timeout": 600},
        {"action": "test.record", "data": {"done": "{{ wait.completed }}"}},
    ])  # fmt: skip
    trace = start(script, hub)
    await clock.advance(60)
    hub.states.set("sensor.other", "1")
    await clock.advance(0)
    assert recorder.calls == []
    hub.states.set("binary_sensor.door", "off")
    await clock.advance(0)
    assert recorder.data() == [{"done": True}] and trace.steps[0].result["remaining"] == 540.0

    timing_out, _ = make(hub, [{"wait_template": "{{ false }}", "timeout": 10, "continue_on_timeout": False}])
    trace = start(timing_out, hub)
    await clock.advance(10)
    assert trace.state == "stopped" and trace.steps[0].result["timeout"] is True


# -- branches and flow ----------------------------------------------------------------------------


async def test_choose_takes_the_first_matching_option_or_default(hub: Hub, recorder: Recorder) -> None:
    script, _ = make(hub, [{"choose": [
        {"conditions": [{"condition": "template", "value_template": "{{ level < 10 }}"}],
         "sequence": [{"action": "test.record", "data": {"branch": "empty"}}]},
        {"conditions": "{{ level < 30 }}",
         "sequence": [{"action": "test.record", "data": {"branch": "low"}}, {"event": "low"}]},
    ], "default": [{"action": "test.record", "data": {"branch": "fine"}}]}])  # fmt: skip
    low = await run(script, hub, {"level": 20})
    fine = await run(script, hub, {"level": 80})
    assert recorder.data() == [{"branch": "low"}, {"branch": "fine"}]
    assert low.steps[0].result == {"choice": 1} and fine.steps[0].result == {"choice": "default"}
    assert steps(low) == [("actions/0", "choose"), ("actions/0/choose/1/sequence/0", "test.record"),
                          ("actions/0/choose/1/sequence/1", "event")]  # fmt: skip
    assert [(c.path, c.result) for c in low.conditions] == [
        ("actions/0/choose/0/conditions/0", False), ("actions/0/choose/1/conditions/0", True)]
    assert steps(fine)[1] == ("actions/0/default/0", "test.record")


async def test_if_then_else(hub: Hub, recorder: Recorder) -> None:
    script, _ = make(hub, [{"if": [{"condition": "template", "value_template": "{{ open }}"}],
                            "then": [{"action": "test.record", "data": {"door": "open"}}],
                            "else": {"action": "test.record", "data": {"door": "closed"}}}])  # fmt: skip
    opened = await run(script, hub, {"open": True})
    closed = await run(script, hub, {"open": False})
    assert recorder.data() == [{"door": "open"}, {"door": "closed"}]
    assert opened.steps[0].result == {"choice": "then"} and closed.steps[1].path == "actions/0/else/0"


async def test_a_false_condition_stops_the_run_quietly(hub: Hub, recorder: Recorder) -> None:
    hub.states.set("binary_sensor.door", "off")
    script, _ = make(hub, [{"action": "test.record"},
                           {"condition": "state", "entity_id": "binary_sensor.door", "state": "on"},
                           {"action": "test.record"}])  # fmt: skip
    trace = await run(script, hub)
    assert len(recorder.calls) == 1 and trace.state == "condition_failed" and trace.error is None
    assert trace.steps[1].result["result"] is False and "'off'" in trace.steps[1].result["reason"]
    assert trace.conditions[0].path == "actions/1" and not trace.conditions[0].result


async def test_variables_are_set_in_order(hub: Hub, recorder: Recorder) -> None:
    script, _ = make(hub, [{"variables": {"litres": "{{ level * 50 }}", "text": "{{ litres }} L", "fixed": 3}},
                           {"action": "test.record", "data": {"text": "{{ text }}", "n": "{{ fixed + 1 }}"}}])
    trace = await run(script, hub, {"level": 4})
    assert recorder.data() == [{"text": "200 L", "n": 4}]
    assert trace.steps[0].result == {"litres": 200, "text": "200 L", "fixed": 3}


async def test_repeat_count_while_and_until(hub: Hub, clock: ManualClock, recorder: Recorder) -> None:
    counted, _ = make(hub, [{"repeat": {"count": "{{ 3 }}", "sequence": [
        {"action": "test.record", "data": {"i": "{{ repeat.index }}", "first": "{{ repeat.first }}",
                                           "last": "{{ repeat.last }}"}}]}}])  # fmt: skip
    trace = await run(counted, hub)
    assert recorder.data() == [{"i": 1, "first": True, "last": False}, {"i": 2, "first": False, "last": False},
                               {"i": 3, "first": False, "last": True}]  # fmt: skip
    assert trace.steps[0].result == {"iterations": 3}
    assert steps(trace)[1] == ("actions/0/repeat/sequence/0", "test.record")

    recorder.calls.clear()
    hub.states.set("counter.pumped", "0")
    whiled, _ = make(hub, [{"repeat": {"while": "{{ states('counter.pumped') | int < 2 }}", "sequence": [
        {"action": "test.record"}, {"delay": 60},
        {"event": "pumped"}]}}])  # fmt: skip

    def pumped(event: Event) -> None:
        count = hub.states.get("counter.pumped")
        hub.states.set("counter.pumped", str(int(count.state if count else 0) + 1))

    hub.bus.listen("pumped", pumped)
    trace = start(whiled, hub)
    await clock.advance(120)
    assert len(recorder.calls) == 2 and trace.state == "finished" and trace.steps[0].result == {"iterations": 2}

    recorder.calls.clear()
    until, _ = make(hub, [{"repeat": {"until": ["{{ repeat.index >= 4 }}"], "sequence": [{"action": "test.record"}]}}])
    await run(until, hub)
    assert len(recorder.calls) == 4


async def test_repeat_is_bounded(hub: Hub) -> None:
    endless, _ = make(hub, [{"repeat": {"while": "{{ true }}", "sequence": [{"variables": {"x": 1}}]}}])
    trace = await run(endless, hub)
    assert trace.state == "error" and f"{MAX_REPEAT}" in (trace.error or "")
    assert len(trace.steps) == 1000 and trace.as_dict()["steps"][-1]["action"] == "truncated"  # the trace is capped
    too_many, _ = make(hub, [{"repeat": {"count": MAX_REPEAT + 1, "sequence": [{"event": "x"}]}}])
    trace = await run(too_many, hub)
    assert trace.state == "error" and "over the limit" in (trace.error or "")


async def test_stop_and_stop_with_error(hub: Hub, recorder: Recorder) -> None:
    stopping, _ = make(hub, [{"stop": "nothing to do"}, {"action": "test.record"}])
    trace = await run(stopping, hub)
    assert trace.state == "stopped" and trace.error is None and recorder.calls == []
    assert trace.steps[0].result == {"stop": "nothing to do", "error": False, "response": None}
    failing, _ = make(hub, [{"variables": {"why": "tank empty"}}, {"stop": "{{ why }}", "error": True}])
    trace = await run(failing, hub)
    assert trace.state == "error" and trace.error == "tank empty"


async def test_disabled_actions_are_skipped_and_aliases_traced(hub: Hub, recorder: Recorder) -> None:
    script, _ = make(hub, [{"action": "test.record", "enabled": False, "data": {"n": 1}},
                           {"alias": "Tell the house", "action": "test.record", "data": {"n": 2}},
                           {"sequence": [{"event": "nested"}]}])  # fmt: skip
    trace = await run(script, hub)
    assert recorder.data() == [{"n": 2}]
    assert trace.steps[0].result == {"enabled": False} and trace.steps[1].alias == "Tell the house"
    assert steps(trace)[-1] == ("actions/2/sequence/0", "event")


async def test_a_template_failing_at_run_time_names_the_automation_and_line(hub: Hub, recorder: Recorder) -> None:
    message = NodeStr("{{ trigger.to_state.state }}", "automations.yaml", 12)
    script, _ = make(hub, [{"action": "test.record", "data": {"message": message}}])
    trace = await run(script, hub, {"trigger": {"platform": "event"}})
    assert trace.state == "error" and recorder.calls == []
    assert (trace.error or "").startswith("automation 'test' (automations.yaml:12): ")
    assert "to_state" in (trace.error or "")


# -- run modes ------------------------------------------------------------------------------------


def delayed(hub: Hub, mode: str, **options: Any) -> tuple[Script, list[Trace]]:
    return make(hub, [{"delay": "{{ wait_for }}"}, {"action": "test.record", "data": {"n": "{{ n }}"}}], mode=mode,
                **options)  # fmt: skip


async def test_single_mode_drops_and_warns(hub: Hub, clock: ManualClock, recorder: Recorder,
                                           caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    script, done = delayed(hub, "single")
    first = start(script, hub, {"wait_for": 60, "n": 1})
    with caplog.at_level(logging.WARNING, logger="hub.automation.script"):
        assert script.start({"wait_for": 1, "n": 2}, context=Context(), trace=new_trace(hub)) is None
    assert "already running" in caplog.text
    await clock.advance(60)
    assert recorder.data() == [{"n": 1}] and done == [first]

    quiet, _ = delayed(hub, "single", max_exceeded="silent")
    start(quiet, hub, {"wait_for": 60, "n": 3})
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="hub.automation.script"):
        assert quiet.start({"wait_for": 1, "n": 4}, context=Context(), trace=new_trace(hub)) is None
    assert caplog.records == []
    await clock.advance(60)


async def test_restart_mode_cancels_the_running_run(hub: Hub, clock: ManualClock, recorder: Recorder) -> None:
    script, done = delayed(hub, "restart")
    first = start(script, hub, {"wait_for": 60, "n": 1})
    await clock.advance(30)
    second = start(script, hub, {"wait_for": 60, "n": 2})
    await clock.advance(0)
    assert first.state == "restarted" and first.steps[0].error == "cancelled"
    await clock.advance(59)
    assert recorder.calls == []
    await clock.advance(1)
    assert recorder.data() == [{"n": 2}] and second.state == "finished" and done == [first, second]

    # Two triggers in the same instant: the first run is cancelled before it ever ran.
    never, last = start(script, hub, {"wait_for": 5, "n": 3}), start(script, hub, {"wait_for": 5, "n": 4})
    await clock.advance(5)
    assert never.state == "restarted" and never.steps == [] and last.state == "finished"
    assert recorder.data() == [{"n": 2}, {"n": 4}] and script.current == 0


async def test_queued_mode_keeps_order_and_max(hub: Hub, clock: ManualClock, recorder: Recorder) -> None:
    script, done = delayed(hub, "queued", max_runs=2)
    traces = [start(script, hub, {"wait_for": 10, "n": n}) for n in (1, 2, 3)]
    assert script.start({"wait_for": 10, "n": 4}, context=Context(), trace=new_trace(hub)) is None
    assert script.current == 3
    await clock.advance(10)
    assert recorder.data() == [{"n": 1}]
    await clock.advance(20)
    assert recorder.data() == [{"n": 1}, {"n": 2}, {"n": 3}] and done == traces and script.current == 0


async def test_parallel_mode_runs_at_most_max(hub: Hub, clock: ManualClock, recorder: Recorder) -> None:
    script, done = delayed(hub, "parallel", max_runs=2)
    start(script, hub, {"wait_for": 30, "n": 1})
    start(script, hub, {"wait_for": 10, "n": 2})
    assert script.start({"wait_for": 1, "n": 3}, context=Context(), trace=new_trace(hub)) is None
    await clock.advance(10)
    assert recorder.data() == [{"n": 2}]
    start(script, hub, {"wait_for": 5, "n": 4})  # room again
    await clock.advance(20)
    assert recorder.data() == [{"n": 2}, {"n": 4}, {"n": 1}] and len(done) == 3


async def test_stop_cancels_every_run(hub: Hub, clock: ManualClock) -> None:
    changes: list[int] = []
    script: Script
    script, done = make(hub, [{"delay": 100}], mode="parallel", on_change=lambda: changes.append(script.current))
    traces = [start(script, hub) for _ in range(3)]
    await script.stop()
    assert [t.state for t in traces] == ["cancelled"] * 3 and script.current == 0 and len(done) == 3
    assert changes[:3] == [1, 2, 3] and changes[-1] == 0


def test_unknown_actions_are_refused_by_validation() -> None:
    import voluptuous as vol

    with pytest.raises(vol.Invalid):
        validate_actions([{"fly": "away"}])
    with pytest.raises(vol.Invalid):
        validate_actions([{"repeat": {"count": 2, "while": "{{ true }}", "sequence": []}}])

